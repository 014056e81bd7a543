"""Reading the rest of a narration's prose: sentences, hypotheticals, numbers in words, and the
claims the value-claim parser (claims.py) does not read: values of expressions ("`nums.count(3)`
is `2`", "`dp[i] = max(a, b) = 7`"), counts ("the loop runs three times", "the 24 characters")
and branches ("so the `else` branch runs"). Also every concrete value in the text (`literals`),
which the closed-world check (grounding.py) must account for.

Works on the masked text of markup.py: code spans are placeholders \\x00k\\x01.

>>> [(c.kind, c.name, c.value) for c in extract_prose_claims("`len(a) // 2` is `1`, so the loop runs twice.")]
[('expr', 'len(a) // 2', '1'), ('count', 'times', '2')]
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from dataclasses import dataclass

from .claims import Claim, is_concrete, normalise_value, scan_literal, target_name
from .evaluate import names_in, parse_expression
from .markup import C, O, Masked, body_of, mask
from .matching import MISSING, literal_cached

_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "once": 1, "twice": 2, "thrice": 3,
               "no": 0, "none": 0, "single": 1})
_NUMWORD = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|" \
           r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundred)"
_CODE = O + r"(\d+)" + C
_COUNT_NOUNS = r"(?:elements?|items?|characters?|chars?|letters?|keys?|entries|entry|words?|digits?|values?|" \
               r"numbers?|strings?|pairs?|spaces?|integers?|tuples?|lists?|sublists?|rows?|vowels?|" \
               r"consonants?|occurrences?|copies|lines?)"
_COUNT_RE = re.compile(
    rf"(?<![\w.\-])(?P<n>\d+|{_NUMWORD})(?:-| )(?P<mod>more |further |remaining |other |left |extra |distinct |unique |separate "
    rf"|total |full |loop |whole )?(?P<noun>times(?!\s+(?:(?:the|a|an|as|more|less|bigger|larger|smaller)\b|\d|\x00))|"
    rf"iterations?|passes|rounds|{_COUNT_NOUNS})\b"
    rf"|\b(?:runs?|ran|loops?|iterates?|executes?|executed|repeats?|happens?|called|invoked)\s+(?P<w>once|twice|thrice)\b"
    rf"|\b(?:length|size)\s+(?:of\s+)?(?P<len>\d+|{_NUMWORD})\b",
    re.I)
_NEVER_RE = re.compile(r"\b(?:loop|body)\b[^.\n]{0,40}\b(?:never runs|never executes|does not run|doesn't run|"
                       r"runs zero times|is skipped entirely|is never entered)\b", re.I)
_BRANCH_RE = re.compile(
    rf"(?:(?:the\s+)?(?:{_CODE}|\b(?P<b1>if|else|elif)\b)\s*(?:-\s*)?(?:branch|block|clause|body|part|path)\s+"
    r"(?P<neg>(?:is not|isn't|is never|never|does not|doesn't)\s+)?(?:runs?|is taken|is executed|executes|is entered|"
    r"fires|is used|is followed|kicks in|applies|taken|runs instead|(?!is\b|was\b|does\b|has\b)[a-z]+s\b)"
    rf"|\b(?:takes|take|taking|enters|enter|entering|goes into|go into|going into|into|follows|uses)\s+the\s+"
    rf"(?:{_CODE}|\b(?P<b2>if|else|elif)\b)\s*(?:-\s*)?(?:branch|block|clause|body|path))",
    re.I)
_ELSE_RUNS_RE = re.compile(rf"(?:the\s+)?(?:{_CODE}|\b(?P<b>else|elif)\b)\s+(?:runs|is taken|executes|fires|kicks in)\b",
                           re.I)
_ALL_RE = re.compile(r"\b(?:every|each|all|always|both|neither|none of|any)\b", re.I)
_EXPR_VERBS = r"(?:is(?: now| still| again)?|was|are|returns|returned|gives|gave|give|evaluates to|evaluated to|" \
              r"equals|is equal to|comes out as|comes out to|produces|yields|results in|=|==|→|->|,?\s*which is|" \
              r",?\s*i\.e\.,?|is computed as|becomes)"
_EXPR_RE = re.compile(rf"{_CODE}(?:\s+(?:of|on|for|over)\s+(?:that|this|the|it)(?:\s+[a-z]+)?)?\s*,?\s*(?P<verb>{_EXPR_VERBS})\s*(?:the value\s+|just\s+|simply\s+|also\s+)?(?:{_CODE}|(?=\S))",
                      re.I)
_HYPOTHETICAL = re.compile(r"\b(?:would|were\b[^.]*\bif\b|if\b[^.]*\bwere|had been|otherwise|hypothetically|"
                           r"suppose|could|might|would have)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\x00\[(*\-\d'\"])|\n\s*\n|\n\s*(?=[-*+|]|\d+[.)]\s)|\n")
_LIST_MARKER = re.compile(r"(?m)^\s*(?:\d+[.)]|[-*+]|#+)\s")


@dataclass(slots=True)
class Sentence:
    start: int  # in the masked text
    end: int
    hypothetical: bool


def sentences(m: Masked) -> list[Sentence]:
    out, i = [], 0
    s = m.text
    for mt in _SENTENCE_END.finditer(s):
        if mt.start() > i:
            out.append(Sentence(i, mt.start(), bool(_HYPOTHETICAL.search(s, i, mt.start()))))
        i = mt.end()
    if i < len(s):
        out.append(Sentence(i, len(s), bool(_HYPOTHETICAL.search(s, i, len(s)))))
    return out


def number_word(text: str) -> int | None:
    t = text.lower()
    if t.isdigit():
        return int(t)
    return _WORDS.get(t)


def extract_prose_claims(text: str, code_names: frozenset[str] = frozenset()) -> list[Claim]:
    """Expression, count and branch claims of a narration, in text order (hypotheticals skipped)."""
    m = mask(body_of(text))
    s = m.text
    hyp = [(x.start, x.end) for x in sentences(m) if x.hypothetical]
    found: list[tuple[int, Claim]] = []

    def hypothetical(pos: int) -> bool:
        return any(a <= pos < b for a, b in hyp)

    for mt in _EXPR_RE.finditer(s):
        if hypothetical(mt.start()):
            continue
        for c in _expr_claim(m, mt, code_names) or ():
            found.append((mt.start(), c))
    for k, content in enumerate(m.spans):  # one span: `dp[i] = max(a, b) = 7`, `len(x) // 2 = 1`
        pos = s.find(f"{O}{k}{C}")
        if "=" in content and not hypothetical(pos):
            for c in _chain_claims(content, m.where[k]):
                found.append((pos, c))
    for mt in _COUNT_RE.finditer(s):
        if hypothetical(mt.start()):
            continue
        if re.search(r"(?i)\b(?:remaining|other|another|more|further|extra|last|next|first)\s+$",
                     s[max(0, mt.start() - 12):mt.start()]):
            continue  # "the remaining 11 pairs", "the last 3 characters": not a size
        if (mt.group("mod") or "").strip() in ("more", "further", "remaining", "other", "left", "extra"):
            continue  # "the remaining 11 pairs": a difference, not a size; the number is still a literal
        word = mt.group("n") or mt.group("w") or mt.group("len")
        n = number_word(word)
        if n is None:
            continue
        noun = (mt.group("noun") or ("times" if mt.group("w") else "length")).lower()
        noun = "times" if noun.startswith(("time", "iteration", "pass", "round")) else noun
        vs = m.orig(mt.start("n") if mt.group("n") else mt.start("w") if mt.group("w") else mt.start("len"))
        found.append((mt.start(), Claim("count", noun, str(n), m.orig(mt.start()), m.orig(mt.end() - 1) + 1,
                                        vstart=vs, vend=vs + len(word))))
    for mt in _NEVER_RE.finditer(s):
        before = m.text[max(0, mt.start() - 30):mt.start()]
        before += " ".join(m.spans[int(k)] for k in re.findall(r"\x00(\d+)\x01", before))
        if not hypothetical(mt.start()) and not re.search(r"(?i)\belse\b", before):
            found.append((mt.start(), Claim("count", "times", "0", m.orig(mt.start()), m.orig(mt.end() - 1) + 1)))
    for mt in _BRANCH_RE.finditer(s):
        if hypothetical(mt.start()):
            continue
        c = _branch_claim(m, mt)
        if c is not None:
            found.append((mt.start(), c))
    for c in table_claims(text, code_names):
        found.append((_masked_at(m, c.start), c))
    for mt in _ELSE_RUNS_RE.finditer(s):
        which = (mt.group("b") or (m.spans[int(mt.group(1))].strip() if mt.group(1) else "")).lower()
        if which in ("else", "elif") and not hypothetical(mt.start()) and \
                not any(p <= mt.start() < p + 40 and c.kind == "branch" for p, c in found):
            found.append((mt.start(), Claim("branch", which, "taken", m.orig(mt.start()), m.orig(mt.end() - 1) + 1)))
    found.sort(key=lambda pc: pc[0])
    return [c for _, c in found]


def _masked_at(m: Masked, orig: int) -> int:
    k = max(0, bisect_right(m.seg_orig, orig) - 1)
    return m.seg_masked[k] + (orig - m.seg_orig[k] if m.seg_plain[k] else 0) if m.seg_masked else 0


_ROW = re.compile(r"(?m)^[ \t]*\|(.*)\|[ \t]*$")


def table_claims(text: str, code_names: frozenset[str]) -> list[Claim]:
    """A Markdown table whose header names variables (or expressions): each row states, in
    order, the value of each such column at one step."""
    body = body_of(text)
    out: list[Claim] = []
    header: list[str | None] | None = None
    for mt in _ROW.finditer(body):
        cells, pos = [], mt.start(1)
        for cell in mt.group(1).split("|"):
            cells.append((cell, pos))
            pos += len(cell) + 1
        plain = [c.strip().strip("`").strip() for c, _ in cells]
        if header is None or (mt.start() > 0 and body[mt.start() - 1:mt.start()] == "\n" and
                              not _ROW.match(body, body.rfind("\n", 0, mt.start() - 1) + 1)):
            header = [p if (target_name(p) and p.split("[")[0].split(".")[0] in code_names) or
                      (parse_expression(p) is not None and literal_cached(p) is MISSING and not p.isalpha())
                      else None for p in plain]
            continue
        if all(set(p) <= set("-: ") for p in plain):
            continue
        for col, (p, (cell, at)) in zip(header, zip(plain, cells)):
            v = normalise_value(p)
            if col is None or not v or not is_concrete(v) or literal_cached(v) is MISSING:
                continue
            kind = "state" if target_name(col) else "expr"
            a = at + cell.find(p[:1]) if p else at
            out.append(Claim(kind, col, v, a, a + len(cell.strip()), vstart=at, vend=at + len(cell)))
    return out


def _expr_claim(m: Masked, mt: re.Match, code_names: frozenset[str]) -> list[Claim] | None:
    ks = [int(g) for g in mt.groups() if g is not None and g.isdigit()]
    expr = m.spans[ks[0]].strip()
    node = parse_expression(expr)
    if node is None or literal_cached(expr) is not MISSING:
        return None  # not an expression
    if isinstance(node, (ast.Lambda, ast.NamedExpr)):
        return None
    if len(ks) > 1:
        value, (vs, ve) = m.spans[ks[1]], m.where[ks[1]]
        end = mt.end()
    else:
        i = mt.end()
        word = re.match(r"(?i)(true|false|none)\b", m.text[i:])
        truthy = bool(word) and word.group(1) in ("true", "false")  # "`text` is true": truthiness
        if word:
            value, end = {"true": "True", "false": "False", "none": "None"}[word.group(1).lower()], i + word.end()
        else:
            lit = scan_literal(m.text, i)
            if lit is not None and _COUNT_AFTER.match(m.text, lit[1]):
                return None  # "`s.split()` gives 5 words": a count claim
            if lit is None:
                wm = re.match(rf"(?i)({_NUMWORD}|an empty (?:list|string|dict|dictionary|set|tuple))\b", m.text[i:])
                if not wm:
                    return None
                if _COUNT_AFTER.match(m.text, i + wm.end()):
                    return None
                value, end = _word_value(wm.group(1)), i + wm.end()
            else:
                value, end = lit
                if _ARITH_AFTER.match(m.text, end):
                    return _arithmetic_chain(m, mt, expr, i)
        vs, ve = m.orig(i), m.orig(end - 1) + 1
    value = normalise_value(value)
    if not is_concrete(value) or literal_cached(value) is MISSING and not value.startswith(("<", "set(")):
        return None
    return [Claim("expr", expr, value, m.orig(mt.start()), ve, vstart=vs, vend=ve,
                  mode="truthy" if len(ks) == 1 and truthy else "")]


_ARITH_AFTER = re.compile(r"\s*[-+*/%]{1,2}\s*[\d(\-]")
_CHAIN = re.compile(r"[^,;:\n`\x00\x01]*")


def _arithmetic_chain(m: Masked, mt: re.Match, expr: str, i: int) -> list[Claim] | None:
    """"`x1+x2-x3` = -1 + 0 - 1 = -2": the expression's value is the chain's last term, and each
    step of the arithmetic written out must come to it."""
    chain = _CHAIN.match(m.text, i).group(0)
    chain = re.split(r"\.(?:\s|$)|\s(?:so|and|which|since|because|then)\s", chain)[0]
    parts = [p.strip() for p in re.split(r"(?<![=!<>])=(?!=)", chain)]
    if len(parts) < 2 or not parts[-1]:
        return None
    value = parts[-1]
    if literal_cached(value) is MISSING:
        return None
    vs = m.orig(i + chain.rfind(value))
    out = [Claim("expr", expr, value, m.orig(mt.start()), vs + len(value), vstart=vs, vend=vs + len(value))]
    for p in parts[:-1]:
        node = parse_expression(p)
        if node is None or names_in(node):
            return out
        at = m.orig(i + chain.find(p))
        out.append(Claim("expr", p, value, at, at + len(p), vstart=at, vend=at + len(p)))
    return out


_COUNT_AFTER = re.compile(rf"\s+(?:\w+\s+)?(?:{_COUNT_NOUNS}|times|iterations)\b", re.I)


def _word_value(w: str) -> str:
    w = w.lower()
    if w.startswith("an empty"):
        return {"list": "[]", "string": "''", "dict": "{}", "dictionary": "{}", "set": "set()", "tuple": "()"}[w.split()[-1]]
    return str(_WORDS[w])


def _chain_claims(content: str, where: tuple[int, int]) -> list[Claim]:
    """`target = expr = value` or `expr = value` inside one code span (not an assignment of
    literals, which claims.py reads, nor a statement of the program with no value)."""
    parts = [p.strip() for p in re.split(r"(?<![=!<>+\-*/%&|^:])=(?!=)", content)]
    if len(parts) < 2 or not all(parts):
        return []
    value = normalise_value(parts[-1])
    if not is_concrete(value) or literal_cached(value) is MISSING:
        return []
    out = []
    for p in parts[:-1]:
        if parse_expression(p) is None or is_concrete(p):
            return []
        if target_name(p):
            if all(target_name(q) for q in parts[:-1]):
                return []  # `x = 5`, `a = b = 0`: claims.py's inline assignment
            out.append(Claim("state", p, value, where[0], where[1], vstart=where[0], vend=where[1]))
        else:
            out.append(Claim("expr", p, value, where[0], where[1], vstart=where[0], vend=where[1]))
    return out


def _branch_claim(m: Masked, mt: re.Match) -> Claim | None:
    ks = [int(g) for g in mt.groups() if g is not None and g.isdigit()]
    which = (mt.group("b1") or mt.group("b2") or (m.spans[ks[0]].strip() if ks else "")).lower()
    which = which.split()[0] if which else ""
    if which not in ("if", "else", "elif"):
        return None
    sent = _sentence_around(m, mt.start())
    mode = "not" if mt.group("neg") else "all" if _ALL_RE.search(sent) else ""
    return Claim("branch", which, "taken", m.orig(mt.start()), m.orig(mt.end() - 1) + 1, mode=mode)


def _sentence_around(m: Masked, pos: int) -> str:
    for x in sentences(m):
        if x.start <= pos < x.end:
            return m.text[x.start:x.end]
    return ""


# -- every concrete value in the prose ------------------------------------------------------------
_BARE = re.compile(
    rf"(?<![\w.\x00\x01#$])(?P<num>-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?![\w.]*\w)(?!\.\d)"
    rf"|(?<![\w'\"])(?P<q>['\"])"
    rf"|(?<![\w\])])(?P<br>[\[{{(])"
    rf"|\b(?P<word>True|False|None|(?i:{_NUMWORD}|once|twice|thrice))\b")
_NOT_LITERAL_BEFORE = re.compile(r"(?i)(?:line|lines|step|steps|stage|part|case|example|sample|test|figure|"
                                 r"section|#)\s*$")
_NUMBERS_LINE = re.compile(r"-?\d+(?:\.\d+)?(?:[ \t]+-?\d+(?:\.\d+)?)+")
_ORDINAL_NEAR = re.compile(r"(?i)(?:\b(?:iterations?|calls?|passes|rounds|steps?)\b[^.;\n]{0,12}$)")
_ORDINAL_AFTER = re.compile(r"(?i)\s*(?:more\b|of\s+\d|to\s+\d+\s+of\b|in all\b|steps\b|events\b)")
_APPROX_BEFORE = re.compile(r"(?i)(?:≈|~|\babout|\bapproximately|\broughly|\baround|\bnearly|\balmost)\s*"
                            r"(?:\x00\d+\x01\s*)?$")
_INDEX_BEFORE = re.compile(r"(?i)\b(?:index|indices|indexes|position|positions|offset)\b[^.;\n]{0,25}$|"
                           r"\b(?:first|last|next|remaining|other|previous)\s+$")


@dataclass(slots=True)
class Literal:
    start: int  # offsets in the original text
    end: int
    text: str
    value: object  # the parsed value (number words as ints)
    context: str  # "line" for a line number, "span" for a code span, "" otherwise
    sentence: int  # index of its sentence


def literals(text: str) -> list[Literal]:
    """Every concrete value stated outside hypotheticals: code spans that are values, numbers
    (digits or small numbers in words), quoted strings, bracketed containers, True/False/None."""
    m = mask(body_of(text))
    s = m.text
    sents = sentences(m)
    out: list[Literal] = []
    list_markers = {mt.end() - 2 for mt in _LIST_MARKER.finditer(s)}

    def sentence_of(pos: int) -> int:
        for i, x in enumerate(sents):
            if x.start <= pos < x.end:
                return i
        return len(sents) - 1

    for k, content in enumerate(m.spans):
        pos = s.find(f"{O}{k}{C}")
        v = content.strip()  # `list()` names the builtin here; as a claim's value it is `[]`
        if _NUMBERS_LINE.fullmatch(v):  # `-2 -1`: a line of numbers, as a program prints or reads them
            si = sentence_of(pos)
            if not sents or not sents[si].hypothetical:
                out.append(Literal(*m.where[k], content, " ".join(v.split()), "numbers", si))
            continue
        if is_concrete(v) and literal_cached(v) is not MISSING:
            si = sentence_of(pos)
            if not sents or not sents[si].hypothetical:
                approx = _APPROX_BEFORE.search(s[max(0, pos - 20):pos])
                out.append(Literal(*m.where[k], content, literal_cached(v), "approx" if approx else "span", si))
    i = 0
    while True:
        mt = _BARE.search(s, i)
        if mt is None:
            break
        i = mt.end()
        si = sentence_of(mt.start())
        if sents and sents[si].hypothetical:
            continue
        if mt.group("num"):
            if mt.start() in list_markers or mt.end() in list_markers or s[mt.end():mt.end() + 1] in (")",) and \
                    s[:mt.start()].rstrip(" \t").endswith("\n"):
                continue
            before = s[max(0, mt.start() - 40):mt.start()]
            ctx = "line" if _NOT_LITERAL_BEFORE.search(before) else \
                "ordinal" if _ORDINAL_NEAR.search(before) or _ORDINAL_AFTER.match(s, mt.end()) else \
                "index" if _INDEX_BEFORE.search(before) else \
                "approx" if _APPROX_BEFORE.search(before) else \
                "binary" if re.search(r"(?i)\bbinary\s*$", before) else \
                "ordinal" if _ORDINAL_NEAR.search(before) or _ORDINAL_AFTER.match(s, mt.end()) else ""
            text_ = mt.group("num")
            out.append(Literal(m.orig(mt.start()), m.orig(mt.end() - 1) + 1, text_, literal_cached(text_), ctx, si))
        elif mt.group("word"):
            w = mt.group("word")
            val = {"true": True, "false": False, "none": None}.get(w.lower(), MISSING)
            if val is MISSING and _INDEX_BEFORE.search(s, max(0, mt.start() - 40), mt.start()):
                out.append(Literal(m.orig(mt.start()), m.orig(mt.end() - 1) + 1, w, number_word(w), "index", si))
                continue
            if val is MISSING:
                if w.lower() == "one" and re.match(r"\s+(?:of|by|more|another|side|at a time|element at)", s[mt.end():]):
                    continue  # "one of", "one by one": not a count
                val = number_word(w)
            elif w.lower() == "none" and (w[0].islower() or re.match(r"\s+of\b", s[mt.end():])):
                continue  # "none of the words"
            out.append(Literal(m.orig(mt.start()), m.orig(mt.end() - 1) + 1, w, val, "word", si))
        else:
            lit = scan_literal(s, mt.start())
            if lit is None:
                continue
            text_, end = lit
            v = literal_cached(text_)
            if v is MISSING or (mt.group("br") == "(" and not isinstance(v, tuple)):
                continue
            out.append(Literal(m.orig(mt.start()), m.orig(end - 1) + 1, text_, v, "", si))
            i = end
    out.sort(key=lambda x: x.start)
    return out
