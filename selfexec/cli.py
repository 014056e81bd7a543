"""The `selfexec` console script: parses arguments and calls the stages. No stage logic here."""

from __future__ import annotations

import os

# pyarrow's allocator, chosen before anything imports pyarrow: with its default (mimalloc) the first
# large parquet write of a process took 0.8-2.0 s for a 0.7M-event trace, 0.4-0.8 s with jemalloc
# (`selfexec trace` of the knapsack benchmark: about 0.5 s less end to end). A user's choice stays.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from selfexec.terminal import make_console
from tracegen.errors import PipelineError, UserError

console = make_console()
err_console = make_console(stderr=True)


class _OneLineErrors(typer.core.TyperGroup):
    """The one place errors meet the user: a UserError (bad input or settings, exit 2) or a PipelineError
    (ours or a service's, exit 1) from any command prints its message as one line, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2)
        except PipelineError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1)


app = typer.Typer(cls=_OneLineErrors, add_completion=False, no_args_is_help=True,
                  help="Grounded natural-language execution traces of Python programs, as HF datasets.")


def given(**options):
    """The options typed on the command line. The rest (None) take their stage config dataclass's default,
    declared once, there: the CLI, recipes and Python callers get the same defaults."""
    return {name: value for name, value in options.items() if value is not None}


@app.callback()
def main() -> None:
    """selfexec: trace programs, narrate the traces, curate, publish, fine-tune."""


@app.command()
def trace(
    problems: list[Path] = typer.Argument(..., help="Problem files: JSONL/JSON/parquet in any known format."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder; traces go to OUT/traces/."),
    format: Optional[str] = typer.Option(None, "--format", "-f",
                               help="auto | canonical | cruxeval | humaneval | mbpp | mbpp_sanitized | "
                                    "codecontests_py300 | code_contests_hf | apps | taco | livecodebench"),
    columns: Optional[str] = typer.Option(None, "--columns", help="Read a set of unknown layout by its columns: "
                                          "FIELD=COLUMN,... e.g. problem_id=id,code=solution,input=stdin,output=expected"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes."),
    shards: Optional[int] = typer.Option(None, "--shards", help="Shards (resume unit); keep it fixed across reruns."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="auto | bwrap | rlimit"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Wall-clock seconds per run."),
    memory_mb: Optional[int] = typer.Option(None, "--memory-mb", help="Address-space limit per run, MB."),
    max_events: Optional[int] = typer.Option(None, "--max-events", help="Stop recording after this many events."),
    max_bytes: Optional[int] = typer.Option(None, "--max-bytes", help="Stop recording after this many bytes of events."),
    max_problems: Optional[int] = typer.Option(None, "--max-problems", help="Only the first N problems."),
    reuse: Optional[Path] = typer.Option(None, "--reuse", help="Earlier run or dataset folder: take its traces of "
                                                               "unchanged (solution, test) pairs instead of re-running them."),
) -> None:
    """Run every (solution, test) pair in the sandbox under the tracer; write Trace rows."""
    from tracegen.records import Limits
    from tracegen.sandbox import SandboxError
    from tracegen.stage import TraceConfig, run_trace_stage

    cfg = TraceConfig(
        inputs=[str(p) for p in problems], out=str(out), reuse=str(reuse) if reuse else None,
        limits=Limits(**given(timeout_s=timeout, memory_mb=memory_mb, max_events=max_events, max_bytes=max_bytes)),
        **given(format=format, workers=workers, shards=shards, sandbox=sandbox, max_problems=max_problems,
                columns=columns),
    )
    try:
        with _progress("tracing") as update:
            stats = run_trace_stage(cfg, on_progress=update)
    except SandboxError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    _trace_summary(stats, out)


class _progress:
    """A rich progress bar fed by (done, total) callbacks."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        self.p = Progress(TextColumn(f"[bold]{self.what}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True)
        self.p.__enter__()
        self.task = None

        def update(done: int, total: int) -> None:
            if self.task is None:
                self.task = self.p.add_task(self.what, total=total)
            self.p.update(self.task, completed=done)

        return update

    def __exit__(self, *exc):
        self.p.__exit__(*exc)


def _trace_summary(stats: dict, out: Path) -> None:
    console.print(f"[bold]trace[/bold]: {stats.get('rows', 0)} rows ({stats.get('computed', 0)} traced, "
                  f"{stats.get('reused', 0)} reused), sandbox {stats.get('sandbox')}")
    table = Table()
    table.add_column("status")
    table.add_column("rows", justify="right")
    for status, n in sorted(stats.get("by_status", {}).items(), key=lambda kv: -kv[1]):
        table.add_row(status, str(n))
    src = Table()
    src.add_column("source")
    src.add_column("rows", justify="right")
    for source, n in sorted(stats.get("by_source", {}).items()):
        src.add_row(source, str(n))
    console.print(table)
    console.print("rows per source")
    console.print(src)
    secs = stats.get("shard_seconds", 0) or 0
    events = stats.get("events", 0)
    rate = f"{events / secs:,.0f} events/s, {stats.get('rows', 0) / secs:,.1f} traces/s per worker" if secs else "-"
    console.print(f"{events:,} events; {rate}")
    load = stats.get("load") or {}
    if load.get("skipped_rows") or load.get("dropped_solutions"):  # lenient sets: say what was left out
        console.print(f"loading: {load.get('rows', 0)} rows; skipped rows {load.get('skipped_rows') or {}}; dropped "
                      f"solutions {load.get('dropped_solutions') or {}} (first example of each: stats/trace.json)")
    for w in stats.get("warnings", []):  # problems with nothing to trace, failures of our sandbox
        err_console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    console.print(f"traces: {out / 'traces'}   stats: {out / 'stats' / 'trace.json'}")


@app.command()
def narrate(
    run: Path = typer.Argument(..., help="Run folder holding traces/ (from `selfexec trace`)."),
    narrator: Optional[str] = typer.Option(None, "--narrator", "-n", help="template | openai | transformers | import"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="openai: served model name; transformers: local model folder."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Env variable holding the API key."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="openai: local tokenizer folder for exact prompt budgets."),
    max_prompt_tokens: Optional[int] = typer.Option(None, "--max-prompt-tokens", help="Prompt budget; long runs are folded to fit."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Most tokens per narration."),
    temperature: Optional[float] = typer.Option(None, "--temperature"),
    top_p: Optional[float] = typer.Option(None, "--top-p"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed; the template narrator's phrasing seed."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", "-c", help="openai: requests in flight per worker."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="openai: seconds per request attempt."),
    retries: Optional[int] = typer.Option(None, "--retries", help="openai: retries on 429 / 5xx / timeouts."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="transformers: prompts per generate call."),
    device: Optional[str] = typer.Option(None, "--device", help="transformers: auto | cpu | cuda | cuda:N"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes (each loads its own model)."),
    max_traces: Optional[int] = typer.Option(None, "--max-traces", help="Only the first N ok traces."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace this run's narrations (the cache is kept)."),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="Narrate the traces of a trace stage that stopped part-way."),
    reuse: Optional[Path] = typer.Option(None, "--reuse", help="Earlier run or dataset folder: take its narrations "
                                                               "of the same traces, narrator and prompt."),
    input_: Optional[Path] = typer.Option(None, "--input", "-i", help="import: JSONL of narrations made elsewhere, "
                                                                      "one object per line with text and trace_id "
                                                                      "(or problem_id, solution_id, test_id)."),
) -> None:
    """Narrate every ok trace of RUN (or import narrations made elsewhere); write Narration rows to RUN/narrations/."""
    from tracegen.narrate.stage import NarrateConfig, NarrateIncomplete, run_narrate_stage

    cfg = NarrateConfig(
        run=str(run), **given(
            narrator=narrator, model=model, base_url=base_url, api_key_env=api_key_env,
            tokenizer=str(tokenizer) if tokenizer else None, max_prompt_tokens=max_prompt_tokens,
            max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, concurrency=concurrency,
            timeout_s=timeout, max_retries=retries, batch_size=batch_size, device=device, workers=workers,
            max_traces=max_traces, overwrite=overwrite, reuse=str(reuse) if reuse else None, allow_partial=allow_partial,
            input=str(input_) if input_ else None),
    )
    try:
        with _progress("narrating") as update:
            stats = run_narrate_stage(cfg, on_progress=update)
    except NarrateIncomplete as exc:
        _narrate_summary(exc.stats, run)
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1)
    _narrate_summary(stats, run)


def _narrate_summary(stats: dict, run: Path) -> None:
    imported = stats.get("narrator") == "import"
    done = (f"imported from {stats.get('lines', 0)} lines" if imported
            else f"({stats.get('computed', 0)} narrated, {stats.get('reused', 0)} reused)")
    table = Table(title=f"narrate: {stats.get('rows', 0)} rows {done}")
    table.add_column("status")
    table.add_column("rows", justify="right")
    for status, n in sorted(stats.get("by_status", {}).items(), key=lambda kv: -kv[1]):
        table.add_row(status, str(n))
    for status, n in sorted(stats.get("skipped_by_trace_status", {}).items()):
        table.add_row(f"[dim]not narrated: trace {status}[/dim]", str(n))
    for status, n in sorted(stats.get("trace_not_ok", {}).items()):
        table.add_row(f"[dim]of these, trace {status} (curate rejects: trace_status)[/dim]", str(n))
    console.print(table)
    console.print(f"narrator {stats.get('narrator')} {stats.get('model') or ''}".rstrip())
    if imported:
        _import_summary(stats, run)
        return
    now = stats.get("this_call", {})
    console.print(f"tokens in/out {stats.get('tokens_in', 0):,}/{stats.get('tokens_out', 0):,}; "
                  f"requests {stats.get('requests', 0):,} (this call {now.get('requests', 0):,}), "
                  f"cache hits {stats.get('cache_hits', 0):,}; shards run this call "
                  f"{stats.get('shards_run_this_call', 0)}/{stats.get('shards', 0)}, {stats.get('wall_s_this_call', 0)} s")
    for why in stats.get("reuse_refused", {}):
        err_console.print(f"[yellow]warning:[/yellow] no narration reused: {why}")
    for w in stats.get("warnings", []):
        err_console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"narrations: {run / 'narrations'}   stats: {run / 'stats' / 'narrate.json'}")


def _import_summary(stats: dict, run: Path) -> None:
    console.print(f"input sha256 {stats.get('input_sha256', '')[:16]}; ok traces without a narration "
                  f"{stats.get('ok_traces_without_narration', 0):,}; shards written this call "
                  f"{stats.get('shards_run_this_call', 0)}/{stats.get('shards', 0)}")
    if stats.get("unmatched"):
        err_console.print(f"[yellow]warning:[/yellow] {stats['unmatched']} of {stats.get('lines', 0)} lines name no "
                          f"trace of {run / 'traces'} and were not imported (e.g. {escape(str(stats.get('unmatched_example')))})")
    for why in stats.get("reuse_refused", []):
        err_console.print(f"[yellow]warning:[/yellow] {escape(why)}")
    console.print(f"narrations: {run / 'narrations'}   stats: {run / 'stats' / 'narrate.json'}")


@app.command()
def curate(
    run: Path = typer.Argument(..., help="Run folder holding traces/ and narrations/."),
    benchmark: list[str] = typer.Option([], "--benchmark", "-b",
                                        help="Benchmark file to decontaminate against: NAME=PATH or PATH (repeatable)."),
    ngram: Optional[int] = typer.Option(None, "--ngram", help="Decontamination n-gram size, in normalised code tokens."),
    contamination_threshold: Optional[float] = typer.Option(None, "--contamination-threshold",
                                                  help="Drop a row when its program overlaps a benchmark program this much."),
    near_dup_threshold: Optional[float] = typer.Option(None, "--near-dup-threshold",
                                             help="MinHash Jaccard for near-duplicate programs; 0 turns it off."),
    no_exact_dedup: bool = typer.Option(False, "--no-exact-dedup", help="Keep rows with the same program and input."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="smollm2 | chars | a local folder with tokenizer.json"),
    min_tokens: Optional[int] = typer.Option(None, "--min-tokens", help="Shortest narration kept, in tokens."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Longest narration kept, in tokens."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes for verification."),
    reuse: Optional[Path] = typer.Option(None, "--reuse", help="Earlier run folder: take its verdicts on the same "
                                                               "narrations (same settings); dedup always reruns."),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="Curate the narrations of a narrate stage that stopped part-way."),
) -> None:
    """Verify every narration of RUN against its trace; write RUN/curated/ (kept) and RUN/rejects/."""
    from curation.stage import CurateConfig, parse_benchmark, run_curate_stage

    cfg = CurateConfig(
        run=str(run), **given(
            benchmarks=[parse_benchmark(b) for b in benchmark], ngram=ngram,
            contamination_threshold=contamination_threshold, exact_dedup=not no_exact_dedup,
            near_dup_threshold=near_dup_threshold, tokenizer=tokenizer, min_tokens=min_tokens, max_tokens=max_tokens,
            workers=workers, reuse=str(reuse) if reuse else None, allow_partial=allow_partial),
    )
    try:
        with _progress("curating") as update:
            stats = run_curate_stage(cfg, on_progress=update)
    except FileNotFoundError as exc:  # a tokenizer file that went missing after the settings were checked
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    _curate_summary(stats, run)


def _curate_summary(stats: dict, run: Path) -> None:
    sources = sorted(stats.get("by_source", {}))
    table = Table(title=f"curate: {stats['kept']} of {stats['in']} rows kept ({stats.get('computed', 0)} verified, "
                        f"{stats.get('reused', 0)} verdicts reused)")
    table.add_column("step")
    table.add_column("all", justify="right")
    for s in sources:
        table.add_column(s or "(no source)", justify="right")
    per = [stats["by_source"][s] for s in sources]
    table.add_row("in", str(stats["in"]), *(str(p["in"]) for p in per))
    for reason, n in stats["by_reason"].items():
        if n:
            table.add_row(f"- {reason}", str(n), *(str(p["by_reason"].get(reason, 0) or "") for p in per))
    table.add_row("[bold]kept[/bold]", f"[bold]{stats['kept']}[/bold]", *(str(p["kept"]) for p in per))
    console.print(table)
    c = stats.get("claims", {})
    console.print(f"claims: {c.get('claims', 0):,} found, {c.get('claims_checked', 0):,} checked, "
                  f"{c.get('claims_wrong', 0):,} wrong, {c.get('claims_unchecked', 0):,} unchecked (elided values), "
                  f"{c.get('claims_unknown', 0):,} about unknown variables")
    for why in stats.get("reuse_refused", {}):
        err_console.print(f"[yellow]warning:[/yellow] no verdict reused: {why}")
    if stats.get("contaminated_by_benchmark"):
        console.print("contaminated by benchmark: " + ", ".join(f"{k} {v}" for k, v in stats["contaminated_by_benchmark"].items()))
    console.print(f"curated: {run / 'curated'}   rejects: {run / 'rejects'}   stats: {run / 'stats' / 'curate.json'}")


@app.command()
def publish(
    run: Path = typer.Argument(..., help="Curated run folder (traces/, curated/)."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (laid out as a Hub dataset repo)."),
    version: Optional[str] = typer.Option(None, "--version", help="MAJOR.MINOR.PATCH; default 1.0.0, or the parent's next minor."),
    repo_id: Optional[str] = typer.Option(None, "--repo-id", help="ORG/NAME: push to the Hub after writing (needs a token)."),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo as private."),
    parent: Optional[Path] = typer.Option(None, "--parent", help="Previous version's folder (default: what OUT holds, "
                                                                 "or the dataset the run's --reuse came from)."),
    name: str = typer.Option("", "--name", help="The card's title (default: the folder's name)."),
    license: list[str] = typer.Option([], "--license", help="SOURCE=LICENCE for sources whose problems carry none (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the problem -> split assignment."),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="Publish a run whose earlier stages stopped part-way."),
    with_viewer: bool = typer.Option(False, "--with-viewer", help="Also write the static viewer site (selfexec view) into OUT/viewer."),
) -> None:
    """Write RUN as a versioned Hugging Face dataset folder (configs traces, narrated, sft, rl) and optionally push it."""
    from curation.publish.stage import PublishConfig

    licenses = {}
    for spec in license:
        if "=" not in spec:
            err_console.print(f"[red]error:[/red] --license {spec!r}: use SOURCE=LICENCE, e.g. --license my-set=MIT")
            raise typer.Exit(2)
        src, lic = spec.split("=", 1)
        licenses[src.strip()] = lic.strip()
    cfg = PublishConfig(run=str(run), out=str(out), version=version, parent=str(parent) if parent else None,
                        repo_id=repo_id, private=private, name=name, seed=seed, licenses=licenses,
                        allow_partial=allow_partial, with_viewer=with_viewer)
    _publish(cfg)


def _publish(cfg) -> None:  # cfg: curation.publish.stage.PublishConfig (imported lazily)
    from curation.publish.hub import PushError
    from curation.publish.stage import push_published, run_publish_stage

    stats = run_publish_stage(cfg)
    table = Table(title=f"publish: version {stats['version']}" + (f" (parent {stats['parent_version']})"
                                                                   if stats["parent_version"] else ""))
    table.add_column("config")
    for col in ("train", "validation", "test", "added", "removed"):
        table.add_column(col, justify="right")
    for c, rows in stats["rows"].items():
        d = stats["diff_vs_parent"].get(c, {})
        table.add_row(c, *(str(rows.get(s, 0)) for s in ("train", "validation", "test")),
                      str(d.get("added", "-")), str(d.get("removed", "-")))
    console.print(table)
    console.print(f"dataset: {stats['out']}")
    console.print(f"load it: datasets.load_dataset({stats['out']!r}, 'sft')   (configs: traces, narrated, sft, rl)")
    if cfg.repo_id:
        try:
            res = push_published(cfg, stats)
        except PushError as exc:
            err_console.print(f"[red]push failed:[/red] {exc}")
            raise typer.Exit(1)
        console.print(f"pushed to {res['repo_id']} ({res['commit_url']}), tag {res['tag']}")


@app.command("run")
def run_recipe(
    recipe: Path = typer.Argument(..., help="YAML recipe with run:, trace:, narrate:, curate:, publish: (see recipes/)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe key: KEY=VALUE, e.g. trace.workers=2 (repeatable)."),
    reuse: Optional[Path] = typer.Option(None, "--reuse", help="Earlier run or dataset folder: only pairs not seen "
                                                               "there are traced and narrated."),
) -> None:
    """trace -> narrate -> curate -> publish from one recipe; rerun the same command to resume."""
    from curation.decontam import BenchmarkError
    from curation.publish.manifest import ConfigError as PublishConfigError
    from curation.stage import ConfigError as CurateConfigError
    from curation.stage import run_curate_stage
    from selfexec.recipe import RecipeError, load_recipe, stage_configs
    from tracegen.engine import using_engine
    from tracegen.errors import PipelineError, UserError
    from tracegen.layout import lock_run
    from tracegen.loaders import LoaderError
    from tracegen.narrate.stage import NARRATORS, NarrateIncomplete, run_narrate_stage
    from tracegen.narrate.stage import ConfigError as NarrateConfigError
    from tracegen.sandbox import SandboxError
    from tracegen.stage import ConfigError, run_trace_stage

    sets = list(set_) + ([f"reuse={reuse}"] if reuse else [])
    try:
        cfgs = stage_configs(load_recipe(recipe, sets))
        # what can be checked before any work; the rest is checked when its stage starts
        cfgs["trace"].validate()
        cfgs["engine"].check_here()
        cfgs["publish"].check_settings()
        if cfgs["narrate"].narrator not in NARRATORS:
            raise RecipeError(f"unknown narrator {cfgs['narrate'].narrator!r}: use one of {', '.join(NARRATORS)}")
    except (UserError, ConfigError, PublishConfigError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    run = Path(cfgs["trace"].out)
    try:
        lock_run(run)  # held until this process exits: a second `selfexec run` into RUN is refused
        with using_engine(cfgs["engine"]):
            with _progress("tracing") as update:
                stats = run_trace_stage(cfgs["trace"], on_progress=update)
            _trace_summary(stats, run)
            with _progress("narrating") as update:
                stats = run_narrate_stage(cfgs["narrate"], on_progress=update)
            _narrate_summary(stats, run)
            with _progress("curating") as update:
                stats = run_curate_stage(cfgs["curate"], on_progress=update)
            _curate_summary(stats, run)
    except (ConfigError, LoaderError, SandboxError, NarrateConfigError, CurateConfigError, BenchmarkError,
            UserError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    except NarrateIncomplete as exc:
        _narrate_summary(exc.stats, run)
        err_console.print(f"[red]error:[/red] {escape(str(exc))}\nRerun the same `selfexec run` command to resume.")
        raise typer.Exit(1)
    except PipelineError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1)
    _publish(cfgs["publish"])


from selfexec.cli_eval import eval_app, solve  # noqa: E402 - evaluation commands (issue 13)
app.add_typer(eval_app, name="eval"); app.command("solve")(solve)  # noqa: E702
from selfexec.cli_view import view  # noqa: E402 - the static trace viewer (issue 16)
app.command("view")(view)
from selfexec.cli_finetune import rl, sft  # noqa: E402 - the fine-tune stage (issue 12)
app.command("sft")(sft); app.command("rl")(rl)  # noqa: E702
from selfexec.cli_sources import mutate, synth_inputs  # noqa: E402 - mutants and input synthesis (issue 15)
app.command("mutate")(mutate); app.command("synth-inputs")(synth_inputs)  # noqa: E702


if __name__ == "__main__":
    app()
