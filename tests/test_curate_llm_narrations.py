"""LLM-style narrations of real traces, in pairs (true, and with exactly one planted error), through
the stages a user runs: trace → narrate --narrator import → curate (dedup off: twins narrate one
trace). Sets: ../shared/data/llm_style_narrations (113) and tests/data/llm_narrations (191,
written for this suite on other CRUXEval and CodeContests programs).

Figures are printed; the bars are the issue's on the shared set, and on ours the figures measured
when the verifier landed (a regression guard, not the goal: see the README)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from curate_helpers import CODECONTESTS, CRUX, SHARED_DATA, need_data

from curation.stage import CurateConfig, run_curate_stage
from tracegen.narrate.stage import NarrateConfig, run_narrate_stage
from tracegen.stage import TraceConfig, run_trace_stage

OURS = sorted((Path(__file__).parent / "data" / "llm_narrations").glob("*.jsonl"))
SHARED = SHARED_DATA / "llm_style_narrations" / "narrations.jsonl"


def _cases(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]


def _problems(cases: list[dict], dest: Path) -> list[str]:
    """The CRUXEval items and CodeContests problems the cases narrate (CodeContests: only the
    tests they name), as the original files' lines."""
    crux_ids = {c["problem_id"].split("/", 1)[1] for c in cases if c["problem_id"].startswith("cruxeval/")}
    cc_tests: dict[str, set[str]] = {}
    for c in cases:
        if c["problem_id"].startswith("codecontests/"):
            cc_tests.setdefault(c["problem_id"].split("/", 1)[1], set()).add(str(c["test_id"]))
    crux = [line for line in CRUX.read_text().splitlines() if json.loads(line)["id"] in crux_ids]
    cc = []
    for line in CODECONTESTS.read_text().splitlines():
        rec = json.loads(line)
        if rec["id"] in cc_tests:
            rec["tests"] = [t for t in rec["tests"] if str(t["name"]) in cc_tests[rec["id"]]]
            cc.append(json.dumps(rec))
    paths = []
    for name, lines in (("crux.jsonl", crux), ("cc.jsonl", cc)):
        if lines:
            (dest / name).write_text("\n".join(lines) + "\n")
            paths.append(str(dest / name))
    return paths


def _score(cases: list[dict], tmp: Path) -> dict:
    run = tmp / "run"
    run_trace_stage(TraceConfig(inputs=_problems(cases, tmp), out=str(run), workers=2, shards=2))
    imp = tmp / "import.jsonl"
    imp.write_text("".join(json.dumps({k: c[k] for k in ("problem_id", "solution_id", "test_id", "text")} |
                                      {"model": "handwritten-llm-style"}) + "\n" for c in cases))
    run_narrate_stage(NarrateConfig(run=str(run), narrator="import", input=str(imp)))
    run_curate_stage(CurateConfig(run=str(run), exact_dedup=False, near_dup_threshold=0, tokenizer="chars",
                                  min_tokens=0))
    verdicts = {}
    for sub in ("curated", "rejects"):
        for f in sorted((run / sub).glob("*.parquet")):
            for r in pq.read_table(f, columns=["text", "kept", "reject_reason", "literals",
                                               "literals_accounted"]).to_pylist():
                verdicts[r["text"]] = r
    tally: Counter = Counter()
    missed = []
    for c in cases:
        v = verdicts[c["text"]]  # every case has a verdict
        tally[c["kind"], v["kept"]] += 1
        if v["kept"] == (c["kind"] != "correct"):
            missed.append((c["kind"], c["problem_id"], v["reject_reason"], c.get("error", "")[:80]))
    lits = sum(v["literals"] for v in verdicts.values())
    acc = sum(v["literals_accounted"] for v in verdicts.values())
    rate = {k: tally[k, False] / max(1, tally[k, False] + tally[k, True])
            for k in ("correct", "wrong_intermediate", "wrong_final")}
    print(f"\n{len(cases)} narrations: wrong intermediate rejected {rate['wrong_intermediate']:.1%} "
          f"({tally['wrong_intermediate', False]}/{tally['wrong_intermediate', False] + tally['wrong_intermediate', True]}), "
          f"wrong final rejected {rate['wrong_final']:.1%}, correct falsely rejected {rate['correct']:.1%} "
          f"({tally['correct', False]}/{tally['correct', False] + tally['correct', True]}); "
          f"literals accounted for {acc}/{lits} ({acc / max(lits, 1):.1%})")
    for m in missed:
        print("  missed:", *m)
    return rate


def test_shared_llm_style_set_meets_the_bars(tmp_path):
    need_data()
    rate = _score(_cases([SHARED]), tmp_path)
    assert rate["wrong_intermediate"] >= 0.97
    assert rate["wrong_final"] == 1.0
    assert rate["correct"] <= 0.05


def test_our_llm_style_sets(tmp_path):
    need_data()
    cases = _cases(OURS)
    assert len(cases) >= 150 and {c["kind"] for c in cases} == {"correct", "wrong_intermediate", "wrong_final"}
    rate = _score(cases, tmp_path)
    assert rate["wrong_final"] == 1.0
    assert rate["correct"] <= 0.05
    assert rate["wrong_intermediate"] >= 0.60  # measured 0.65 when this landed; the goal is 0.97
