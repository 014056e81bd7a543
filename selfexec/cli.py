"""The `selfexec` console script: parses arguments and calls the stages. No stage logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Grounded natural-language execution traces of Python programs, as HF datasets.")
console = Console()
err_console = Console(stderr=True)


@app.callback()
def main() -> None:
    """selfexec: trace programs, narrate the traces, curate, publish, fine-tune."""


@app.command()
def trace(
    problems: list[Path] = typer.Argument(..., help="Problem files: JSONL/JSON/parquet in any known format."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder; traces go to OUT/traces/."),
    format: str = typer.Option("auto", "--format", "-f",
                               help="auto | canonical | cruxeval | humaneval | mbpp | mbpp_sanitized | "
                                    "codecontests_py300 | code_contests_hf"),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    shards: int = typer.Option(8, "--shards", help="Shards (resume unit); keep it fixed across reruns."),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | bwrap | rlimit"),
    timeout: float = typer.Option(10.0, "--timeout", help="Wall-clock seconds per run."),
    memory_mb: int = typer.Option(2048, "--memory-mb", help="Address-space limit per run, MB."),
    max_events: int = typer.Option(10_000, "--max-events", help="Stop recording after this many events."),
    max_bytes: int = typer.Option(1_000_000, "--max-bytes", help="Stop recording after this many bytes of events."),
    max_problems: Optional[int] = typer.Option(None, "--max-problems", help="Only the first N problems."),
) -> None:
    """Run every (solution, test) pair in the sandbox under the tracer; write Trace rows."""
    from tracegen.loaders import LoaderError
    from tracegen.records import Limits
    from tracegen.sandbox import SandboxError
    from tracegen.stage import ConfigError, TraceConfig, run_trace_stage

    cfg = TraceConfig(
        inputs=[str(p) for p in problems], out=str(out), format=format, workers=workers, shards=shards,
        sandbox=sandbox, max_problems=max_problems,
        limits=Limits(timeout_s=timeout, memory_mb=memory_mb, max_events=max_events, max_bytes=max_bytes),
    )
    try:
        with _progress("tracing") as update:
            stats = run_trace_stage(cfg, on_progress=update)
    except (ConfigError, LoaderError, SandboxError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
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
    table = Table(title=f"trace: {stats.get('rows', 0)} rows, sandbox {stats.get('sandbox')}")
    table.add_column("status")
    table.add_column("rows", justify="right")
    for status, n in sorted(stats.get("by_status", {}).items(), key=lambda kv: -kv[1]):
        table.add_row(status, str(n))
    src = Table(title="rows per source")
    src.add_column("source")
    src.add_column("rows", justify="right")
    for source, n in sorted(stats.get("by_source", {}).items()):
        src.add_row(source, str(n))
    console.print(table)
    console.print(src)
    secs = stats.get("shard_seconds", 0) or 0
    events = stats.get("events", 0)
    rate = f"{events / secs:,.0f} events/s, {stats.get('rows', 0) / secs:,.1f} traces/s per worker" if secs else "-"
    console.print(f"{events:,} events; {rate}")
    console.print(f"traces: {out / 'traces'}   stats: {out / 'stats' / 'trace.json'}")


if __name__ == "__main__":
    app()
