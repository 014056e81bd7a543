"""Static facts about the lines of a program, used by the tracer to skip work safely.

The tracer re-renders containers only after a line that *could* have changed one in place. A line
can do that if it stores into a subscript or attribute, deletes one, augments a name (`a += [1]`
mutates a list that may be aliased), or calls something that is not known to be pure. Calls into
the user's own functions are traced on their own, but we cannot tell them apart from library calls
(`heappush(h, x)`) by name, so every unknown call counts. Being conservative here costs time, never
correctness.
"""

from __future__ import annotations

import ast
import dis
import re  # at import time: the sandbox worker loads it once, not every forked child

# Builtins that never mutate their arguments (they may call user __str__/__iter__ code, which is traced).
PURE_CALLS = frozenset(
    "abs all any ascii bin bool chr divmod enumerate float format frozenset hash hex int isinstance "
    "issubclass iter len list map max min oct ord pow print range repr reversed round set sorted str "
    "sum tuple zip dict filter input bytes complex type id callable getattr hasattr".split()
)
# Method names that do not mutate the builtin types they are usually called on.
PURE_METHODS = frozenset(
    "split rsplit strip lstrip rstrip join count index find rfind startswith endswith upper lower "
    "replace format isdigit isalpha isalnum isspace isupper islower title capitalize swapcase "
    "get keys values items copy encode decode readline readlines read splitlines zfill center ljust "
    "rjust partition rpartition issubset issuperset union intersection difference symmetric_difference "
    "isdisjoint bit_length conjugate casefold expandtabs maketrans translate most_common".split()
)


# Calls that never write to stdout themselves (print and input do; user code they call is traced).
QUIET_CALLS = PURE_CALLS - {"print", "input"}


def analyse(source: str) -> tuple[frozenset[int], dict[str, frozenset[str]], frozenset[int], dict, frozenset[int],
                                  dict[int, tuple[str, ...]]]:
    """(mutating line numbers, names declared `global` per function, lines that may write to
    stdout, element stores per line, plain element-store lines, counter lines), from one parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset(), {}, frozenset(), {}, frozenset(), {}
    # (each walk costs ~0.1 ms, a fifth of what the sandbox's worker spends on a short program:
    # the two that need a keyword the source lacks are skipped)
    return (mutating_lines(tree), global_writes(tree) if "global" in source else {}, output_lines(tree),
            element_stores(tree), pure_store_lines(tree),
            counter_lines(tree) if _AUGMENTED.search(source) else {})


_AUGMENTED = re.compile(r"[-+*/%@&|^]=|<<=|>>=")  # an augmented assignment needs one of these


def output_lines(tree: ast.AST) -> frozenset[int]:
    """Lines that may write to stdout: any call but the quiet builtins and pure methods (the tracer
    reads new output back only after these; output from user code it calls is seen in its frames).

    >>> sorted(output_lines(ast.parse("x = len([1])\\nprint(x)\\nw(x)\\n")))
    [2, 3]
    """
    lines: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name) and f.id in QUIET_CALLS:
                continue
            if isinstance(f, ast.Attribute) and f.attr in PURE_METHODS:
                continue
            lines.update(range(n.lineno, (n.end_lineno or n.lineno) + 1))
    return frozenset(lines)


def mutating_lines(tree: ast.AST) -> frozenset[int]:
    """Line numbers on which an in-place mutation may happen.

    >>> sorted(mutating_lines(ast.parse("a = [1]\\nb = a\\nb.append(2)\\nx = len(b)\\n")))
    [3]
    """
    lines: set[int] = set()
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt):
            continue
        for node in _header_nodes(stmt):
            if _mutates(node):
                lines.update(range(stmt.lineno, (_header_end(stmt) or stmt.lineno) + 1))
                break
    return frozenset(lines)


def _header_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The parts of a statement that run on its own line(s), not its nested body."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, (ast.While, ast.If)):
        return [stmt.test]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return list(stmt.items)
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return list(stmt.decorator_list) + ([stmt.args] if hasattr(stmt, "args") else list(stmt.bases))
    if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        return []
    if isinstance(stmt, ast.Match):
        return [stmt.subject]
    return [stmt]


def _header_end(stmt: ast.stmt) -> int | None:
    nodes = _header_nodes(stmt)
    ends = [getattr(n, "end_lineno", None) for n in nodes]
    ends = [e for e in ends if e is not None]
    return max(ends) if ends else stmt.lineno


def _mutates(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(n, (ast.AugAssign, ast.Delete)):
            return True
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name) and f.id in PURE_CALLS:
                continue
            if isinstance(f, ast.Attribute) and f.attr in PURE_METHODS:
                continue
            return True
        if isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)):
            return True  # the consumer may send in or mutate anything while we are suspended
    return False


def global_writes(tree: ast.AST) -> dict[str, frozenset[str]]:
    """Names each function declares `global`, by function name (the tracer watches them)."""
    out: dict[str, set[str]] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for n in ast.walk(fn):
                if isinstance(n, ast.Global):
                    out.setdefault(fn.name, set()).update(n.names)
    return {k: frozenset(v) for k, v in out.items()}


# A program that may write to fd 1 other than through sys.stdout's text layer (its .buffer,
# os.write, a second file object on fd 1, a replaced sys.stdout). Flushing sys.stdout after each
# printing line would reorder such writes against the untraced run (where text waits in the
# buffer until exit), so for these programs the tracer reads only what has reached fd 1.
WRITES_PAST_STDOUT = re.compile(
    r"buffer|os\.write|\bwrite\(\s*1\b|fileno|open\(\s*1\b|__stdout__|fdopen|stdout\s*=|\bos\b.*\bwrite")


class ElementStore:
    """A store into an element the tracer can name cheaply: `base[i][j] = v` (also augmented,
    `del`), `base.append(x)` / `base.extend(xs)` (growth), `base.pop()` (shrink at the end).

    `keys` are index expressions in a tiny pure language (`("name", n)`, `("const", v)`,
    `("bin", op, a, b)`, `("neg", a)`, `("tuple", parts)`, `("sub", a, b)`), evaluated by
    tracer.eval_key on ints, strings and builtin containers only, so no user code ever runs.
    `late`: the line also rebinds a name the keys read, so they are evaluated after it only.
    """

    __slots__ = ("base", "keys", "op", "late", "one_name")

    def __init__(self, base: str, keys: tuple, op: str, late: bool):
        self.base, self.keys, self.op, self.late = base, keys, op, late
        # `dp[i] = ...`, the common case, which the tracer takes by a shorter road
        self.one_name = keys[0][1] if op == "set" and len(keys) == 1 and keys[0][0] == "name" else None


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%"}


def _key(node: ast.AST):
    """The tiny-language form of an index expression, or None when it is not cheap and pure."""
    if isinstance(node, ast.Name):
        return ("name", node.id)
    if isinstance(node, ast.Constant) and type(node.value) in (int, str, bool):
        return ("const", node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _key(node.left), _key(node.right)
        return None if a is None or b is None else ("bin", _BINOPS[type(node.op)], a, b)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        a = _key(node.operand)
        return None if a is None else ("neg", a)
    if isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Load):
        parts = [_key(e) for e in node.elts]
        return None if any(p is None for p in parts) else ("tuple", tuple(parts))
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        a, b = _key(node.value), _key(node.slice)
        return None if a is None or b is None else ("sub", a, b)
    return None


def _key_names(key, out: set) -> set:
    if key[0] == "name":
        out.add(key[1])
    elif key[0] == "tuple":
        for p in key[1]:
            _key_names(p, out)
    elif key[0] != "const":
        for p in key[1:]:
            if isinstance(p, tuple):
                _key_names(p, out)
    return out


def _target(node: ast.AST, op: str) -> ElementStore | None:
    """`a[i][j]` as an ElementStore, or None when its base is no plain name or a key is not cheap."""
    keys = []
    while isinstance(node, ast.Subscript):
        if isinstance(node.slice, ast.Slice):
            return None
        k = _key(node.slice)
        if k is None:
            return None
        keys.append(k)
        node = node.value
    if not isinstance(node, ast.Name) or not keys:
        return None
    return ElementStore(node.id, tuple(reversed(keys)), op, False)


def element_stores(tree: ast.AST) -> dict[int, tuple[ElementStore, ...]]:
    """Per line, the element stores the tracer reports as element changes.

    >>> [(s.base, s.keys, s.op) for s in element_stores(ast.parse("dp[i][w - 1] += 2"))[1]]
    [('dp', (('name', 'i'), ('bin', '-', ('name', 'w'), ('const', 1))), 'set')]
    """
    out: dict[int, list[ElementStore]] = {}
    for stmt in ast.walk(tree):
        found: list[ElementStore | None] = []
        if isinstance(stmt, ast.Assign):
            found = [_target(t, "set") for t in stmt.targets]
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
            found = [_target(stmt.target, "set")]
        elif isinstance(stmt, ast.Delete):
            found = [_target(t, "del") for t in stmt.targets]
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            f = stmt.value.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                if f.attr in ("append", "extend"):
                    found = [ElementStore(f.value.id, (), "grow", False)]
                elif f.attr == "pop" and not stmt.value.args:
                    found = [ElementStore(f.value.id, (), "shrink", False)]
        else:
            continue
        found = [x for x in found if x is not None]
        if not found or stmt.lineno != stmt.end_lineno:
            continue  # (a store spread over lines: its line events are ambiguous; whole values)
        rebound = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for x in found:
            names: set = set()
            for k in x.keys:
                _key_names(k, names)
            x.late = bool(names & rebound)
        out.setdefault(stmt.lineno, []).extend(found)
    # a line with two statements that both touch one base: keep them all (evaluated in order)
    return {line: tuple(v) for line, v in out.items()}


def pure_store_lines(tree: ast.AST) -> frozenset[int]:
    """Lines whose only effect on containers is plain element stores (`cur[c] = cand`: no calls,
    no augmented stores, no attribute stores). After one, the only containers of the frame that
    can have changed are the ones stored into and those that may hold them (the tracer skips lists
    of immutable atoms, which hold no container).

    >>> sorted(pure_store_lines(ast.parse("a[i] = b[i - 1] + 1\\na[f(i)] = 0\\nif x: a[0] = 1\\n")))
    [1]
    """
    good: set[int] = set()
    bad: set[int] = set()
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt):
            continue
        if (isinstance(stmt, ast.Assign) and stmt.lineno == stmt.end_lineno
                and all(_target(t, "set") is not None for t in stmt.targets)
                and not _mutates(stmt.value)
                and not any(_mutates(n.slice) for t in stmt.targets for n in ast.walk(t)
                            if isinstance(n, ast.Subscript))):
            good.add(stmt.lineno)
        else:
            bad.update(range(stmt.lineno, (_header_end(stmt) or stmt.lineno) + 1))
    return frozenset(good - bad)


def counter_lines(tree: ast.AST) -> dict[int, tuple[str, ...]]:
    """Mutating lines whose only possible mutation is `name op= value` with a value that mutates
    nothing (`count += 1`, `total += a[i]`), by the names they update. When each of those names
    holds an int, float, str... at the line's event, the line mutates no container (an atom has
    no in-place operator), so the tracer need not look at the frame's containers after it.

    >>> counter_lines(ast.parse("ans += 1\\nxs += [1]; n -= k\\nb[0] += 1\\nans += f(x)\\n"))
    {1: ('ans',), 2: ('xs', 'n')}
    """
    names: dict[int, list[str]] = {}
    bad: set[int] = set()
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt):
            continue
        if (isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name)
                and stmt.lineno == stmt.end_lineno and not _mutates(stmt.value)):
            names.setdefault(stmt.lineno, []).append(stmt.target.id)
        elif any(_mutates(node) for node in _header_nodes(stmt)):
            bad.update(range(stmt.lineno, (_header_end(stmt) or stmt.lineno) + 1))
    return {line: tuple(v) for line, v in names.items() if line not in bad}


_STORE_OPS = {"STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL",
              "DELETE_FAST", "DELETE_NAME", "DELETE_DEREF", "DELETE_GLOBAL"}


_OPS = {dis.opmap[name]: name for name in (*_STORE_OPS, "IMPORT_STAR")}
_BY_NAME = {"STORE_NAME", "DELETE_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"}  # their argument indexes co_names


def _store_instructions(code):
    """(line, opname, name) of the code's store, delete and `import *` instructions: what
    dis.get_instructions gives for them, read straight from the bytecode (a fifth of the time:
    dis makes an object per instruction, cache entries included, of every program the sandbox runs)."""
    raw = code.co_code
    positions = list(code.co_positions())  # one per code unit
    extended = dis.EXTENDED_ARG
    arg = 0
    for i in range(0, len(raw), 2):
        op = raw[i]
        if op == extended:
            arg = (arg | raw[i + 1]) << 8
            continue
        oparg, arg = arg | raw[i + 1], 0
        name = _OPS.get(op)
        if name is not None:
            if name == "IMPORT_STAR":
                target = None
            elif name in _BY_NAME:
                target = code.co_names[oparg]
            else:  # FAST and DEREF ops index the frame's variables
                target = code._varname_from_oparg(oparg)
            yield positions[i // 2][0], name, target


class CodeInfo:
    """Per code object, from its bytecode: which names each line can rebind or delete.

    Between two events of a frame only the previous line's instructions ran, so only the names
    that line stores can have been rebound in this frame (in-place mutation is handled apart).
    Other frames rebind our names only through `global`/`nonlocal` stores: those lines are
    `cross_lines`, and after one ran anywhere each frame rescans all its names once.
    """

    __slots__ = ("stores", "always", "full_lines", "cross_lines", "fast", "order")

    def __init__(self, code):
        self.fast: dict = {}  # tracer._fasttrace's cache: line -> where its stored names live in the frame
        # a function's variables in the frame's own order (arguments first, then locals, cells, free
        # variables): the order a full scan reports them in, whatever order frame.f_locals' dict
        # happens to have (its order depends on when it was refreshed); None for module code
        self.order: tuple[str, ...] | None = None
        if code.co_flags & 0x1:  # CO_OPTIMIZED
            names = code.co_varnames
            self.order = names + tuple(n for n in code.co_cellvars if n not in names) + code.co_freevars
        stores: dict[int | None, set[tuple[str, bool]]] = {}
        self.full_lines: set[int] = set()
        self.cross_lines: set[int] = set()
        free = set(code.co_freevars)
        for line, op, name in _store_instructions(code):
            if op in _STORE_OPS:
                is_global = op.endswith("_GLOBAL")
                stores.setdefault(line, set()).add((name, is_global))
                if line is not None and (is_global or (op.endswith("_DEREF") and name in free)):
                    self.cross_lines.add(line)
            elif line is not None:  # IMPORT_STAR
                self.full_lines.add(line)
        # stores with no line number (compiler cleanup code) may run between any two events
        self.always = tuple(sorted(stores.pop(None, set())))
        self.stores = {line: tuple(sorted(names | set(self.always))) for line, names in stores.items()}


class Prepared:
    """Everything the tracer derives from a program's source, computed once per source.

    The sandbox worker makes this before forking, so the many runs of one solution (a
    CodeContests solution has dozens of tests) share it instead of each child compiling and
    analysing the program again.
    """

    __slots__ = ("code", "mutating", "globals_by_func", "output_lines", "elements", "code_info", "error",
                 "writes_past_stdout", "pure_stores", "counters")

    def __init__(self, source: str, filename: str):
        (self.mutating, self.globals_by_func, self.output_lines, self.elements,
         self.pure_stores, self.counters) = analyse(source)
        self.writes_past_stdout = bool(WRITES_PAST_STDOUT.search(source))
        self.code_info: dict = {}
        self.error: BaseException | None = None
        try:
            self.code = compile(source, filename, "exec")
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
            self.code, self.error = None, exc  # the run reports it as the program's own error
            return
        todo = [self.code]
        while todo:
            co = todo.pop()
            self.code_info[co] = CodeInfo(co)
            todo.extend(c for c in co.co_consts if hasattr(c, "co_code"))
