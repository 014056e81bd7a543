"""Element-level changes: `dp[3][4]` becomes `7`, rather than the whole table again.

The tracer hands us the element stores lineinfo found on a line (lineinfo.ElementStore) when that
line's event fires, before it runs (`before`), and again at the frame's next event, after it ran
(`after`). Keys are evaluated by a tiny interpreter that touches only ints, strings, bools, tuples
of those and builtin lists/tuples/dicts, so no user code (a `__hash__`, `__index__`, `__getitem__`)
ever runs because we looked. What it cannot evaluate is left to the whole-value change.

An element change is the tuple (path, text, elided, base, old): `path` names the element with its
concrete keys (`dp[3][4]`, `d['x']`), `base` the variable, `old` the element's rendering before the
line (None when it did not exist). Another name of the frame bound to the same container (`b = a`)
gets the same change under its own name.
"""

from __future__ import annotations

from .render import render

_NOPE = object()
_BIG = 1 << 200  # ints beyond this are rendered (and cut) by render()
_ATOMS = (int, str, bool)
_CONTAINERS = (list, tuple, dict)
MAX_GROWTH = 16  # elements appended (or popped) by one line that are told one by one
DELETED = "<deleted>"


def eval_key(k: tuple, loc: dict, glb: dict):
    """Value of a lineinfo key expression, or _NOPE where it is not a plain pure value."""
    tag = k[0]
    if tag == "name":
        v = loc.get(k[1], _NOPE)
        if v is _NOPE:
            v = glb.get(k[1], _NOPE)
        return v
    if tag == "const":
        return k[1]
    if tag == "bin":
        a, b = eval_key(k[2], loc, glb), eval_key(k[3], loc, glb)
        ta, tb = type(a), type(b)
        if ta not in _ATOMS or tb not in _ATOMS:
            return _NOPE
        try:
            op = k[1]
            if op == "+":
                return a + b
            if ta is str or tb is str:
                return _NOPE
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "//":
                return a // b
            return a % b
        except (TypeError, ZeroDivisionError):
            return _NOPE
    if tag == "neg":
        a = eval_key(k[1], loc, glb)
        return -a if type(a) is int or type(a) is bool else _NOPE
    if tag == "tuple":
        parts = tuple(eval_key(p, loc, glb) for p in k[1])
        return parts if all(type(p) in _ATOMS for p in parts) else _NOPE
    if tag == "sub":
        return _item(eval_key(k[1], loc, glb), eval_key(k[2], loc, glb))
    return _NOPE


def _item(container, key):
    t = type(container)
    if t not in _CONTAINERS or not _plain_key(key):
        return _NOPE
    try:
        return container[key]
    except (IndexError, KeyError, TypeError):
        return _NOPE


def _plain_key(key) -> bool:
    t = type(key)
    return t in _ATOMS or (t is tuple and all(type(x) in _ATOMS for x in key))


def _walk(cont, keys: list):
    for key in keys:
        cont = _item(cont, key)
        if cont is _NOPE:
            return _NOPE
    return cont


def _normal(cont, keys: list) -> list:
    """Negative list indices as the element they name (`a[-1]` of 5 elements is `a[4]`)."""
    out = []
    for key in keys:
        if type(key) is int and key < 0 and type(cont) in (list, tuple):
            key += len(cont)
        out.append(key)
        cont = _item(cont, key)
    return out


def _keys(store, loc, glb):
    keys = [eval_key(k, loc, glb) for k in store.keys]
    return None if any(k is _NOPE or not _plain_key(k) for k in keys) else keys


def _path(base: str, keys) -> str:
    return base + "".join(f"[{k!r}]" for k in keys)


def _lookup(name: str, loc: dict, glb: dict):
    v = loc.get(name, _NOPE)
    return glb.get(name, _NOPE) if v is _NOPE else v


def before(stores, loc: dict, glb: dict, budget: int) -> list:
    """What `after` needs, taken before the line runs: the container, its keys, the old text."""
    pend = []
    for st in stores:
        cont = _lookup(st.base, loc, glb)
        t = type(cont)
        if t is not list and t is not dict:
            continue
        if st.one_name is not None and not st.late:  # `dp[i] = ...`: the hot case of DP loops
            key = _lookup(st.one_name, loc, glb)
            tk = type(key)
            if tk is int or tk is str:
                try:
                    v = cont[key]
                except (IndexError, KeyError, TypeError):
                    pend.append((st, cont, [key], None))
                    continue
                pend.append((st, cont, [key], repr(v) if type(v) is int and -_BIG < v < _BIG
                                                else render(v, budget)[0]))
                continue
        if st.op == "grow" or st.op == "shrink":
            if t is list:
                last = render(cont[-1], budget)[0] if cont and st.op == "shrink" else None
                pend.append((st, cont, len(cont), last))
            continue
        keys = None if st.late else _keys(st, loc, glb)
        old = None
        if keys is not None:
            v = _walk(cont, keys)
            old = None if v is _NOPE else render(v, budget)[0]
        pend.append((st, cont, keys, old))
    return pend


def stored_into(pend: list) -> list | None:
    """The containers the line's element stores wrote into (`g[1][0] = 5`: the row `g[1]`), or
    None when one of them is not known."""
    out = []
    for st, cont, keys, _old in pend:
        if keys is None or st.op != "set":
            return None
        if len(keys) > 1:
            cont = _walk(cont, keys[:-1])
            if cont is _NOPE:
                return None
        out.append(cont)
    return out


def after(pend: list, loc: dict, glb: dict, budget: int, snap: dict, conts) -> list:
    """The element changes of the line `before` saw, as (path, text, elided, base, old) tuples."""
    out: list[tuple] = []
    for st, cont, keys, old in pend:
        if _lookup(st.base, loc, glb) is not cont:
            continue  # the name was rebound: its whole-value change tells it
        if st.op == "grow" or st.op == "shrink":
            n0, n1 = keys, len(cont)
            if st.op == "grow" and n0 < n1 <= n0 + MAX_GROWTH:
                for i in range(n0, n1):
                    text, elided = render(cont[i], budget)
                    _emit(out, st.base, cont, [i], text, elided, None, snap, conts)
            elif st.op == "shrink" and n1 < n0 <= n1 + MAX_GROWTH:
                for i in range(n1, n0):
                    _emit(out, st.base, cont, [i], DELETED, False, old if i == n0 - 1 else None, snap, conts)
            continue
        if keys is None:
            keys = _keys(st, loc, glb)
            if keys is None:
                continue
        elif st.one_name is not None:
            key = keys[0]
            try:
                v = cont[key]
            except (IndexError, KeyError, TypeError):
                continue
            text, elided = (repr(v), False) if type(v) is int and -_BIG < v < _BIG else render(v, budget)
            if text != old:
                if type(key) is int and key < 0 and type(cont) is list:
                    key += len(cont)
                _emit(out, st.base, cont, (key,), text, elided, old, snap, conts)
            continue
        v = _walk(cont, keys)
        if st.op == "del":
            parent = _walk(cont, keys[:-1])
            if v is _NOPE and old is not None and type(parent) is dict:
                _emit(out, st.base, cont, keys, DELETED, False, old, snap, conts)
            continue
        if v is _NOPE:
            continue
        text, elided = render(v, budget)
        if text != old:
            _emit(out, st.base, cont, _normal(cont, keys), text, elided, old, snap, conts)
    return out


def _emit(out: list, base: str, cont, keys, text: str, elided: bool, old, snap: dict, conts) -> None:
    out.append((_path(base, keys), text, elided, base, old))
    if len(conts) > 1:
        for other in conts:  # the same container under another name of this frame
            if other != base:
                s = snap.get(other)
                if s is not None and s[0] is cont:
                    out.append((_path(other, keys), text, elided, other, old))
