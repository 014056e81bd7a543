"""`selfexec eval cruxeval|output-prediction` and `selfexec solve`: parse arguments, call
`finetune.evaluation`, print a table, write the results JSON. No evaluation logic here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

eval_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Score a model: CRUXEval-O/-I, output prediction on programs reading stdin.")
console = Console()
err_console = Console(stderr=True)

# shared by the three commands (typer reads these defaults; they are never mutated)
MODEL = typer.Option(..., "--model", "-m", help="oracle (runs the code: must score 100%), constant:VALUE, a local "
                                                "transformers model folder, or the served model NAME with --base-url")
BASE_URL = typer.Option("", "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
API_KEY_ENV = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Env variable holding the endpoint's key.")
CACHE = typer.Option(None, "--cache", help="Request cache file (default ~/.cache/selfexec/eval/requests.sqlite): "
                                           "a rerun sends no request it already has an answer to.")
TEMPERATURE = typer.Option(0.0, "--temperature", help="0: greedy (one request per prompt, repeated n times).")
TOP_P = typer.Option(1.0, "--top-p")
MAX_TOKENS = typer.Option(512, "--max-tokens", help="Most tokens per answer.")
CONCURRENCY = typer.Option(8, "--concurrency", "-c", help="Endpoint requests in flight.")
TIMEOUT = typer.Option(120.0, "--timeout", help="Seconds per endpoint request attempt.")
DEVICE = typer.Option("auto", "--device", help="Local model: auto | cpu | cuda | cuda:N")
BATCH = typer.Option(8, "--batch-size", help="Local model: prompts per generate call.")
WORKERS = typer.Option(2, "--workers", "-w", help="Sandbox workers running programs.")
SEED = typer.Option(0, "--seed", help="Sampling seed (sample i uses seed + i) and tie-break seed.")
OUT = typer.Option(None, "--out", "-o", help="Results JSON file.")


def _settings(model: str, base_url: str, api_key_env: str, cache: Optional[Path], temperature: float, top_p: float,
              max_tokens: int, concurrency: int, timeout: float, device: str, batch_size: int):
    from finetune.evaluation.models import ModelSettings

    return ModelSettings(spec=model, base_url=base_url, api_key_env=api_key_env, cache=str(cache) if cache else "",
                         temperature=temperature, top_p=top_p, max_tokens=max_tokens, concurrency=concurrency,
                         timeout_s=timeout, device=device, batch_size=batch_size)


def _guarded(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """User mistakes exit 2, our or the endpoint's failures exit 1; one line each, never a traceback."""
    from tracegen.errors import PipelineError, UserError

    try:
        return run()
    except UserError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2)
    except PipelineError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _finish(result: dict[str, Any], out: Optional[Path], title: str, rows: list[tuple[str, dict[str, Any]]],
            cols: list[str]) -> None:
    from finetune.evaluation.data import write_json

    table = Table(title=title)
    table.add_column("")
    for c in cols:
        table.add_column(c, justify="right")
    for name, scores in rows:
        table.add_row(name, *(_fmt(scores.get(c)) for c in cols))
    console.print(table)
    if out:
        write_json(out, result)
        console.print(f"results: {out}")


@eval_app.command("cruxeval")
def cruxeval(
    data: str = typer.Option(..., "--data", "-d", help="CRUXEval .jsonl/.parquet, a dataset folder, or a Hub id (online)."),
    model: str = MODEL, base_url: str = BASE_URL, api_key_env: str = API_KEY_ENV, cache: Optional[Path] = CACHE,
    n: int = typer.Option(1, "--n", help="Samples per item; pass@5 needs --n 5 or more (and --temperature > 0)."),
    direction: list[str] = typer.Option(["output"], "--direction", help="output (CRUXEval-O) and/or input (-I); repeatable."),
    max_items: Optional[int] = typer.Option(None, "--max-items", help="Only the first N items."),
    temperature: float = TEMPERATURE, top_p: float = TOP_P, max_tokens: int = MAX_TOKENS,
    concurrency: int = CONCURRENCY, timeout: float = TIMEOUT, device: str = DEVICE, batch_size: int = BATCH,
    workers: int = WORKERS, seed: int = SEED, out: Optional[Path] = OUT,
) -> None:
    """CRUXEval-O (and -I): pass@1 and pass@5 of a model, answers read by the project's one parser."""
    from finetune.evaluation.cruxeval import run_cruxeval

    settings = _settings(model, base_url, api_key_env, cache, temperature, top_p, max_tokens, concurrency, timeout,
                         device, batch_size)
    result = _guarded(lambda: run_cruxeval(data, settings, n=n, seed=seed, directions=tuple(direction),
                                           max_items=max_items, workers=workers))
    rows = [(f"CRUXEval-{d[0].upper()}", {**result[d]}) for d in result["directions"]]
    _finish(result, out, f"{result['model']} on {result['n']} items ({data})", rows,
            ["n", "pass@1", "pass@5", "correct_items", "unparsed"])

