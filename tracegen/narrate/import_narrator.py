"""Bring your own narrations: `selfexec narrate RUN --narrator import --input FILE.jsonl`.

Narrations written elsewhere (an offline vLLM batch, a provider's batch API) become Narration
rows like every other narrator's, one narrations file per traces file, so `selfexec curate`
verifies them like any narration.

The file holds one JSON object per line (blank lines are skipped):

    {"trace_id": "9c1e…", "text": "We call `f` with …\\n[OUTPUT]\\n5\\n[/OUTPUT]", "model": "my-model"}
    {"problem_id": "demo/mean", "solution_id": "ref", "test_id": "t0", "text": "…"}

- `text` (string) is required. The trace is named by `trace_id`, or by all of `problem_id`,
  `solution_id` and `test_id`; with both, the trace row must have both (a partial triple next to
  a `trace_id` is ignored). `model` (string) is optional and goes to the row's `model` (default:
  the `--model` option, else ""). Other keys are ignored. Ids may be strings or integers.
- Several lines may name one trace (candidate narrations): each becomes its own row, in file
  order. Curation verifies each; exact dedup then keeps one kept row per program and input.
- `predicted_output` and `status` come from the `[OUTPUT]` block, parsed as for every narrator
  (output.py) with the trace's kind: `ok`, `no_output_block` or `bad_output`.
- A `trace_id` shared by several trace rows (two tests with the same input) goes to the first
  `ok` row of them in file order (else the first row).
- A line naming no trace of the run is not imported; it is counted (`unmatched`, with an
  example in `unmatched_example`). When no line names a trace, nothing is written and the
  import fails: an empty result is a mistake, never data.
- A line naming a trace that did not finish `ok` is imported and counted under `trace_not_ok`
  (by trace status): curate rejects it with `trace_status`, as it rejects any narration of such
  a trace, so it shows in the funnel instead of vanishing.

The whole file is read and checked before anything is written; a malformed line stops the
import with one ImportFileError naming the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..engine import ShardContext, counter_dict
from ..errors import UserError
from ..records import write_parquet_atomic
from .output import parse_output
from .records import Narration, narrations_to_table

NARRATOR = "import"
IDS = ("problem_id", "solution_id", "test_id")
EXAMPLE = '{"trace_id": "...", "text": "... [OUTPUT]\\n5\\n[/OUTPUT]", "model": "my-model"}'
_TRACE_COLS = ["trace_id", *IDS, "status", "kind"]


class ImportFileError(UserError):
    """The --input file cannot be imported; the message names the file, line and field."""


@dataclass(slots=True)
class ImportLine:
    lineno: int
    text: str
    model: str | None
    trace_id: str | None
    ids: tuple[str, str, str] | None

    def key(self) -> str:
        """How the line names its trace, for messages."""
        if self.ids is None:
            return f"line {self.lineno}: trace_id {self.trace_id!r}"
        named = ", ".join(f"{k} {v!r}" for k, v in zip(IDS, self.ids))
        return f"line {self.lineno}: " + (f"trace_id {self.trace_id!r}, {named}" if self.trace_id else named)


@dataclass(slots=True)
class ImportPlan:
    """What an import writes: the rows of each shard (one per traces file) and the counts."""

    sha256: str
    lines: int
    shards: list[list[Narration]]
    trace_not_ok: list[dict[str, int]]  # per shard: {trace status: rows}
    unmatched: int = 0
    unmatched_example: str = ""
    ok_traces_without_narration: int = 0
    rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rows = sum(len(s) for s in self.shards)

    def stats(self) -> dict[str, Any]:
        return {"lines": self.lines, "unmatched": self.unmatched, "unmatched_example": self.unmatched_example,
                "ok_traces_without_narration": self.ok_traces_without_narration, "input_sha256": self.sha256}


def import_settings(model: str, sha256: str) -> dict[str, Any]:
    """The narrate settings of an import: the file's content (not its name) and the default model."""
    return {"narrator": NARRATOR, "model": model, "input_sha256": sha256}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_import_file(path: str | Path) -> tuple[list[ImportLine], str]:
    """(the file's lines, checked, and its sha256). Raises ImportFileError on the first bad line.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "n.jsonl")
    >>> _ = open(p, "w").write('{"trace_id": "a", "text": "t"}\\n\\n{"problem_id": "p", "solution_id": "s", "test_id": 0, "text": "u"}\\n')
    >>> [(x.lineno, x.trace_id, x.ids) for x in read_import_file(p)[0]]
    [(1, 'a', None), (3, None, ('p', 's', '0'))]
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read --input {path}: {exc.strerror or exc}; pass the JSONL file of "
                              f"narrations") from None
    out = []
    for i, raw in enumerate(data.split(b"\n"), 1):  # bytes: a JSON string never holds a raw newline
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8-sig" if i == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path} line {i} is not UTF-8 ({exc.reason} at byte {exc.start}); "
                                  f"write the file as UTF-8") from None
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "nested too deep"
            raise ImportFileError(f"{path} line {i} is not valid JSON ({why}); each line must be one JSON "
                                  f"object, e.g. {EXAMPLE}") from None
        if not isinstance(obj, dict):
            raise ImportFileError(f"{path} line {i} is a JSON {type(obj).__name__}, not an object; each line "
                                  f"must be one JSON object, e.g. {EXAMPLE}")
        out.append(_line(obj, i, path))
    if not out:
        raise ImportFileError(f"{path} holds no narrations (every line is blank); each line must be one JSON "
                              f"object, e.g. {EXAMPLE}")
    return out, hashlib.sha256(data).hexdigest()


def _line(obj: dict[str, Any], i: int, path: str | Path) -> ImportLine:
    def get(key: str) -> str | None:
        v = obj.get(key)
        if v is None or isinstance(v, str):
            return v
        if key != "text" and key != "model" and isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise ImportFileError(f"{path} line {i}: `{key}` must be a string (got {type(v).__name__} "
                              f"{json.dumps(v)[:40]})")

    text = get("text")
    if text is None:
        raise ImportFileError(f"{path} line {i}: missing `text` (the narration); every line needs "
                              f'"text": "..." ending with [OUTPUT]...[/OUTPUT]')
    trace_id = get("trace_id") or None
    ids = [get(k) or None for k in IDS]
    if trace_id is None and None in ids:
        missing = [k for k, v in zip(IDS, ids) if v is None]
        raise ImportFileError(f"{path} line {i}: missing `trace_id`, and {', '.join(f'`{k}`' for k in missing)} "
                              f"of the (problem_id, solution_id, test_id) triple; name the trace with "
                              f'"trace_id" or with all three ids')
    return ImportLine(i, text, get("model"), trace_id, None if None in ids else (ids[0], ids[1], ids[2]))


def plan_import(path: str | Path, trace_files: list[Path], run: str | Path, default_model: str = "") -> ImportPlan:
    """Read and check the file, match every line to a trace row, and build the rows of every
    shard. Raises ImportFileError when the file is malformed or no line names a trace."""
    lines, sha = read_import_file(path)
    refs, by_ids, by_tid = [], {}, {}
    for fi, f in enumerate(trace_files):
        t = pq.read_table(f, columns=_TRACE_COLS)
        for r in zip(*(t.column(c).to_pylist() for c in _TRACE_COLS)):
            ref = (fi, *r)  # (file, trace_id, problem_id, solution_id, test_id, status, kind)
            refs.append(ref)
            by_ids.setdefault(ref[2:5], ref)
            old = by_tid.get(ref[1])
            if old is None or (old[5] != "ok" and ref[5] == "ok"):
                by_tid[ref[1]] = ref
    shards: list[list[Narration]] = [[] for _ in trace_files]
    not_ok: list[Counter] = [Counter() for _ in trace_files]
    unmatched, example, narrated = 0, "", set()
    for ln in lines:
        ref = by_ids.get(ln.ids) if ln.ids is not None else by_tid.get(ln.trace_id)
        if ref is not None and ln.trace_id is not None and ref[1] != ln.trace_id:
            ref = None
        if ref is None:
            unmatched += 1
            example = example or ln.key()
            continue
        fi, trace_id, problem_id, solution_id, test_id, status, kind = ref
        predicted, nstatus, reason = parse_output(ln.text, kind)
        shards[fi].append(Narration(
            trace_id=trace_id, narrator=NARRATOR, model=ln.model if ln.model is not None else default_model,
            revision="", prompt_sha="", text=ln.text, predicted_output=predicted, status=nstatus, reason=reason,
            problem_id=problem_id, solution_id=solution_id, test_id=test_id, kind=kind,
            meta={"import_line": str(ln.lineno), "import_sha256": sha[:16]}))
        narrated.add(ref)
        if status != "ok":
            not_ok[fi][status] += 1
    if not narrated:
        raise ImportFileError(
            f"none of the {len(lines)} lines of {path} names a trace of {Path(run) / 'traces'} (e.g. {example}); "
            f"check that the narrations were made from this run's traces (by trace_id, or by problem_id, "
            f"solution_id and test_id)")
    return ImportPlan(sha256=sha, lines=len(lines), shards=shards, trace_not_ok=[counter_dict(c) for c in not_ok],
                      unmatched=unmatched, unmatched_example=example,
                      ok_traces_without_narration=sum(1 for r in refs if r[5] == "ok" and r not in narrated))


def import_shard(run: str, files: list[str], shards: list[list[Narration]], trace_not_ok: list[dict[str, int]],
                 rank: int, world: int, ctx: ShardContext) -> None:
    """Write one shard's imported rows, named after its traces file, and its stats."""
    rows = shards[rank]
    name = Path(files[rank]).name.replace("traces-", "narrations-", 1)
    write_parquet_atomic(narrations_to_table(rows), Path(run) / "narrations" / name)
    ctx.report_progress(len(rows))
    ctx.write_stats({"rows": len(rows), "computed": len(rows), "reused": 0,
                     "by_status": counter_dict(Counter(r.status for r in rows)),
                     "trace_not_ok": trace_not_ok[rank], "tokens_in": 0, "tokens_out": 0, "requests": 0,
                     "cache_hits": 0})
