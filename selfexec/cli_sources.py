"""`selfexec mutate` and `selfexec synth-inputs`: more signal from the problems we have (issue 15).

Both read problem files in any known format (or with --columns), and write canonical JSONL that every
other command loads: mutate appends `incorrect` solutions with their `divergence`, synth-inputs appends
tests with their `origin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from selfexec.terminal import make_console  # piped output is not wrapped mid-sentence

console = make_console()
err_console = make_console(stderr=True)


def _load(problems: list[Path], format: str, columns: Optional[str], max_problems: Optional[int]):
    from tracegen.loaders import LoadReport, load_many

    report = LoadReport()
    loaded = load_many(problems, format, columns, report)
    if report.summary():
        console.print(f"loading: {escape(report.summary())}")
    return loaded[:max_problems] if max_problems else loaded


def _fail(exc: Exception) -> None:
    err_console.print(f"[red]error:[/red] {escape(str(exc))}")
    raise typer.Exit(2)


def mutate(
    problems: list[Path] = typer.Argument(..., help="Problem files (any known format) with correct solutions."),
    out: Path = typer.Option(..., "--out", "-o", help="Canonical JSONL: the problems with their mutants added."),
    format: str = typer.Option("auto", "--format", "-f", help="Problem file format (auto-detected by default)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="FIELD=COLUMN,... for a set of unknown layout."),
    per_solution: int = typer.Option(5, "--per-solution", help="Mutants kept per correct solution (at most)."),
    max_attempts: int = typer.Option(40, "--max-attempts", help="Mutation sites tried per correct solution."),
    max_tests: int = typer.Option(10, "--max-tests", help="Tests a mutant runs on (public first)."),
    workers: int = typer.Option(0, "--workers", "-w", help="Parallel problems (0: one per CPU)."),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | bwrap | rlimit"),
    seed: int = typer.Option(0, "--seed", help="Order in which mutation sites are tried."),
    max_problems: Optional[int] = typer.Option(None, "--max-problems", help="Only the first N problems."),
) -> None:
    """Incorrect variants of correct solutions (AST mutants) that fail a test, with their first divergent step."""
    from tracegen.errors import PipelineError, UserError
    from tracegen.loaders import write_canonical_jsonl
    from tracegen.mutants import MutateConfig, mutate_problems
    from tracegen.sandbox import SandboxError

    from .cli import _progress

    cfg = MutateConfig(per_solution=per_solution, max_attempts=max_attempts, max_tests=max_tests, workers=workers,
                       sandbox=sandbox, seed=seed)
    try:
        loaded = _load(problems, format, columns, max_problems)
        if not any(s.label == "correct" for p in loaded for s in p.solutions):
            raise UserError("no problem has a solution labelled 'correct': mutants are made from correct solutions "
                            "(check the file, or label its solutions)")
        with _progress("mutating") as update:
            result, stats = mutate_problems(loaded, cfg, on_progress=update)
        write_canonical_jsonl(result, out)
    except (UserError, PipelineError, SandboxError) as exc:
        _fail(exc)
    console.print(f"[bold]mutate[/bold]: {stats['mutants']} mutants kept for {stats['problems']} problems; "
                  f"{stats['problems_with_3_or_more']} problems have 3 or more")
    console.print("counts: " + ", ".join(f"{k} {v}" for k, v in stats["counts"].items()))
    console.print(f"written: {out}")


def synth_inputs(
    problems: list[Path] = typer.Argument(..., help="Problem files (any known format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Canonical JSONL: the problems with their new tests added."),
    format: str = typer.Option("auto", "--format", "-f", help="Problem file format (auto-detected by default)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="FIELD=COLUMN,... for a set of unknown layout."),
    per_problem: int = typer.Option(5, "--per-problem", help="New tests kept per problem (at most)."),
    max_attempts: int = typer.Option(40, "--max-attempts", help="Candidates tried per problem."),
    generator: Optional[Path] = typer.Option(None, "--generator", help="stdio problems: a Python program that reads "
                                             "a seed from stdin and prints one test input (run in the sandbox)."),
    timeout: float = typer.Option(2.0, "--timeout", help="Wall-clock seconds per run; slower candidates are dropped."),
    workers: int = typer.Option(0, "--workers", "-w", help="Parallel problems (0: one per CPU)."),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | bwrap | rlimit"),
    seed: int = typer.Option(0, "--seed", help="Fuzzing seed (the same seed gives the same tests)."),
    max_problems: Optional[int] = typer.Option(None, "--max-problems", help="Only the first N problems."),
) -> None:
    """New tests: fuzzed arguments (function problems) or generator output (stdio), kept when they run ok and
    give a new output or cover new lines; each test's `origin` says where it came from."""
    from tracegen.errors import PipelineError, UserError
    from tracegen.loaders import write_canonical_jsonl
    from tracegen.records import Limits
    from tracegen.sandbox import SandboxError
    from tracegen.synth import SynthConfig, synthesize

    from .cli import _progress

    try:
        if generator is not None and not generator.is_file():
            raise UserError(f"--generator {generator}: file not found (pass a Python program that prints one input)")
        cfg = SynthConfig(per_problem=per_problem, max_attempts=max_attempts, workers=workers, sandbox=sandbox,
                          seed=seed, generator=generator.read_text() if generator else "",
                          limits=Limits(timeout_s=timeout))
        cfg.validate()
        loaded = _load(problems, format, columns, max_problems)
        with _progress("synthesizing") as update:
            result, stats = synthesize(loaded, cfg, on_progress=update)
        write_canonical_jsonl(result, out)
    except (UserError, PipelineError, SandboxError) as exc:
        _fail(exc)
    console.print(f"[bold]synth-inputs[/bold]: {stats['new_tests']} new tests for {stats['problems_with_new_tests']} "
                  f"of {stats['problems']} problems")
    console.print("counts: " + ", ".join(f"{k} {v}" for k, v in stats["counts"].items()))
    console.print(f"written: {out}")
