"""Verdicts an earlier run already reached, for `curate --reuse` (and `selfexec run --reuse`).

A verdict is taken when the earlier run verified the same narration (same trace row, narrator,
model, revision, prompt sha and text) with the same curate settings, verifier version and
benchmark files. What is reused is the per-row verdict before deduplication (kept or the first
reject reason, claim counts, token count, contamination) and the program's MinHash signature;
deduplication always runs again over the whole new run, since new rows may duplicate old ones.

Only an earlier *run folder* has these (`logs/curate/verified/`); a published dataset holds the
final verdicts of kept rows only, so its narrations are verified again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tracegen import layout

from .records import Verdict

_KEY = ["trace_id", "problem_id", "solution_id", "test_id", "narrator", "model", "revision", "prompt_sha"]
_VERDICT = [f.name for f in dataclasses.fields(Verdict)]


def text_sha(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).hexdigest()


def narration_key(n: Any) -> tuple:
    return (*(getattr(n, k) for k in _KEY), text_sha(n.text))


class VerdictReuse:
    """`why_not` is empty when the earlier run's verdicts apply to this run's settings."""

    def __init__(self, prev: str | Path, inputs: dict[str, Any]):
        log = Path(prev) / layout.LOGS / "curate"
        self.parts = sorted((log / "verified").glob("part-*.parquet"))
        self.where: dict[tuple, tuple[int, int]] = {}
        self.why_not = ""
        inputs_file = log / "inputs.json"  # curation/stage.py INPUTS: written by layout.fingerprint_changed
        theirs = json.loads(inputs_file.read_text()) if inputs_file.is_file() else None
        if theirs is None or not self.parts:
            self.why_not = f"{prev} holds no verified rows (logs/curate/verified/): a dataset folder or an uncurated run"
        elif theirs.get("settings") != inputs["settings"]:
            diff = sorted(k for k in set(theirs["settings"]) | set(inputs["settings"])
                          if theirs["settings"].get(k) != inputs["settings"].get(k))
            self.why_not = f"{prev} was curated with other settings ({', '.join(diff)})"
        elif theirs.get("benchmark_files") != inputs["benchmark_files"]:
            self.why_not = f"the benchmark files changed since {prev} was curated"
        if self.why_not:
            self.parts = []
        for fi, f in enumerate(self.parts):
            t = pq.read_table(f, columns=[*_KEY, "text"])
            cols = [t.column(c).to_pylist() for c in _KEY]
            for ri, (*key, text) in enumerate(zip(*cols, t.column("text").to_pylist())):
                self.where.setdefault((*key, text_sha(text)), (fi, ri))

    def take(self, narrations: list[Any]) -> dict[int, tuple[Verdict, str, list[int] | None]]:
        """{position: (pre-dedup verdict, contaminated_by, MinHash values or None)}."""
        wanted: dict[int, list[tuple[int, int]]] = {}
        for i, n in enumerate(narrations):
            loc = self.where.get(narration_key(n))
            if loc is not None:
                wanted.setdefault(loc[0], []).append((loc[1], i))
        out = {}
        for fi, items in wanted.items():
            cols = [*_VERDICT, "contaminated_by", "_minhash"]
            rows = pq.read_table(self.parts[fi], columns=cols).take([r for r, _ in items]).to_pylist()
            for (_, i), r in zip(items, rows):
                out[i] = (Verdict(**{k: r[k] for k in _VERDICT}), r["contaminated_by"] or "", r["_minhash"])
        return out
