"""The curate stage on real runs: CRUXEval + a CodeContests subset narrated by the template
narrator. The funnel adds up, every reject reason shows up in rejects/ with real rows (the
situations template runs do not produce are injected as extra narrations), reruns are
deterministic, and `selfexec curate` prints the funnel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from curate_helpers import CRUX, HUMANEVAL, REPO, copy_run, load_pairs, tokenizer, write_jsonl

from curation.records import CURATED_SCHEMA, REASONS
from curation.stage import Benchmark, ConfigError, CurateConfig, run_curate_stage
from tracegen.narrate.markup import inline
from tracegen.narrate.records import meta_dict, narrations_to_table
from tracegen.narrate.template_narrator import TemplateNarrator
from tracegen.records import trace_from_row

MAX_TOKENS = 6000  # some CodeContests narrations are longer: real `length` rejects
HELDOUT = 5  # CRUXEval items written to a small "heldout" benchmark file: real `contaminated` rejects


def rows(run: Path, sub: str) -> list[dict]:
    out = []
    for f in sorted((run / sub).glob("*.parquet")):
        assert pq.read_schema(f).equals(CURATED_SCHEMA, check_metadata=False)
        out += pq.read_table(f).to_pylist()
    return out


def inject(run: Path) -> dict[str, int]:
    """Narrations for the situations a template run does not produce, each tagged
    meta["injected"] = the reason it must be rejected for. Returns how many of each."""
    pairs = load_pairs(run)
    crux = sorted(((t, n) for t, n in pairs if t.source == "cruxeval"), key=lambda p: p[0].problem_id)
    out = []

    def tag(n, why, **changes):
        for k, v in changes.items():
            setattr(n, k, v)
        n.meta = {"injected": why}
        n.prompt_sha = f"injected-{why}-{len(out)}"
        out.append(n)

    failed = [trace_from_row(r) for f in sorted((run / "traces").glob("traces-cc-*.parquet"))
              for r in pq.read_table(f).to_pylist() if r["status"] != "ok"]
    assert failed, "the CodeContests subset has runs stopped by the event budget"
    tag(TemplateNarrator().narrate(failed[0]), "trace_status")  # a narrator that did not skip it
    t, n = crux[0]
    tag(TemplateNarrator().narrate(t), "trace_status", trace_id="0" * 32)  # its trace is missing
    t, n = crux[1]
    tag(TemplateNarrator().narrate(t), "narration_status", status="server_error", text="",
        reason="HTTP 503 after 4 retries")
    t, n = crux[2]
    tag(TemplateNarrator().narrate(t), "bad_output", text=n.text[:n.text.rfind("[OUTPUT]")])
    t, n = crux[3]
    tag(TemplateNarrator().narrate(t), "bad_output", text=n.text[:n.text.rfind("[OUTPUT]")] + "[OUTPUT]\nf(3)\n[/OUTPUT]")
    t, n = crux[4]
    tag(TemplateNarrator().narrate(t), "output_mismatch",
        text=n.text[:n.text.rfind("[OUTPUT]")] + "[OUTPUT]\n'not what it returns'\n[/OUTPUT]")
    t, n = crux[5]
    tag(TemplateNarrator().narrate(t), "trace_talk", text="Following the trace step by step: " + n.text)
    t, n = crux[6]
    first = n.text.index("\n\n")
    tag(TemplateNarrator().narrate(t), "unknown_variable",
        text=n.text[:first] + " Then `ghost_total` becomes `3`." + n.text[first:])
    t, n = crux[7]
    name, value = next((c["name"], c["value"]) for c in t.events[0]["changes"])
    said = f"{inline(name)} = {inline(value)}"
    assert said in n.text
    tag(TemplateNarrator().narrate(t), "wrong_claim", text=n.text.replace(said, f"{inline(name)} = `'never-held'`", 1))
    t, n = crux[8]
    tag(TemplateNarrator(seed=1).narrate(t), "duplicate")  # a second narration of the same run
    t, n = crux[9]
    first = n.text.index("\n\n")
    tag(TemplateNarrator().narrate(t), "ungrounded_value",  # a value no claim, input or constant accounts for
        text=n.text[:first] + " Somewhere along the way the number 918273645 comes up." + n.text[first:])
    path = run / "narrations" / "narrations-injected.parquet"
    pq.write_table(narrations_to_table(out), path)
    return Counter(n.meta["injected"] for n in out)


def test_funnel_over_cruxeval_and_codecontests(tmp_path):
    run = copy_run(tmp_path / "run", crux=True, codecontests=True)
    inject(run)
    narrated = sum(pq.read_metadata(f).num_rows for f in (run / "narrations").glob("*.parquet"))
    crux_records = [json.loads(line) for line in CRUX.read_text().splitlines()]
    heldout = write_jsonl(tmp_path / "heldout.jsonl", crux_records[100:100 + HELDOUT])
    cfg = CurateConfig(run=str(run), benchmarks=[Benchmark("heldout", str(heldout)), Benchmark("humaneval", str(HUMANEVAL))],
                       tokenizer=tokenizer(), max_tokens=MAX_TOKENS)
    stats = run_curate_stage(cfg)
    kept, rejected = rows(run, "curated"), rows(run, "rejects")

    # the funnel adds up, overall and per source, and matches the files
    assert stats["in"] == narrated == len(kept) + len(rejected)
    assert stats["in"] == stats["kept"] + sum(stats["by_reason"].values())
    for src in stats["by_source"].values():
        assert src["in"] == src["kept"] + sum(src["by_reason"].values())
    assert set(stats["by_source"]) >= {"cruxeval", "codecontests_py300"}
    assert stats["kept"] == len(kept) and all(r["kept"] and r["reject_reason"] == "" for r in kept)
    assert all(not r["kept"] and r["reject_reason"] in REASONS and r["reject_detail"] for r in rejected)
    assert json.loads((run / "stats" / "curate.json").read_text()) == stats
    assert Counter(r["reject_reason"] for r in rejected) == {k: v for k, v in stats["by_reason"].items() if v}

    # every reason appears, with real rows
    print("\nfunnel:", {k: v for k, v in stats["by_reason"].items()}, "kept", stats["kept"], "of", stats["in"])
    for reason in REASONS:
        assert stats["by_reason"][reason] >= 1, f"no {reason} rows"
    for r in rejected:
        want = r["meta"] and meta_dict(r["meta"]).get("injected")
        if want and want != "duplicate":
            assert r["reject_reason"] == want, (r["trace_id"], r["reject_detail"])
    # reasons real data gives: the 5 held-out CRUXEval items, long CodeContests narrations, and
    # CodeContests problems posted twice (one exact, one edited a little)
    # (sample_74 is sample_101 with other names: caught too)
    contaminated = {r["problem_id"] for r in rejected if r["reject_reason"] == "contaminated"}
    assert contaminated >= {f"cruxeval/{rec['id']}" for rec in crux_records[100:100 + HELDOUT]} | {"cruxeval/sample_74"}
    assert stats["contaminated_by_benchmark"] == {"heldout": len(contaminated)}
    assert all(r["n_tokens"] > MAX_TOKENS for r in rejected if r["reject_reason"] == "length")
    assert any(r["source"] == "codecontests_py300" for r in rejected if r["reject_reason"] == "duplicate")
    near = [r for r in rejected if r["reject_reason"] == "near_duplicate"]
    assert near and all("pluses_everywhere" in r["problem_id"] for r in near)
    # exactly one of the two narrations of the same run is kept
    dup_trace = next(r["trace_id"] for r in kept + rejected if r["meta"] and meta_dict(r["meta"]).get("injected") == "duplicate")
    pair = [r for r in kept + rejected if r["trace_id"] == dup_trace]
    assert sorted(r["reject_reason"] for r in pair) == ["", "duplicate"]
    assert [r["duplicate_of"] for r in pair if r["reject_reason"] == "duplicate"] == [dup_trace]
    # every untouched template narration passed verification (no false rejects)
    verification = ("bad_output", "output_mismatch", "trace_talk", "unknown_variable", "wrong_claim",
                    "ungrounded_value")
    assert all(r["meta"] and meta_dict(r["meta"]).get("injected") for r in rejected if r["reject_reason"] in verification)
    assert stats["claims"]["claims_checked"] > 10_000 and stats["traces"]["rows"] > 0

    # a rerun skips the finished shards and gives the same rows
    again = run_curate_stage(cfg)
    assert again["by_reason"] == stats["by_reason"] and rows(run, "curated") == kept and rows(run, "rejects") == rejected


def test_config_errors_say_what_to_change(tmp_path):
    with pytest.raises(ConfigError, match="selfexec narrate"):
        run_curate_stage(CurateConfig(run=str(tmp_path)))
    run = copy_run(tmp_path / "run")
    with pytest.raises(ConfigError, match="benchmark file not found"):
        run_curate_stage(CurateConfig(run=str(run), benchmarks=[Benchmark("x", str(tmp_path / "nope.jsonl"))]))
    with pytest.raises(ConfigError, match="min_tokens"):
        run_curate_stage(CurateConfig(run=str(run), min_tokens=10, max_tokens=5))
    with pytest.raises(ConfigError, match="unknown curate settings"):
        CurateConfig.from_dict({"run": str(run), "treshold": 0.5})
    cfg = CurateConfig.from_dict({"run": str(run), "benchmarks": ["h=" + str(HUMANEVAL)], "near_dup_threshold": 0})
    assert cfg.benchmarks[0].name == "h" and cfg.near is None


def test_cli_prints_the_funnel(tmp_path):
    run = copy_run(tmp_path / "run")
    env = {**os.environ, "COLUMNS": "120"}
    res = subprocess.run([sys.executable, "-m", "selfexec.cli", "curate", str(run), "--tokenizer", "chars",
                          "--benchmark", f"cruxeval={CRUX}"], capture_output=True, text=True, cwd=REPO, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    assert "curate: 0 of 800 rows kept" in res.stdout and "contaminated" in res.stdout
    assert "cruxeval 800" in res.stdout  # contaminated by benchmark
    stats = json.loads((run / "stats" / "curate.json").read_text())
    assert stats["by_reason"]["contaminated"] == 800
    bad = subprocess.run([sys.executable, "-m", "selfexec.cli", "curate", str(tmp_path / "none")],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert bad.returncode == 2 and "selfexec narrate" in bad.stderr
