"""What the narrators need to know about the program's source, read once from its AST.

Loop spans let the folder cut a frame's events into iterations; statement kinds and branch
bodies let the template narrator say *why* a line ran without a variable change ("the test is
false, so the branch is skipped") while staying grounded: the branch taken is read off the next
line that really ran, never guessed from the condition.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})


@dataclass(slots=True)
class Stmt:
    kind: str  # for | while | if | return | break | continue | pass | def | class | import | expr | other
    text: str = ""  # the statement's source when it is one short line, else ""
    cond: str = ""  # if / while: the test's source when short
    target: str = ""  # for: the loop target's source when short
    body: tuple[int, int] = (0, 0)  # for / while / if: first and last line of the body


@dataclass(slots=True)
class CodeFacts:
    loops: dict[int, int] = field(default_factory=dict)  # loop header line -> last line of the loop
    stmts: dict[int, Stmt] = field(default_factory=dict)  # first line of a statement -> what it is
    generators: frozenset[str] = frozenset()  # names of generator functions
    lines: list[str] = field(default_factory=list)


_KINDS = {
    ast.For: "for", ast.AsyncFor: "for", ast.While: "while", ast.If: "if", ast.Return: "return",
    ast.Break: "break", ast.Continue: "continue", ast.Pass: "pass", ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "def", ast.ClassDef: "class", ast.Import: "import", ast.ImportFrom: "import",
    ast.Expr: "expr",
}


def code_facts(code: str) -> CodeFacts:
    """
    >>> f = code_facts("for i in range(3):\\n    x = i\\nprint(x)\\n")
    >>> f.loops, f.stmts[1].kind, f.stmts[1].target, f.stmts[1].body
    ({1: 2}, 'for', 'i', (2, 2))
    """
    facts = CodeFacts(lines=code.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return facts  # the program ran, so this is rare (e.g. source that only compiles with flags)
    gens = set()
    # ast.walk is breadth first: the outermost statement that starts on a line is seen first
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_generator(node):
            gens.add(node.name)
        if not isinstance(node, ast.stmt):
            continue
        kind = _KINDS.get(type(node), "other")
        st = Stmt(kind, text=_short(facts.lines, node))
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            facts.loops[node.lineno] = node.end_lineno or node.lineno
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.If)):
            st.body = (node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno)
            if isinstance(node, (ast.While, ast.If)):
                st.cond = _short(facts.lines, node.test)
            else:
                st.target = _short(facts.lines, node.target)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            st.text = node.name
            line = min([d.lineno for d in node.decorator_list] + [node.lineno])
            facts.stmts.setdefault(line, st)
            continue
        facts.stmts.setdefault(node.lineno, st)
    facts.generators = frozenset(gens)
    return facts


def _is_generator(fn: ast.AST) -> bool:
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue  # a yield in a nested function belongs to that function
        stack.extend(ast.iter_child_nodes(node))
    return False


def _short(lines: list[str], node: ast.AST, limit: int = 80) -> str:
    """The node's source when it sits on one line and is short (ast offsets count UTF-8 bytes)."""
    line_no = getattr(node, "lineno", None)
    if line_no is None or line_no != getattr(node, "end_lineno", None) or line_no > len(lines):
        return ""
    raw = lines[line_no - 1].encode("utf-8")[node.col_offset:node.end_col_offset]  # type: ignore[attr-defined]
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= limit else ""
