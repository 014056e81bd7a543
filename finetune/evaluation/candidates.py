"""Precomputed candidate programs for `selfexec solve --candidates FILE`, matched to the problems.

Two layouts, one JSON object per line:
- ours: `{"problem_id": ..., "code": "..."}` (one candidate a line) or `{"problem_id": ..., "candidates": [...]}`;
- CodeT's (`humaneval_codegen16b_samples`): `{"prompt": ..., "samples": [...]}`, each candidate being
  `prompt + sample`. Lines are matched to problems through `line_to_task_id.json` next to the file when
  there is one, else on the first 120 whitespace-normalised characters of the prompt (CodeT removed
  the docstring examples, so the start of the prompt is what the two files share).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tracegen.errors import UserError
from tracegen.records import Problem

PREFIX_CHARS = 120


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:PREFIX_CHARS]


def load_candidates(path: str | Path, problems: list[Problem]) -> dict[str, list[str]]:
    """problem_id -> candidate programs, in file order. Lines of problems that were not loaded are
    skipped (a --max-problems cut); a CodeT line that matches no problem, or a file that names none of
    them, is an error (a wrong pairing would score the wrong programs)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--candidates {path}: file not found (give a JSONL file of candidates)")
    ids = {p.problem_id for p in problems}
    by_prefix = {_squash(p.statement): p.problem_id for p in problems if p.statement}
    mapping_file = path.parent / "line_to_task_id.json"
    line_ids = json.loads(mapping_file.read_text()).get("map", {}) if mapping_file.is_file() else {}
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            where = f"{path}:{i + 1}"
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise UserError(f"{where}: not a JSON object ({exc.msg}); each line must be one candidate record") from exc
            if not isinstance(rec, dict):
                raise UserError(f"{where}: a line must be a JSON object")
            if "samples" in rec and "prompt" in rec:  # CodeT
                pid = line_ids.get(str(i)) or by_prefix.get(_squash(str(rec["prompt"])))
                if pid is None:
                    raise UserError(f"{where}: this CodeT line's prompt matches no loaded problem's statement "
                                    "(load the problem set the candidates were sampled for, e.g. HumanEval)")
                codes = [str(rec["prompt"]) + str(s) for s in rec["samples"]]
            elif "problem_id" in rec and ("code" in rec or "candidates" in rec):
                pid = str(rec["problem_id"])
                codes = [str(rec["code"])] if "code" in rec else [str(c) for c in rec["candidates"]]
            else:
                raise UserError(f"{where}: expected {{problem_id, code}}, {{problem_id, candidates}} or CodeT's "
                                f"{{prompt, samples}}; found keys {sorted(rec)[:8]}")
            if pid in ids:
                out.setdefault(pid, []).extend(codes)
    if not out:
        raise UserError(f"--candidates {path}: no line names a loaded problem (problem ids such as "
                        f"{sorted(ids)[:2]}); check that the candidates belong to these problems")
    return out
