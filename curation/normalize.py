"""Code normalisation shared by deduplication and decontamination.

Two programs that differ only in the names of their own variables, functions and arguments, in
docstrings, comments, type annotations or layout normalise to the same AST dump and the same
token sequence. Names the program does not bind itself (builtins, imported names, attributes)
are kept: `len(xs)` and `max(xs)` stay different.

Code that does not parse (Python 2 solutions, fragments) falls back to its whitespace-collapsed
text and plain word/punctuation tokens, so every program still gets a key.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SPACE = re.compile(r"\s+")


class _Binder(ast.NodeVisitor):
    """Collects the names a program binds itself, in first-binding order (deterministic)."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}
        self.imported: set[str] = set()

    def _bind(self, name: str | None) -> None:
        if name and name not in self.names:
            self.names[name] = None

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._bind(node.arg)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        for n in node.names:
            self._bind(n)

    visit_Nonlocal = visit_Global  # type: ignore[assignment]

    def visit_alias(self, node: ast.alias) -> None:
        # `import numpy as np`: library names, kept as they are
        self.imported.add((node.asname or node.name).split(".")[0])


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.m = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.m.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.m.get(node.arg, node.arg)
        node.annotation = None
        node.type_comment = None
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.keyword:
        if node.arg:
            node.arg = self.m.get(node.arg, node.arg)
        self.generic_visit(node)
        return node

    def _def(self, node):
        node.name = self.m.get(node.name, node.name)
        if hasattr(node, "returns"):
            node.returns = None
        node.body = _drop_docstring(node.body)
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _def

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        if node.name:
            node.name = self.m.get(node.name, node.name)
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global) -> ast.Global:
        node.names = [self.m.get(n, n) for n in node.names]
        return node

    visit_Nonlocal = visit_Global  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign):
        self.generic_visit(node)
        if node.value is None:
            return None  # a bare annotation binds nothing
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


def _drop_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:] or [ast.Pass()]
    return body


@lru_cache(maxsize=4096)
def canonical_tree(code: str) -> ast.Module | None:
    """The program's AST with docstrings and annotations dropped and its own names renamed to
    v0, v1, ... in binding order; None when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    binder = _Binder()
    binder.visit(tree)
    own = [n for n in binder.names if n not in binder.imported]
    mapping = {name: f"v{i}" for i, name in enumerate(own)}
    tree.body = _drop_docstring(tree.body)
    try:
        tree = _Renamer(mapping).visit(tree)
        ast.fix_missing_locations(tree)
    except RecursionError:
        return None
    return tree


def canonical_dump(code: str) -> str:
    """A string equal for programs that differ only in own names, docstrings, comments, layout.

    >>> canonical_dump("def f(a):\\n    '''doc'''\\n    return a + 1") == canonical_dump("def g(x): return x+1")
    True
    >>> canonical_dump("def f(a): return len(a)") == canonical_dump("def f(a): return max(a)")
    False
    """
    tree = canonical_tree(code)
    if tree is None:
        return "unparsed:" + _SPACE.sub(" ", code).strip()
    try:
        return ast.dump(tree, annotate_fields=False, include_attributes=False)
    except RecursionError:
        return "unparsed:" + _SPACE.sub(" ", code).strip()


def canonical_tokens(code: str) -> list[str]:
    """Tokens of the normalised program (unparsed from its canonical AST, so layout is gone).

    >>> canonical_tokens("def f(xs):\\n    return sorted(xs)")
    ['def', 'v0', '(', 'v1', ')', ':', 'return', 'sorted', '(', 'v1', ')']
    """
    tree = canonical_tree(code)
    text = code
    if tree is not None:
        try:
            text = ast.unparse(tree)
        except (RecursionError, ValueError):
            text = code
    return _TOKEN.findall(text)


def code_key(code: str) -> str:
    """A short hash of the canonical dump: equal for renamed/reformatted copies of a program."""
    return hashlib.sha256(canonical_dump(code).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def dedup_key(code: str, test_input: str | None) -> str:
    """Exact-duplicate key of a (program, input) pair: the canonical code plus the input, with
    line ends and surrounding whitespace of the input normalised."""
    norm_input = (test_input or "").replace("\r\n", "\n").strip()
    payload = code_key(code) + "\0" + norm_input
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def ngrams(tokens: list[str], n: int) -> set[int]:
    """Hashes of the token n-grams; a sequence shorter than n is one gram of its own."""
    if not tokens:
        return set()
    if len(tokens) <= n:
        return {_h(" ".join(tokens))}
    return {_h(" ".join(tokens[i:i + n])) for i in range(len(tokens) - n + 1)}


def _h(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")
