"""`selfexec narrate RUN --narrator import --input FILE.jsonl`: narrations made elsewhere become
Narration rows of real traces (the demo problems through the real trace stage), with every
malformed file refused before anything is written, and `curate` verifies them like any other."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from narrate_helpers import demo_inputs, load_traces, trace_code, traced_run_copy, write_traces

from tracegen.narrate.output import parse_output
from tracegen.narrate.records import NARRATION_SCHEMA, narration_from_row
from tracegen.narrate.stage import ConfigError, NarrateConfig, run_narrate_stage
from tracegen.narrate.template_narrator import TemplateNarrator


def _rows(run: Path) -> dict[str, list]:
    """{narrations file name: its rows}, each file checked against the Narration schema."""
    out = {}
    for f in sorted((run / "narrations").glob("*.parquet")):
        assert pq.read_schema(f).equals(NARRATION_SCHEMA, check_metadata=False)
        out[f.name] = [narration_from_row(r) for r in pq.read_table(f).to_pylist()]
    return out


def _all(run: Path) -> list:
    return [r for rows in _rows(run).values() for r in rows]


def _write(path: Path, lines: list) -> Path:
    """Objects are written as JSON, strings as they are (for broken lines)."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _texts(traces, seed: int = 0) -> dict[str, str]:
    """Real narrations of the ok traces (the template narrator's), by trace_id: what an outside
    batch would send back."""
    ok = [t for t in traces if t.status == "ok"]
    return {n.trace_id: n.text for n in TemplateNarrator(seed=seed).narrate_batch(ok)}


def _import(run: Path, path: Path, **kw) -> dict:
    return run_narrate_stage(NarrateConfig(run=str(run), narrator="import", input=str(path), **kw))


@pytest.fixture
def demo(tmp_path):
    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    traces = load_traces(run)
    assert sum(t.status != "ok" for t in traces) == 1  # demo/buggy_mean on [] divides by zero
    return run, traces


def test_import_by_trace_id_and_by_ids_keeps_candidates_and_counts_unmatched(demo, tmp_path):
    run, traces = demo
    ok = [t for t in traces if t.status == "ok"]
    failed = next(t for t in traces if t.status != "ok")
    texts, other = _texts(traces), _texts(traces, seed=7)
    first = ok[0]
    assert other[first.trace_id] != texts[first.trace_id]  # a second, different candidate
    lines = []
    for i, t in enumerate(ok):
        if i % 2:
            lines.append({"trace_id": t.trace_id, "text": texts[t.trace_id], "model": "batch-model", "score": 0.5})
        else:
            lines.append({"problem_id": t.problem_id, "solution_id": t.solution_id, "test_id": t.test_id,
                          "text": texts[t.trace_id]})
    lines += [
        "",  # blank lines are skipped
        {"trace_id": first.trace_id, "text": other[first.trace_id], "model": "batch-model"},
        {"trace_id": "0" * 32, "text": "nobody's trace\n[OUTPUT]\n1\n[/OUTPUT]"},
        {"problem_id": "demo/nope", "solution_id": "ref", "test_id": "t0", "text": "x"},
        {"trace_id": failed.trace_id, "text": "It divides by zero.\n[OUTPUT]\nNone\n[/OUTPUT]"},
        {"trace_id": ok[1].trace_id, "text": "No block at all."},
        {"trace_id": ok[2].trace_id, "text": "It returns a call.\n[OUTPUT]\nf(3)\n[/OUTPUT]"},
    ]
    path = _write(tmp_path / "batch.jsonl", lines)
    stats = _import(run, path, model="default-model")

    by_file = _rows(run)
    # one narrations file per traces file, each row in the file of its trace
    assert sorted(by_file) == sorted(f.name.replace("traces-", "narrations-") for f in (run / "traces").iterdir())
    file_of = {(t.trace_id, t.test_id): f.name.replace("traces-", "narrations-")
               for f in (run / "traces").iterdir() for t in load_traces_file(f)}
    rows = [r for rows in by_file.values() for r in rows]
    for name, rs in by_file.items():
        assert all(file_of[(r.trace_id, r.test_id)] == name for r in rs)
    n_lines = len(ok) + 6
    assert len(rows) == n_lines - 2  # the two lines that name no trace are not rows
    assert {r.narrator for r in rows} == {"import"}
    by_id = {(t.trace_id, t.problem_id, t.solution_id, t.test_id): t for t in traces}
    for r in rows:  # ids and kind come from the trace, whichever way the line named it
        t = by_id[(r.trace_id, r.problem_id, r.solution_id, r.test_id)]
        assert r.kind == t.kind
        assert (r.predicted_output, r.status, r.reason) == parse_output(r.text, t.kind)  # parsed as everywhere
    mine = [r for r in rows if r.trace_id == first.trace_id]
    assert [r.text for r in mine] == [texts[first.trace_id], other[first.trace_id]]  # both candidates, file order
    assert [r.model for r in mine] == ["default-model", "batch-model"]  # the line's model, else --model
    assert {r.status for r in rows if r.trace_id not in (ok[1].trace_id, ok[2].trace_id)} == {"ok"}
    assert {r.status for r in rows if r.meta["import_line"] == str(len(ok) + 6)} == {"no_output_block"}
    assert {r.status for r in rows if r.meta["import_line"] == str(len(ok) + 7)} == {"bad_output"}
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert {r.meta["import_sha256"] for r in rows} == {sha[:16]}

    assert stats["lines"] == n_lines and stats["rows"] == len(rows) == stats["computed"]
    assert stats["unmatched"] == 2
    assert stats["unmatched_example"] == f"line {len(ok) + 3}: trace_id {'0' * 32!r}"
    assert stats["trace_not_ok"] == {failed.status: 1}  # imported; curate rejects it (trace_status)
    assert stats["by_status"] == {"ok": len(rows) - 2, "no_output_block": 1, "bad_output": 1}
    assert stats["ok_traces_without_narration"] == 0 and stats["input_sha256"] == sha
    assert json.loads((run / "stats" / "narrate.json").read_text())["unmatched"] == 2

    # the same file again: nothing is rewritten
    before = {f.name: f.stat().st_mtime_ns for f in (run / "narrations").glob("*.parquet")}
    again = _import(run, path, model="default-model")
    assert again["shards_run_this_call"] == 0 and again["rows"] == len(rows)
    assert {f.name: f.stat().st_mtime_ns for f in (run / "narrations").glob("*.parquet")} == before
    # a changed file is refused without --overwrite, and replaces the rows with it
    _write(path, lines[:3])
    with pytest.raises(ConfigError, match="other content.*--overwrite"):
        _import(run, path, model="default-model")
    assert {f.name: f.stat().st_mtime_ns for f in (run / "narrations").glob("*.parquet")} == before
    redo = _import(run, path, model="default-model", overwrite=True)
    assert redo["rows"] == 3 and len(_all(run)) == 3 and redo["ok_traces_without_narration"] == len(ok) - 3


def load_traces_file(f: Path):
    from tracegen.records import trace_from_row

    return [trace_from_row(r) for r in pq.read_table(f).to_pylist()]


def test_a_trace_id_shared_by_two_tests_goes_to_the_ok_row_and_ids_pick_the_exact_row(tmp_path):
    t = trace_code("def f(x):\n    y = x + 1\n    return y\n", test_input="2")
    assert t.status == "ok"
    # two tests with the same input share the trace_id; the first one's run timed out
    first = dataclasses.replace(t, test_id="t0", status="timeout", reason="wall-clock limit")
    second = dataclasses.replace(t, test_id="t1")
    run = write_traces(tmp_path / "run", [first, second])
    path = _write(tmp_path / "n.jsonl", [
        {"trace_id": t.trace_id, "text": "y is 3\n[OUTPUT]\n3\n[/OUTPUT]"},
        {"trace_id": t.trace_id, "problem_id": t.problem_id, "solution_id": t.solution_id, "test_id": "t0",
         "text": "again\n[OUTPUT]\n3\n[/OUTPUT]"},
        {"trace_id": "f" * 32, "problem_id": t.problem_id, "solution_id": t.solution_id, "test_id": "t1",
         "text": "ids of a row with another trace_id: no match"},
    ])
    stats = _import(run, path)
    assert [(r.test_id, r.text.split()[0]) for r in _all(run)] == [("t1", "y"), ("t0", "again")]
    assert stats["trace_not_ok"] == {"timeout": 1} and stats["unmatched"] == 1


@pytest.mark.parametrize("lines, message", [
    ([{"trace_id": "a", "text": "t"}, '{"trace_id": "b", "text": "oops}'], r"n\.jsonl line 2 is not valid JSON"),
    ([{"trace_id": "a", "text": "t"}, "", "{not json"], r"line 3 is not valid JSON \(Expecting"),
    ([{"trace_id": "a"}], r"line 1: missing `text`"),
    ([{"trace_id": "a", "text": "t"}, {"problem_id": "p", "solution_id": "s", "text": "t"}],
     r"line 2: missing `trace_id`, and `test_id` of the \(problem_id, solution_id, test_id\) triple"),
    ([{"text": "t"}], r"line 1: missing `trace_id`, and `problem_id`, `solution_id`, `test_id`"),
    ([["trace_id", "a"]], r"line 1 is a JSON list, not an object"),
    ([{"trace_id": "a", "text": ["t"]}], r"line 1: `text` must be a string"),
    ([{"trace_id": "a", "text": "t", "model": 3}], r"line 1: `model` must be a string"),
    (["", "  "], r"holds no narrations"),
])
def test_a_malformed_file_names_line_and_field_and_writes_nothing(demo, tmp_path, lines, message):
    run, traces = demo
    path = _write(tmp_path / "n.jsonl", lines)
    with pytest.raises(ConfigError, match=message):
        _import(run, path)
    assert not (run / "narrations").exists() and not (run / "logs" / "narrate").exists()


def test_refusals_leave_earlier_narrations_alone(demo, tmp_path):
    run, traces = demo
    texts = _texts(traces)
    good = _write(tmp_path / "good.jsonl", [{"trace_id": k, "text": v} for k, v in texts.items()])
    _import(run, good)
    before = {f.name: f.read_bytes() for f in (run / "narrations").glob("*.parquet")}
    # no line names a trace of this run: an empty result is an error, even with --overwrite
    stranger = _write(tmp_path / "stranger.jsonl", [{"trace_id": "1" * 32, "text": "a"},
                                                    {"problem_id": "x", "solution_id": "y", "test_id": 0, "text": "b"}])
    with pytest.raises(ConfigError, match=r"none of the 2 lines .* names a trace .*\(e\.g\. line 1: trace_id '1+'\)"):
        _import(run, stranger, overwrite=True)
    bad = _write(tmp_path / "bad.jsonl", [{"trace_id": "a", "text": "t"}, "{"])
    with pytest.raises(ConfigError, match="line 2"):
        _import(run, bad, overwrite=True)
    with pytest.raises(ConfigError, match="no such file"):
        _import(run, tmp_path / "missing.jsonl", overwrite=True)
    with pytest.raises(ConfigError, match="needs --input"):
        run_narrate_stage(NarrateConfig(run=str(run), narrator="import", overwrite=True))
    with pytest.raises(ConfigError, match="only read by --narrator import"):
        run_narrate_stage(NarrateConfig(run=str(run), input=str(good), overwrite=True))
    with pytest.raises(ConfigError, match="--max-traces"):
        _import(run, good, max_traces=3, overwrite=True)
    with pytest.raises(ConfigError, match="--overwrite"):  # another narrator over imported rows
        run_narrate_stage(NarrateConfig(run=str(run)))
    assert {f.name: f.read_bytes() for f in (run / "narrations").glob("*.parquet")} == before
    # the same file into a fresh copy gives the same bytes
    run2 = traced_run_copy(demo_inputs(), tmp_path / "run2")
    _import(run2, good)
    assert {f.name: f.read_bytes() for f in (run2 / "narrations").glob("*.parquet")} == before


def _cli(*args: str):
    from typer.testing import CliRunner

    from selfexec.cli import app

    res = CliRunner().invoke(app, list(args))
    return res.exit_code, " ".join(res.output.split())  # rich wraps lines at the terminal width


def test_cli_exit_codes_and_messages(demo, tmp_path):
    run, traces = demo
    texts = _texts(traces)
    lines = [{"trace_id": k, "text": v} for k, v in texts.items()] + [{"trace_id": "dead" * 8, "text": "x"}]
    good = _write(tmp_path / "good.jsonl", lines)
    code, out = _cli("narrate", str(run), "--narrator", "import", "--input", str(good))
    assert code == 0, out
    assert f"narrate: {len(texts)} rows imported from {len(texts) + 1} lines" in out
    assert f"warning: 1 of {len(texts) + 1} lines name no trace" in out
    assert f"e.g. line {len(texts) + 1}: trace_id '{'dead' * 8}'" in out
    assert "of these, trace" not in out  # no line named the failed run
    code, out = _cli("narrate", str(run), "-n", "import", "-i", str(good))
    assert code == 0 and "shards written this call 0/" in out  # nothing to redo

    bad = _write(tmp_path / "bad.jsonl", [lines[0], '{"trace_id": "x", "text": [OUTPUT]}'])
    for args, message in [
        (["--input", str(bad)], "bad.jsonl line 2 is not valid JSON"),
        (["--input", str(tmp_path / "missing.jsonl")], "no such file"),
        ([], "--narrator import needs --input"),
        (["--input", str(_write(tmp_path / "m.jsonl", [{"problem_id": "p", "text": "t"}]))],
         "line 1: missing `trace_id`, and `solution_id`, `test_id`"),
        (["--input", str(_write(tmp_path / "none.jsonl", [{"trace_id": "1" * 32, "text": "t"}]))],
         "none of the 1 lines"),
    ]:
        code, out = _cli("narrate", str(run), "--narrator", "import", "--overwrite", *args)
        assert code == 2 and message in out and "Traceback" not in out, (args, out)
    code, out = _cli("narrate", str(run), "--input", str(good))
    assert code == 2 and "--input is only read by --narrator import" in out
    assert len(_all(run)) == len(texts)  # none of the refusals touched the imported rows


def test_curate_verifies_imported_rows(demo, tmp_path):
    import datasets

    from curation.stage import CurateConfig, run_curate_stage

    run, traces = demo
    ok = [t for t in traces if t.status == "ok"]
    failed = next(t for t in traces if t.status != "ok")
    texts = _texts(traces)

    def curated(run_dir: Path, lines: list, overwrite: bool = False) -> tuple[dict, list, list]:
        _import(run_dir, _write(run_dir.parent / f"{run_dir.name}-{len(lines)}.jsonl", lines), overwrite=overwrite)
        stats = run_curate_stage(CurateConfig(run=str(run_dir), tokenizer="chars"))

        def load(sub: str) -> list:  # with `datasets`, as users read them (it refuses a folder of 0 rows)
            if not sum(pq.read_metadata(f).num_rows for f in (run_dir / sub).glob("*.parquet")):
                return []
            return datasets.load_dataset("parquet", data_files=str(run_dir / sub / "*.parquet"), split="train").to_list()

        return stats, load("curated"), load("rejects")

    def text_of(rows: list) -> dict:
        return {r["trace_id"]: r["text"] for r in rows}

    def why(rows: list) -> set:
        return {(r["trace_id"], r["reject_reason"]) for r in rows}

    # one narration per ok trace, as an outside batch would send them back
    base = [{"trace_id": t.trace_id, "text": texts[t.trace_id], "model": "m"} for t in ok]
    stats0, kept0, rejects0 = curated(run, base)
    assert stats0["in"] == len(ok) == len(kept0) + len(rejects0) and len(kept0) >= len(ok) // 2
    kept_ids = {r["trace_id"] for r in kept0}
    fn = next(t for t in ok if t.kind == "function" and t.trace_id in kept_ids)
    twice = next(t for t in ok if t.trace_id in kept_ids and t is not fn)
    cut = texts[fn.trace_id].rfind("[OUTPUT]")
    extra = [  # a wrong candidate, a narration of the failed run, and a second right candidate
        {"trace_id": fn.trace_id, "text": texts[fn.trace_id][:cut] + "[OUTPUT]\n'not what it returns'\n[/OUTPUT]"},
        {"trace_id": failed.trace_id, "text": "It fails.\n[OUTPUT]\nNone\n[/OUTPUT]", "model": "m"},
        {"trace_id": twice.trace_id, "text": texts[twice.trace_id] + "\n", "model": "m"},
    ]
    stats, kept, rejects = curated(run, base + extra, overwrite=True)
    assert stats["in"] == len(ok) + 3 and text_of(kept).keys() == text_of(kept0).keys()  # one kept row per trace
    assert text_of(kept)[twice.trace_id] in (texts[twice.trace_id], extra[2]["text"])
    assert {r["narrator"] for r in kept + rejects} == {"import"} and {r["model"] for r in kept} == {"m"}
    assert why(rejects) == why(rejects0) | {(fn.trace_id, "output_mismatch"), (failed.trace_id, "trace_status"),
                                            (twice.trace_id, "duplicate")}
    dup = next(r for r in rejects if r["reject_reason"] == "duplicate")
    assert dup["duplicate_of"] == twice.trace_id
    assert stats["by_narrator"]["import"] == {**stats["by_narrator"]["import"], "in": len(ok) + 3,
                                              "kept": len(kept0)}

    # which of the two right candidates survives dedup does not depend on the order of the lines
    run2 = traced_run_copy(demo_inputs(), tmp_path / "run2")
    _, kept2, rejects2 = curated(run2, extra[::-1] + base[::-1])
    assert text_of(kept2) == text_of(kept)
    assert sorted((r["trace_id"], r["reject_reason"], r["text"]) for r in rejects2) == \
        sorted((r["trace_id"], r["reject_reason"], r["text"]) for r in rejects)


def test_recipe_takes_the_input_key(tmp_path):
    from selfexec.recipe import load_recipe, stage_configs

    recipe = tmp_path / "r.yaml"
    recipe.write_text("run: runs/x\ntrace: {inputs: [a.jsonl]}\nnarrate: {narrator: import, input: batch.jsonl}\n")
    cfg = stage_configs(load_recipe(recipe))["narrate"]
    assert (cfg.narrator, cfg.input) == ("import", "batch.jsonl")


def test_doctest_examples():
    import doctest

    from tracegen.narrate import import_narrator

    result = doctest.testmod(import_narrator)
    assert result.attempted and not result.failed
