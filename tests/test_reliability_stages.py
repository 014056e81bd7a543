"""Issue 14, items 2-6: failures of our own are `internal_error` and never kept; a later stage refuses
an earlier one that stopped part-way (unless --allow-partial); problems that give nothing to trace
are counted; zero rows is an error; one-line errors instead of tracebacks; one process per run folder.

Each test names the defect it covers; on the code before the fix each of them fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from narrate_helpers import REPO, demo_inputs, traced_run_copy
from tracegen import layout
from tracegen.errors import PipelineError, UserError
from tracegen.records import Limits, Problem, Solution, Test
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox
from tracegen.stage import TraceConfig, run_trace_stage

BROKEN = Limits(max_open_files=-7)  # a limit our sandbox cannot set: the failure is ours, not the program's


def _problem(pid: str = "p", code: str = "print(input())\n", tests: int = 1) -> dict:
    return {"problem_id": pid, "source": "t", "kind": "stdio", "license": "MIT",
            "solutions": [{"solution_id": "s", "code": code, "label": "correct"}] if code else [],
            "tests": [{"test_id": f"t{i}", "input": f"{i}\n", "output": f"{i}\n"} for i in range(tests)]}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- item 2: our own failures are internal_error, fail the stage when they dominate, are never kept ---------
@pytest.mark.parametrize("mode", ["bwrap", "rlimit"])
def test_our_own_failure_in_the_child_is_internal_error_not_the_programs(mode):
    p = Problem("p", "t", "stdio", solutions=[Solution("s", "print(1)\n")], tests=[Test("t", "", None)])
    with Sandbox(mode) as sb:
        tr = trace_one(p, p.solutions[0], p.tests[0], BROKEN, sb)
    assert tr.status == "internal_error", (tr.status, tr.reason)  # was runtime_error "exited (70)"
    assert "sandbox failed" in tr.reason and "ValueError" in tr.reason


def test_a_stage_of_internal_errors_fails_and_its_rows_are_traced_again(tmp_path):
    src = _jsonl(tmp_path / "p.jsonl", [_problem(f"p{i}") for i in range(3)])
    cfg = TraceConfig(inputs=[str(src)], out=str(tmp_path / "run"), shards=2, sandbox="rlimit", limits=BROKEN)
    with pytest.raises(PipelineError) as err:
        run_trace_stage(cfg)
    assert "3 of 3 traces failed inside our sandbox" in str(err.value) and "\n" not in str(err.value)
    assert "internal_error" in layout.unfinished_reason(cfg.out, "trace")
    # a rerun of the same command traces them again (it used to skip the finished shards) ...
    with pytest.raises(PipelineError):
        again = run_trace_stage(cfg)
    again = json.loads((tmp_path / "run" / "stats" / "trace.json").read_text())
    assert again["computed"] == 3 and again["reused"] == 0
    # ... and --reuse of that run takes none of them
    cfg2 = TraceConfig(**{**cfg.__dict__, "out": str(tmp_path / "run2"), "reuse": cfg.out})
    with pytest.raises(PipelineError):
        run_trace_stage(cfg2)
    assert json.loads((tmp_path / "run2" / "stats" / "trace.json").read_text())["reused"] == 0


# -- item 3: a later stage refuses an earlier one that stopped part-way ------------------------------------
def test_curate_and_publish_refuse_an_unfinished_narrate_stage(tmp_path):
    from curation.publish.stage import PublishConfig, run_publish_stage
    from curation.stage import CurateConfig, run_curate_stage
    from tracegen.narrate.stage import NarrateConfig, run_narrate_stage

    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    run_narrate_stage(NarrateConfig(run=str(run)))
    layout.stage_started(run, "narrate")  # as a narrate call killed part-way leaves it
    with pytest.raises(layout.StageIncomplete, match="narrate stage .* is incomplete.*--allow-partial"):
        run_curate_stage(CurateConfig(run=str(run), tokenizer="chars"))
    stats = run_curate_stage(CurateConfig(run=str(run), tokenizer="chars", allow_partial=True))
    assert stats["kept"] > 0 and "incomplete" in stats["partial"]
    with pytest.raises(layout.StageIncomplete, match="narrate"):
        run_publish_stage(PublishConfig(run=str(run), out=str(tmp_path / "ds")))
    run_narrate_stage(NarrateConfig(run=str(run)))  # finishing it (nothing left to do) clears the mark
    run_curate_stage(CurateConfig(run=str(run), tokenizer="chars"))
    assert run_publish_stage(PublishConfig(run=str(run), out=str(tmp_path / "ds")))["version"] == "1.0.0"


def test_narrate_refuses_a_trace_stage_that_was_killed(tmp_path):
    from tracegen.narrate.stage import NarrateConfig, run_narrate_stage

    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    layout.stage_started(run, "trace")
    with pytest.raises(layout.StageIncomplete, match="trace stage"):
        run_narrate_stage(NarrateConfig(run=str(run)))
    assert run_narrate_stage(NarrateConfig(run=str(run), allow_partial=True))["rows"] > 0


# -- item 4: dropped problems are counted, nothing to trace and nothing to publish are errors ----------------
def test_problems_without_solutions_or_tests_are_counted(tmp_path):
    src = _jsonl(tmp_path / "p.jsonl", [_problem("a"), _problem("b", code=""), _problem("c", tests=0)])
    stats = run_trace_stage(TraceConfig(inputs=[str(src)], out=str(tmp_path / "run"), sandbox="rlimit"))
    assert stats["rows"] == 1
    assert stats["problems_without_pairs"] == {"no_solutions": 1, "no_tests": 1}
    assert any("2 problems have nothing to trace" in w for w in stats["warnings"])


def test_an_empty_input_is_an_error_not_an_empty_dataset(tmp_path):
    src = tmp_path / "empty.jsonl"
    src.write_text("")
    with pytest.raises(UserError, match="no \\(solution, test\\) pair"):
        run_trace_stage(TraceConfig(inputs=[str(src)], out=str(tmp_path / "run"), format="canonical"))
    assert not (tmp_path / "run").exists()


def test_publishing_zero_rows_is_an_error(tmp_path):
    from curation.publish.stage import PublishConfig, run_publish_stage
    from curation.stage import CurateConfig, run_curate_stage
    from tracegen.narrate.stage import NarrateConfig, run_narrate_stage

    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    run_narrate_stage(NarrateConfig(run=str(run)))
    run_curate_stage(CurateConfig(run=str(run), tokenizer="chars", min_tokens=10**6, max_tokens=10**6))
    with pytest.raises(UserError, match="nothing to publish: curate kept 0 rows"):
        run_publish_stage(PublishConfig(run=str(run), out=str(tmp_path / "ds")))
    assert not (tmp_path / "ds").exists()


# -- item 5: one line instead of a traceback -----------------------------------------------------------------
def test_trace_out_naming_a_file_is_a_clear_error(tmp_path):
    src = _jsonl(tmp_path / "p.jsonl", [_problem()])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="is a file, not a run folder"):
        run_trace_stage(TraceConfig(inputs=[str(src)], out=str(tmp_path / "afile")))


def test_publish_into_a_folder_whose_parent_does_not_exist(tmp_path):
    from curation.publish.stage import PublishConfig, run_publish_stage
    from curation.stage import CurateConfig, run_curate_stage
    from tracegen.narrate.stage import NarrateConfig, run_narrate_stage

    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    run_narrate_stage(NarrateConfig(run=str(run)))
    run_curate_stage(CurateConfig(run=str(run), tokenizer="chars"))
    out = tmp_path / "not" / "yet" / "ds"
    assert run_publish_stage(PublishConfig(run=str(run), out=str(out)))["version"] == "1.0.0"
    assert (out / "selfexec.json").is_file()


def test_a_file_size_limit_met_by_a_stage_is_one_line(tmp_path):
    """EFBIG (and ENOSPC alike) while a stage writes the run folder: one line, nothing half-written."""
    src = _jsonl(tmp_path / "p.jsonl", [_problem(f"p{i}", tests=3) for i in range(4)])
    script = textwrap.dedent(f"""
        import resource, sys
        from tracegen.errors import UserError
        from tracegen.stage import TraceConfig, run_trace_stage
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.RLIM_INFINITY))
        try:
            run_trace_stage(TraceConfig(inputs=[{str(src)!r}], out={str(tmp_path / 'run')!r}, sandbox="rlimit"))
        except UserError as exc:
            print("USER", exc)
            sys.exit(3)
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "file-size limit" in res.stdout and "rerun the same command" in res.stdout
    assert not list((tmp_path / "run" / "traces").glob("*.parquet"))


def test_recipe_errors_name_the_fix(tmp_path):
    from selfexec.recipe import RecipeError, load_recipe, stage_configs

    r = tmp_path / "r.yaml"
    r.write_text("run: x\ntrace: {inputs: [a.jsonl], wokers: 2}\n")
    with pytest.raises(RecipeError, match="did you mean `trace.workers`"):
        stage_configs(load_recipe(r))
    r.write_text("run: x\ntrce: {inputs: [a.jsonl]}\n")
    with pytest.raises(RecipeError, match="did you mean `trace`"):
        load_recipe(r)
    r.write_text("run: x\ntrace: {workers: 1}\n")
    with pytest.raises(RecipeError) as err:
        stage_configs(load_recipe(r))
    assert "[examples/problems.jsonl]" in str(err.value)


def test_resuming_with_other_settings_names_the_setting(tmp_path):
    src = _jsonl(tmp_path / "p.jsonl", [_problem()])
    cfg = TraceConfig(inputs=[str(src)], out=str(tmp_path / "run"), sandbox="rlimit")
    run_trace_stage(cfg)
    cfg.limits = Limits(timeout_s=5)
    with pytest.raises(UserError, match="limits.timeout_s: 10.0 -> 5"):
        run_trace_stage(cfg)


# -- item 6: one process per run folder ------------------------------------------------------------------------
def test_a_second_process_on_a_run_folder_is_refused_with_who_holds_it(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from tracegen.layout import lock_run
        lock_run({str(run)!r}); print("held", flush=True); time.sleep(60)
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        src = _jsonl(tmp_path / "p.jsonl", [_problem()])
        with pytest.raises(layout.RunBusy) as err:
            run_trace_stage(TraceConfig(inputs=[str(src)], out=str(run), sandbox="rlimit"))
        msg = str(err.value)
        assert f"pid {holder.pid}" in msg and os.uname().nodename in msg and "since" in msg
    finally:
        holder.kill()  # kill -9: the lock goes with the process
        holder.wait()
    assert run_trace_stage(TraceConfig(inputs=[str(src)], out=str(run), sandbox="rlimit"))["rows"] == 1


@pytest.mark.slow
def test_two_selfexec_runs_into_one_folder(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    cli = Path(sys.executable).parent / "selfexec"
    cmd = [str(cli), "run", "recipes/demo.yaml", "--set", f"run={tmp_path / 'r'}", "--set",
           f"publish.out={tmp_path / 'ds'}"]
    first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "r" / layout.LOCK).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out1, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out1
    out2 = second.stdout + second.stderr
    assert second.returncode == 2 and "is in use by another selfexec" in " ".join(out2.split()), out2
    assert f"pid {first.pid}" in out2 and "Traceback" not in out2


def test_non_utf8_input_names_the_line(tmp_path):
    from tracegen.loaders import LoaderError, load_many

    src = tmp_path / "p.jsonl"
    src.write_bytes(json.dumps(_problem("a")).encode() + b"\n" + b'{"problem_id": "b\xff"}\n')
    with pytest.raises(LoaderError, match="p.jsonl line 2, column 18: not valid UTF-8"):
        load_many([src])
