"""Evaluating an expression a narration states ("`nums.count(3)` is `2`") against program state.

The expression comes from a model's text, so it is untrusted: it is never handed to `eval`. A small
interpreter walks its AST and allows only what cannot have effects outside the values it is given:
literals, names looked up in the state, subscripts and slices, arithmetic, comparisons, boolean
operators, conditional expressions, a fixed set of builtins and the methods of built-in value
types. The state's values are rebuilt from the trace's reprs and deep-copied per evaluation, so a
mutating method (`nums.pop()`) changes a copy only. Sizes are bounded before an operation could
allocate much (`'a' * 10**9`, `range(10**12)`, `2 ** 10**9`), which keeps every evaluation short
without a timer or a subprocess: no program code runs here.

>>> evaluate("nums.count(3) + len(s[1:])", {"nums": [3, 1, 3], "s": "abc"})
4
>>> evaluate("__import__('os')", {}) is CANNOT
True
"""

from __future__ import annotations

import ast
import copy
import math
import operator
from functools import lru_cache
from typing import Any


class _Cannot(Exception):
    pass


CANNOT = type("Cannot", (), {"__repr__": lambda self: "CANNOT"})()  # no value: unsupported or unknown
MAX_SIZE = 100_000

_BUILTINS = {
    "len": len, "max": max, "min": min, "sum": sum, "sorted": sorted, "abs": abs, "str": str, "int": int,
    "float": float, "bool": bool, "list": list, "tuple": tuple, "set": set, "dict": dict, "frozenset": frozenset,
    "any": any, "all": all, "round": round, "ord": ord, "chr": chr, "repr": repr, "divmod": divmod,
    "reversed": lambda x: list(reversed(x)), "enumerate": lambda *a: list(enumerate(*a)),
    "zip": lambda *a: list(zip(*a)), "range": lambda *a: _range(*a), "hex": hex, "bin": bin, "oct": oct,
    "isinstance": isinstance, "type": type, "map": lambda f, *a: list(map(f, *a)),
    "filter": lambda f, a: list(filter(f, a)),
}
_TYPES = {t.__name__: t for t in (int, str, float, bool, list, tuple, dict, set, frozenset, bytes)}
_CONSTS = {"True": True, "False": False, "None": None, "inf": math.inf, "nan": math.nan}
_VALUE_TYPES = (str, bytes, list, tuple, dict, set, frozenset, int, float, bool, type(None), complex)
_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    # values are rebuilt copies, so identity is only meaningful against None / True / False
    ast.Is: lambda a, b: a is b if _singleton(a) or _singleton(b) else a == b,
    ast.IsNot: lambda a, b: a is not b if _singleton(a) or _singleton(b) else a != b,
}


def _singleton(x: Any) -> bool:
    return x is None or x is True or x is False


def _range(*a: Any) -> range:
    r = range(*a)
    if len(r) > MAX_SIZE:
        raise _Cannot
    return r


@lru_cache(maxsize=2048)
def parse_expression(src: str) -> ast.expr | None:
    """The expression's AST, or None when `src` is not one expression."""
    try:
        return ast.parse(src.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


MUTATORS = frozenset("append extend insert remove pop popitem clear sort reverse update add discard setdefault".split())


def effect_source(node: ast.expr) -> str | None:
    """For a mutating method call (`nums.remove(3)`), an expression whose value is the receiver
    after the call; None for anything else."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
        call, recv = ast.unparse(node), ast.unparse(node.func.value)
        return f"({call}, {recv})[1]"
    return None


def names_in(node: ast.AST) -> set[str]:
    """State names an expression reads (builtins and constants excluded)."""
    bound = {t.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
             for t in ast.walk(c.target) if isinstance(t, ast.Name)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and n.id not in _BUILTINS and n.id not in _CONSTS and n.id not in bound}


def evaluate(src: str, state: dict[str, Any]) -> Any:
    """The value of `src` with names from `state`, or CANNOT."""
    node = parse_expression(src)
    if node is None:
        return CANNOT
    needed = names_in(node)
    if not needed <= state.keys():
        return CANNOT
    # a program's own variable may shadow a builtin (`dict`, `list`, `max`): the variable wins
    needed |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in state}
    env = {k: copy.deepcopy(state[k]) for k in needed}
    try:
        return _Eval(env).run(node)
    except (_Cannot, ArithmeticError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            RecursionError, MemoryError, OverflowError):
        return CANNOT


class _Eval:
    def __init__(self, env: dict[str, Any]):
        self.env = env
        self.scopes: list[dict[str, Any]] = []

    def run(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise _Cannot
        value = method(node)
        if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) and len(value) > MAX_SIZE:
            raise _Cannot
        return value

    def _Constant(self, n: ast.Constant) -> Any:
        return n.value

    def _Name(self, n: ast.Name) -> Any:
        for scope in reversed(self.scopes):
            if n.id in scope:
                return scope[n.id]
        if n.id in self.env:
            return self.env[n.id]
        if n.id in _CONSTS:
            return _CONSTS[n.id]
        if n.id in _TYPES:  # `isinstance(x, int)`, `map(str, xs)`
            return _TYPES[n.id]
        raise _Cannot

    def _List(self, n: ast.List) -> list:
        return [self.run(e) for e in n.elts]

    def _Tuple(self, n: ast.Tuple) -> tuple:
        return tuple(self.run(e) for e in n.elts)

    def _Set(self, n: ast.Set) -> set:
        return {self.run(e) for e in n.elts}

    def _Dict(self, n: ast.Dict) -> dict:
        if any(k is None for k in n.keys):
            raise _Cannot
        return {self.run(k): self.run(v) for k, v in zip(n.keys, n.values)}

    def _UnaryOp(self, n: ast.UnaryOp) -> Any:
        v = self.run(n.operand)
        ops = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert}
        return ops[type(n.op)](v)

    def _BinOp(self, n: ast.BinOp) -> Any:
        a, b = self.run(n.left), self.run(n.right)
        op = type(n.op)
        if op not in _BINOPS:
            raise _Cannot
        if op is ast.Mult:
            for seq, k in ((a, b), (b, a)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(k, int) and len(seq) * k > MAX_SIZE:
                    raise _Cannot
        if op is ast.Pow and isinstance(b, int) and abs(b) > 256 and not (isinstance(a, (int, float)) and abs(a) <= 1):
            raise _Cannot
        if op is ast.LShift and isinstance(b, int) and b > 256:
            raise _Cannot
        return _BINOPS[op](a, b)

    def _BoolOp(self, n: ast.BoolOp) -> Any:
        v: Any = None
        for e in n.values:
            v = self.run(e)
            if isinstance(n.op, ast.And) and not v:
                return v
            if isinstance(n.op, ast.Or) and v:
                return v
        return v

    def _Compare(self, n: ast.Compare) -> bool:
        left = self.run(n.left)
        for op, right_node in zip(n.ops, n.comparators):
            right = self.run(right_node)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, n: ast.IfExp) -> Any:
        return self.run(n.body) if self.run(n.test) else self.run(n.orelse)

    def _Subscript(self, n: ast.Subscript) -> Any:
        return self.run(n.value)[self.run(n.slice)]

    def _Slice(self, n: ast.Slice) -> slice:
        part = [None if x is None else self.run(x) for x in (n.lower, n.upper, n.step)]
        return slice(*part)

    def _JoinedStr(self, n: ast.JoinedStr) -> str:
        out = []
        for v in n.values:
            if isinstance(v, ast.Constant):
                out.append(str(v.value))
            elif isinstance(v, ast.FormattedValue):
                x = self.run(v.value)
                x = {115: str, 114: repr, 97: ascii}.get(v.conversion, lambda y: y)(x)
                spec = self.run(v.format_spec) if v.format_spec is not None else ""
                out.append(format(x, spec))
        return "".join(out)

    def _Call(self, n: ast.Call) -> Any:
        if any(isinstance(a, ast.Starred) for a in n.args) or any(k.arg is None for k in n.keywords):
            raise _Cannot
        if isinstance(n.func, ast.Name):
            fn = _BUILTINS.get(n.func.id)
            if fn is None or any(n.func.id in s for s in self.scopes) or n.func.id in self.env:
                raise _Cannot
        elif isinstance(n.func, ast.Attribute):
            obj = self.run(n.func.value)
            if not isinstance(obj, _VALUE_TYPES) or n.func.attr.startswith("_"):
                raise _Cannot
            fn = getattr(obj, n.func.attr)
        else:
            raise _Cannot
        args = [self.run(a) for a in n.args]
        kwargs = {k.arg: self.run(k.value) for k in n.keywords}
        if getattr(fn, "__name__", "") in ("zfill", "center", "ljust", "rjust", "expandtabs") and args \
                and isinstance(args[0], int) and args[0] > MAX_SIZE:
            raise _Cannot
        return fn(*args, **kwargs)

    def _Attribute(self, n: ast.Attribute) -> Any:
        obj = self.run(n.value)
        if n.attr in ("real", "imag") and isinstance(obj, (int, float, complex)):
            return getattr(obj, n.attr)
        raise _Cannot

    def _comprehension(self, n: Any, make: Any) -> Any:
        out: list = []
        scope: dict[str, Any] = {}
        self.scopes.append(scope)
        try:
            self._gen(n.generators, 0, scope, lambda: out.append(make()))
        finally:
            self.scopes.pop()
        return out

    def _gen(self, gens: list, i: int, scope: dict, emit: Any) -> None:
        if i == len(gens):
            emit()
            return
        g = gens[i]
        if g.is_async or not isinstance(g.target, (ast.Name, ast.Tuple)):
            raise _Cannot
        for item in self.run(g.iter):
            self._bind(g.target, item, scope)
            if all(self.run(c) for c in g.ifs):
                self._gen(gens, i + 1, scope, emit)

    def _bind(self, target: ast.AST, item: Any, scope: dict) -> None:
        if isinstance(target, ast.Name):
            scope[target.id] = item
            return
        items = list(item)
        if not isinstance(target, ast.Tuple) or len(items) != len(target.elts):
            raise _Cannot
        for t, v in zip(target.elts, items):
            self._bind(t, v, scope)

    def _ListComp(self, n: ast.ListComp) -> list:
        return self._comprehension(n, lambda: self.run(n.elt))

    def _GeneratorExp(self, n: ast.GeneratorExp) -> list:
        return self._comprehension(n, lambda: self.run(n.elt))

    def _SetComp(self, n: ast.SetComp) -> set:
        return set(self._comprehension(n, lambda: self.run(n.elt)))

    def _DictComp(self, n: ast.DictComp) -> dict:
        return dict(self._comprehension(n, lambda: (self.run(n.key), self.run(n.value))))
