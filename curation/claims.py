"""Claim extraction: every concrete value a narration states, in narrative order.

Forms read (inline code first, as the template narrator and the LLM prompt write them):

  `x` becomes `5`  / is now / is set to / gets the value / = / changes to ...   change claims
  `x` stays `5`    / is still / remains / holds / equals / `x` is `5`          state claims
  `x = 5`          one inline-code assignment with literal values (not a quote of the source)
  x is now 5, x = 5                                     plain text, for names the program uses
  `f` returns `v`  / hands back / yields / produces      return claims (also "the comprehension")
  the call returns `v` / the final result is `v`         result claims
  line 3 prints `'a\\n'`                                  stdout claims
  line 4 raises `ValueError: ...`                        exception claims
  `x` is deleted                                         deletion claims

A change claim says the variable took that value at that point of the story; a state claim says
it held it then. Values that are not concrete (`x` becomes `y + 1`) are not claims. The final
`[OUTPUT]` block and fenced code blocks are not read here.

>>> [(c.kind, c.name, c.value) for c in extract_claims("Line 2: `total` becomes `15`, and n is now -3.", {"n"})]
[('change', 'total', '15'), ('change', 'n', '-3')]
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from .markup import C, FENCE, O, Masked, body_of, mask
from .matching import ELLIPSIS, MISSING, literal, literal_cached

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_CODE = O + r"(\d+)" + C


@dataclass(slots=True)
class Claim:
    kind: str  # change | state | deleted | return | result | stdout | raises
    name: str  # variable (or `x[0]`, `self.a`), function for returns; "" for result/stdout/raises
    value: str  # the stated value as written
    start: int  # offset of the claim in the narration text
    end: int
    funcs: tuple[str, ...] = ()  # return claims about "the comprehension" etc.: candidate frames
    vstart: int = -1  # where the stated value is in the narration text (-1: not one span)
    vend: int = -1
    mode: str = ""  # branch: "" (next time) | "all" | "not"; expr: "truthy"; change: "weak" (`x` = `5`)

    @property
    def elided(self) -> bool:
        return ELLIPSIS in self.value

    def quote(self, text: str, width: int = 90) -> str:
        return " ".join(text[self.start:self.end].split())[:width]


# -- the patterns -------------------------------------------------------------------------------
_CHANGE = ["becomes", "has become", "became", "will be", "ends up as", "ends up being", "ends as", "goes up to",
           "goes down to", "shrinks to", "is bumped to", "is bumped up to", "rises to", "climbs to", "falls to",
           "jumps to", "moves to", "advances to", "is raised to", "is lowered to", "is increased to", "is decreased to",
           "is incremented by one to", "ticks up to", "counts up to", "is changed into", "is set equal to", "is now", "now holds", "is updated to", "gets updated to", 
           "is extended to", "is reduced to", "is overwritten with", "is replaced with", "is rebuilt as", "is set to", "gets set to", "gets the value", "is updated to", "is changed to",
           "changes to", "is reassigned to", "is assigned", "turns into", "takes the value", "is initialized to",
           "is initialised to", "goes to", "increases to", "decreases to", "grows to", "drops to", "is incremented to",
           "is decremented to", "is reset to", "is bound to", "=", ":="]
_STATE = ["stays at", "stays as", "remains at", "is still at", "is now at", "ends at", "ends with", "is at", "stays",
          "is still", "remains", "still holds", "holds", "equals", "is equal to", "starts as", "starts at",
          "starts out as", "begins as", "is initially", "was", "is"]
_WORD_VERBS = "|".join(sorted((re.escape(v) for v in _CHANGE + _STATE if v[0].isalpha()), key=len, reverse=True))
_ASSIGN_RE = re.compile(
    rf"(?:{_CODE}|(?<![\w.{C}])(?P<pname>{_IDENT})(?![\w(\[.]))"  # `x` or a plain name
    rf"\s*(?P<verb>(?:{_WORD_VERBS})\b|(?<![=!<>:+\-*/%&|^])(?::=|=)(?!=))"  # a verb, or = (not ==, <=, +=)
    rf"\s*(?:the value\s+|the number\s+)?(?:{_CODE}|(?P<plain>(?=[-+\d'\"\[\(\{{.]|None\b|True\b|False\b|[a-z]{{2,}}\b)))")
_DELETED_RE = re.compile(rf"{_CODE}\s+(?:is deleted|is removed|gets deleted|no longer exists)\b")
_FUNC_WORDS = {
    "the generator expression": ("<genexpr>",),
    "the comprehension": ("<listcomp>", "<setcomp>", "<dictcomp>"),
    "the lambda": ("<lambda>",),
}
_RETURN_RE = re.compile(
    rf"(?:{_CODE}|(?P<fw>{'|'.join(_FUNC_WORDS)}))\s+(?:then\s+|finally\s+)?"
    r"(?:returns|hands back|gives back|yields|produces|finishes with|finishes and returns|evaluates to)\s+"
    + _CODE, re.I)
_RESULT_RE = re.compile(
    r"(?:(?:the|this|that|our) (?:(?:original |outer |top-level )?(?:call|function|program))(?: call)? "
    r"(?:returns|hands back|gives back|evaluates to)"
    r"|(?:the )?final (?:result|value|answer|return value|output)(?: of the (?:call|function|program))? is"
    r"|the (?:result|return value) of the (?:call|function) is)\s+" + _CODE, re.I)
_STDOUT_RE = re.compile(r"\b(?:prints|printed|writes|outputs|displays|print)\s+(?:out\s+)?" + _CODE, re.I)
_RAISES_RE = re.compile(r"\b(?:raises|throws|an exception is raised:|raising)\s+" + _CODE, re.I)

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?j?")
_WORD = re.compile(r"None|True|False")
_OBJECT_REPR = re.compile(r"<[A-Za-z_][\w.]*(?:\s[^<>]*)?>")


def extract_claims(text: str, code_names: set[str] | frozenset[str] = frozenset(),
                   source_lines: set[str] | frozenset[str] = frozenset()) -> list[Claim]:
    """All claims of a narration, in text order. `code_names` (identifiers of the program)
    decides which plain-text names are read; `source_lines` (see `source_statements`) tells
    quoted source (`` `count = 0` ``) from stated assignments."""
    m = mask(body_of(text))
    s = m.text
    used: set[int] = set()  # code spans consumed by a claim
    found: list[tuple[int, Claim]] = []

    def add(pos: int, end: int, claim_kind: str, name: str, value: str, spans: tuple[int, ...],
            funcs: tuple[str, ...] = ()) -> None:
        used.update(spans)
        vs, ve = m.where[spans[-1]]
        found.append((pos, Claim(claim_kind, name, value, m.orig(pos), _orig_end(m, end), funcs, vs, ve)))

    for rx, kind in ((_RESULT_RE, "result"), (_STDOUT_RE, "stdout"), (_RAISES_RE, "raises")):
        for mt in rx.finditer(s):
            k = int(mt.group(mt.lastindex or 1))
            if k in used:
                continue
            if kind == "result" and not is_concrete(m.spans[k]):
                continue
            if kind == "stdout" and m.spans[k].strip() in code_names:
                continue  # "prints `total`": names the variable, not the text
            add(mt.start(), mt.end(), kind, "", m.spans[k], (k,))
    for mt in _RETURN_RE.finditer(s):
        ks = [int(g) for g in mt.groups()[:1] + mt.groups()[2:] if g is not None and g.isdigit()]
        k_val = ks[-1]
        if k_val in used or not is_concrete(m.spans[k_val]):
            continue
        if mt.group("fw"):
            add(mt.start(), mt.end(), "return", mt.group("fw").lower(), m.spans[k_val], (k_val,),
                _FUNC_WORDS[mt.group("fw").lower()])
            continue
        k_f = ks[0]
        func = m.spans[k_f].strip()
        if k_f in used or not (re.fullmatch(_IDENT, func) or re.fullmatch(r"<[a-z]+>", func)):
            continue
        add(mt.start(), mt.end(), "return", func, m.spans[k_val], (k_f, k_val), (func,))
    for mt in _DELETED_RE.finditer(s):
        k = int(mt.group(1))
        name = target_name(m.spans[k])
        if k not in used and name:
            add(mt.start(), mt.end(), "deleted", name, "<deleted>", (k,))
    for mt in _ASSIGN_RE.finditer(s):
        claim = _assign_claim(m, mt, used, code_names)
        if claim is not None:
            found.append(claim)
    for k, content in enumerate(m.spans):
        if k in used or "=" not in content:
            continue
        pairs = inline_assignment(content, source_lines)
        start, end = m.where[k]
        for name, value in pairs:
            found.append((_masked_pos(m, k), Claim("state", name, value, start, end, vstart=start, vend=end)))
    found.sort(key=lambda pc: pc[0])
    return [c for _, c in found]


def _assign_claim(m: Masked, mt: re.Match, used: set[int], code_names) -> tuple[int, Claim] | None:
    s = m.text
    g = mt.groups()
    k_name = int(g[0]) if g[0] is not None else None
    pname = mt.group("pname")
    verb = " ".join(mt.group("verb").split())
    k_val = int(g[3]) if g[3] is not None else None
    if verb in ("is", "was", "equals", "is equal to") and \
            re.search(r"(?i)\b(?:of|in|from|into|by|on|than)\s*$", s[max(0, mt.start() - 8):mt.start()]):
        return None  # "the last character of `text` is ...": `text` is not the subject
    if k_name is not None:
        if k_name in used:
            return None
        name = target_name(m.spans[k_name])
    else:
        name = pname if pname in code_names else None
    if not name:
        return None
    if k_val is not None:
        if k_val in used:
            return None
        value = m.spans[k_val]
        end = mt.end()
        vs, ve = m.where[k_val]
    else:
        if verb in ("holds", "equals") and k_name is None:
            return None
        lit = scan_literal(s, mt.end()) or _word_literal(s, mt.end())
        if lit is None:
            return None
        value, end = lit
        vs, ve = m.orig(mt.end()), _orig_end(m, end)
    if verb in ("is", "was") and k_name is None and value[:1] not in "[{('\"":
        return None  # plain "x is 5" is too often English; "arr is ['a']" is a claim
    if not is_concrete(value):
        return None
    used.update(k for k in (k_name, k_val) if k is not None)
    kind = "change" if verb in _CHANGE else "state"
    # "`i` = `4`" and "is now" name the value the variable has here, rebound or not
    mode = "weak" if verb in ("=", ":=") else \
        "stays" if verb in ("stays", "remains", "stays at", "stays as", "remains at") else ""
    return mt.start(), Claim(kind, name, normalise_value(value), m.orig(mt.start()), _orig_end(m, end), (), vs, ve,
                             mode)


_NUM_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                                "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
                                                "twenty".split())}
_WORD_LITERAL = re.compile(r"(?i)(%s|an empty (?:list|string|dict|dictionary|set|tuple))\b"
                           r"(?=\s*(?:[.,;:)]|$|(?:and|after|when|so|because|since|now|again|here|there|at|in|on|"
                           r"for|as|while|before|once|then|which)\b))" % "|".join(_NUM_WORDS))
_EMPTY_WORDS = {"list": "[]", "string": "''", "dict": "{}", "dictionary": "{}", "set": "set()", "tuple": "()"}


def _word_literal(s: str, i: int) -> tuple[str, int] | None:
    """A small number in words ("`count` goes up to four") or "an empty list" as a value."""
    mt = _WORD_LITERAL.match(s, i)
    if mt is None:
        return None
    w = mt.group(1).lower()
    return (_EMPTY_WORDS[w.split()[-1]] if w.startswith("an empty") else _NUM_WORDS[w]), mt.end()


def _orig_end(m: Masked, end: int) -> int:
    if end <= 0:
        return 0
    last = end - 1
    if m.text[last] == C:  # the end of a code span: map to the span's closing backticks
        k = int(m.text[m.text.rfind(O, 0, last) + 1:last])
        return m.where[k][1]
    return m.orig(last) + 1


def _masked_pos(m: Masked, k: int) -> int:
    return m.text.find(f"{O}{k}{C}")


_EMPTY = {"list()": "[]", "dict()": "{}", "tuple()": "()", "str()": "''", "frozenset()": "set()"}


def normalise_value(value: str) -> str:
    """The stated value as a literal where a model wrote a constructor: `list()` is `[]`."""
    v = value.strip()
    return _EMPTY.get(v.replace(" ", ""), v)


def target_name(content: str) -> str | None:
    """`x`, `dp[3][1]`, `self.count` as a claim's subject; None for anything else.

    >>> target_name("dp[3][1]"), target_name("c.isdigit()"), target_name("x > 1")
    ('dp[3][1]', None, None)
    """
    content = content.strip()
    if re.fullmatch(_IDENT, content):
        return content
    try:
        node = ast.parse(content, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    base = node
    while isinstance(base, (ast.Subscript, ast.Attribute)):
        base = base.value
    if base is node or not isinstance(base, ast.Name):
        return None
    return content


def is_concrete(value: str) -> bool:
    """A value, not an expression: a literal, an elided rendering, an object repr (`<map
    object>`, `Node(val=1, next=None)`, `deque([1, 2])`, `set()`).

    >>> is_concrete("[1, 'a']"), is_concrete("x + 1"), is_concrete("<map object>"), is_concrete("len(s)")
    (True, False, True, False)
    """
    v = value.strip()
    if not v:
        return False
    if literal_cached(v) is not MISSING or ELLIPSIS in v or _OBJECT_REPR.search(v):
        return True
    try:
        node = ast.parse(v, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return False
    if not isinstance(node, ast.Call):
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub is not node.func and sub.id not in ("inf", "nan"):
            if not _is_callee(node, sub):
                return False
        if not isinstance(sub, (ast.Call, ast.Name, ast.Attribute, ast.Constant, ast.keyword, ast.List, ast.Tuple,
                                ast.Set, ast.Dict, ast.UnaryOp, ast.USub, ast.UAdd, ast.Load)):
            return False
    return True


def _is_callee(root: ast.AST, name: ast.Name) -> bool:
    for sub in ast.walk(root):
        if isinstance(sub, ast.Call) and (sub.func is name or (isinstance(sub.func, ast.Attribute) and
                                                               _attr_root(sub.func) is name)):
            return True
    return False


def _attr_root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def scan_literal(s: str, i: int) -> tuple[str, int] | None:
    """A Python literal written in plain text at s[i:]: a number, a word (None/True/False), a
    quoted string or a bracketed container. Returns (text, end) or None.

    >>> scan_literal("x is now -3.5.", 9), scan_literal("[1, (2, ']')] and", 0)
    (('-3.5', 13), ("[1, (2, ']')]", 13))
    """
    n = len(s)
    if i >= n:
        return None
    c = s[i]
    if c in "'\"":
        j = i + 1
        while j < n and s[j] != c:
            j += 2 if s[j] == "\\" else 1
        end = j + 1
    elif c in "[({":
        depth, j, quote = 0, i, None
        while j < n:
            ch = s[j]
            if ch in (O, FENCE):
                return None
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch in "[({":
                depth += 1
            elif ch in "])}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        end = j + 1
    else:
        mt = _NUMBER.match(s, i) or _WORD.match(s, i)
        if mt is None:
            return None
        end = mt.end()
        if s[end - 1] == "." and not s[end:end + 1].isdigit():
            end -= 1  # "x is now 5." ends a sentence
    if end > n:
        return None
    text = s[i:end]
    if literal(text) is MISSING:
        return None
    return text, end


def inline_assignment(content: str, source_lines: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(name, value) pairs of an inline-code assignment with concrete values, unless the code
    span quotes a statement of the program (`count = 0` in "line 3 runs `count = 0`").

    >>> inline_assignment("a, b = 1, [2]"), inline_assignment("n = len(s)"), inline_assignment("i = 0", {"i=0"})
    ([('a', '1'), ('b', '[2]')], [], [])
    """
    if _squash(content) in source_lines:
        return []
    try:
        tree = ast.parse(content.strip())
    except (SyntaxError, ValueError, RecursionError):
        return []
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return []
    stmt = tree.body[0]
    out: list[tuple[str, str]] = []
    for target in stmt.targets:
        out.extend(_pairs(target, stmt.value, content))
    return out


def _pairs(target: ast.AST, value: ast.AST, src: str) -> list[tuple[str, str]]:
    if isinstance(target, (ast.Tuple, ast.List)):
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
            return [p for t, v in zip(target.elts, value.elts) for p in _pairs(t, v, src)]
        return []
    name = ast.get_source_segment(src.strip(), target)
    text = ast.get_source_segment(src.strip(), value)
    if name is None or text is None or not target_name(name) or literal(text) is MISSING:
        return []
    return [(name, text)]


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@lru_cache(maxsize=256)
def source_statements(code: str) -> frozenset[str]:
    """Every line and every one-line assignment of the program, with whitespace removed."""
    lines = re.split(r"\r\n|\r|\n", code)
    out = {_squash(line) for line in lines if line.strip()}
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return frozenset(out)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.lineno == node.end_lineno \
                and 0 < node.lineno <= len(lines):
            raw = lines[node.lineno - 1].encode("utf-8", "surrogatepass")  # col offsets count UTF-8 bytes
            out.add(_squash(raw[node.col_offset:node.end_col_offset].decode("utf-8", "replace")))
    return frozenset(out)


@lru_cache(maxsize=256)
def code_names(code: str) -> frozenset[str]:
    """Identifiers the program uses (names, arguments, functions): plain-text claims are read
    only for these, so English words are not taken for variables."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return frozenset(re.findall(_IDENT, code))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return frozenset(names)
