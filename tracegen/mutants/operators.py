"""AST mutation operators: small, plausible bugs in a correct program.

`mutation_sites(code)` lists every place one operator applies; `apply(code, site)` returns the mutant.
A mutant is made by replacing the source text of one single-line node (or one whole single-line
statement), so every other line keeps its text and its number: the original's and the mutant's traces
can then be compared line for line, and the diff a model sees is one bug, not a reformatted file.

Operators (the bugs people make):
  off_by_one      range(..., n) -> range(..., n + 1) / n - 1; an int constant c compared against -> c +/- 1
  comparison      <  <=  >  >=  ==  != swapped with their neighbour (< with <=, == with !=, ...)
  operator        + with -, * with //, // with *, % with //, and with or
  flip_condition  `if c` / `while c` / `x if c else y` -> `not (c)`
  drop_statement  a single-line assignment, augmented assignment or call statement -> `pass`
  initial_value   `x = c` for an int constant c -> c + 1 / c - 1; `x = []`-style empty -> one element
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

OPERATORS = ("off_by_one", "comparison", "operator", "flip_condition", "drop_statement", "initial_value")

_CMP_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq}
_BIN_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
             ast.Mod: ast.FloorDiv}
_SIMPLE = (ast.Name, ast.Constant, ast.Call, ast.Subscript, ast.Attribute)


@dataclass(frozen=True, slots=True)
class Site:
    operator: str
    lineno: int
    col: int  # UTF-8 byte offsets of the replaced text, as the ast gives them
    end_col: int
    replacement: str
    description: str  # "line 4: i < n -> i <= n"


def _parse(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _text(new: ast.AST, like: ast.AST) -> str:
    """Source of a node built here (unparse wants the locations a parsed node has)."""
    return ast.unparse(ast.fix_missing_locations(ast.copy_location(new, like)))


def _wrap(node: ast.AST, text: str) -> str:
    return text if isinstance(node, _SIMPLE) else f"({text})"


def _one_line(node: ast.AST) -> bool:
    return getattr(node, "lineno", None) is not None and node.lineno == node.end_lineno


def _site(op: str, node: ast.AST, replacement: str, before: str) -> Site:
    return Site(op, node.lineno, node.col_offset, node.end_col_offset, replacement,
                f"line {node.lineno}: {before} -> {replacement}")


def mutation_sites(code: str) -> list[Site]:
    """Every single mutation of `code`, in source order (empty for code that does not parse)."""
    tree = _parse(code)
    if tree is None:
        return []
    sites: list[Site] = []
    for node in ast.walk(tree):
        if not _one_line(node):
            continue
        text = ast.unparse(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
                and 1 <= len(node.args) <= 2 and not node.keywords:
            stop = node.args[-1]
            for delta in ("+ 1", "- 1"):
                args = [ast.unparse(a) for a in node.args[:-1]] + [f"{_wrap(stop, ast.unparse(stop))} {delta}"]
                sites.append(_site("off_by_one", node, f"range({', '.join(args)})", text))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            swap = _CMP_SWAP.get(type(node.ops[0]))
            if swap is not None:
                new = ast.Compare(node.left, [swap()], node.comparators)
                sites.append(_site("comparison", node, f"({_text(new, node)})", text))
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and type(right.value) is int:
                for delta in (1, -1):
                    new = ast.Compare(node.left, node.ops, [ast.Constant(right.value + delta)])
                    sites.append(_site("off_by_one", node, f"({_text(new, node)})", text))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAP:
            new = ast.BinOp(node.left, _BIN_SWAP[type(node.op)](), node.right)
            sites.append(_site("operator", node, f"({_text(new, node)})", text))
        elif isinstance(node, ast.BoolOp):
            new = ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)
            sites.append(_site("operator", node, f"({_text(new, node)})", text))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BIN_SWAP:
            new = ast.AugAssign(node.target, _BIN_SWAP[type(node.op)](), node.value)
            sites.append(_site("operator", node, _text(new, node), text))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr)) and not (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # docstrings stay
            sites.append(_site("drop_statement", node, "pass", text))
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
            for delta in (1, -1):
                new = ast.Assign(node.targets, ast.Constant(node.value.value + delta))
                sites.append(_site("initial_value", node, _text(new, node), text))
    for node in ast.walk(tree):  # conditions: the test expression only, the body keeps its lines
        if isinstance(node, (ast.If, ast.While, ast.IfExp)) and _one_line(node.test):
            test = node.test
            sites.append(_site("flip_condition", test, f"not ({ast.unparse(test)})", ast.unparse(test)))
    sites.sort(key=lambda s: (s.lineno, s.col, OPERATORS.index(s.operator), s.replacement))
    return sites


def apply(code: str, site: Site) -> str:
    """`code` with the site's text replaced (line numbers unchanged)."""
    lines = code.splitlines(keepends=True)
    raw = lines[site.lineno - 1].encode("utf-8")
    lines[site.lineno - 1] = (raw[:site.col] + site.replacement.encode("utf-8") + raw[site.end_col:]).decode("utf-8")
    return "".join(lines)


def compiles(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<mutant>", "exec")
        return True
    except (SyntaxError, ValueError):
        return False
