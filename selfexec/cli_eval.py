"""`selfexec eval cruxeval|output-prediction` and `selfexec solve`: parse arguments, call
`finetune.evaluation`, print a table, write the results JSON. No evaluation logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from selfexec.terminal import make_console  # piped output is not wrapped mid-sentence

eval_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Score a model: CRUXEval-O/-I, output prediction on programs reading stdin.")
console = make_console()
err_console = make_console(stderr=True)

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


def _progress(what: str):
    from selfexec.cli import _progress as bar  # the stages' progress bar (transient; silent when piped)

    return bar(what)


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
    if n > 1 and temperature == 0 and model not in ("oracle",) and not model.startswith("constant:"):
        err_console.print(f"[yellow]warning:[/yellow] --n {n} with --temperature 0: greedy answers repeat, so "
                          "pass@5 equals pass@1; sample with --temperature 0.8 for pass@5", soft_wrap=True)
    result = run_cruxeval(data, settings, n=n, seed=seed, directions=tuple(direction), max_items=max_items,
                          workers=workers)
    rows = [(f"CRUXEval-{d[0].upper()}", {**result[d]}) for d in result["directions"]]
    _finish(result, out, f"{result['model']} on {result['n']} items ({data})", rows,
            ["n", "pass@1", "pass@5", "correct_items", "unparsed"])



@eval_app.command("output-prediction")
def output_prediction(
    problems: list[Path] = typer.Argument(..., help="Problem files (CodeContests, your JSONL, ...)."),
    model: str = MODEL, base_url: str = BASE_URL, api_key_env: str = API_KEY_ENV, cache: Optional[Path] = CACHE,
    n: int = typer.Option(1, "--n", help="Samples per item."),
    tests_per_problem: int = typer.Option(1, "--tests-per-problem", help="Inputs per program (its first tests)."),
    max_problems: Optional[int] = typer.Option(None, "--max-problems", help="Only the first N problems."),
    run_timeout: float = typer.Option(10.0, "--run-timeout", help="Wall-clock seconds per program run."),
    temperature: float = TEMPERATURE, top_p: float = TOP_P, max_tokens: int = MAX_TOKENS,
    concurrency: int = CONCURRENCY, timeout: float = TIMEOUT, device: str = DEVICE, batch_size: int = BATCH,
    workers: int = WORKERS, seed: int = SEED, out: Optional[Path] = OUT,
) -> None:
    """Code + stdin -> predicted stdout, scored against what the program really prints (tokens, float tolerance)."""
    from finetune.evaluation.commands import run_output_prediction

    settings = _settings(model, base_url, api_key_env, cache, temperature, top_p, max_tokens, concurrency, timeout,
                         device, batch_size)
    result = run_output_prediction([str(p) for p in problems], settings, n=n, seed=seed,
                                   tests_per_problem=tests_per_problem, max_problems=max_problems,
                                   workers=workers, timeout_s=run_timeout)
    _finish(result, out, f"{result['model']}: output prediction on {result['n']} runs", [("output", result)],
            ["n", "pass@1", "pass@5", "correct_items", "unparsed"])
    if result["not_run_ok"]:
        console.print("left out, runs that did not finish normally: "
                      + ", ".join(f"{status} {count}" for status, count in sorted(result["not_run_ok"].items())),
                      soft_wrap=True)


def solve(
    problems: list[Path] = typer.Argument(..., help="Problem files (HumanEval, MBPP, CodeContests, your JSONL)."),
    model: str = MODEL, base_url: str = BASE_URL, api_key_env: str = API_KEY_ENV, cache: Optional[Path] = CACHE,
    strategy: list[str] = typer.Option(["best-simulate"], "--strategy", "-s",
                                       help="sample | best-exec | best-simulate | short | self-fix (repeatable)."),
    candidates: Optional[Path] = typer.Option(None, "--candidates", help="JSONL of precomputed candidates "
                                              "({problem_id, code} lines, or CodeT's {prompt, samples})."),
    k: int = typer.Option(10, "--k", help="Candidates per problem (the first k of --candidates, or k samples)."),
    max_turns: int = typer.Option(2, "--max-turns", help="self-fix: most review turns."),
    judge_all: bool = typer.Option(False, "--judge-all", help="Also run every candidate on every test: pass@k of "
                                                              "the candidates and a random pick's expected rate."),
    max_problems: Optional[int] = typer.Option(None, "--max-problems", help="Only the first N problems."),
    run_timeout: float = typer.Option(10.0, "--run-timeout", help="Wall-clock seconds per program run."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="PNG plot (default: next to --out, .png)."),
    temperature: float = TEMPERATURE, top_p: float = TOP_P, max_tokens: int = MAX_TOKENS,
    concurrency: int = CONCURRENCY, timeout: float = TIMEOUT, device: str = DEVICE, batch_size: int = BATCH,
    workers: int = WORKERS, seed: int = SEED, out: Optional[Path] = OUT,
) -> None:
    """Solve problems (or choose among --candidates) with each strategy; judge every answer on all tests."""
    from finetune.evaluation.commands import run_solve

    settings = _settings(model, base_url, api_key_env, cache, temperature, top_p, max_tokens, concurrency, timeout,
                         device, batch_size)
    png = plot or (out.with_suffix(".png") if out else None)
    with _progress("solving") as update:
        result = run_solve([str(p) for p in problems], settings, tuple(strategy),
                           str(candidates) if candidates else None, k=k, max_turns=max_turns,
                           seed=seed, max_problems=max_problems, workers=workers,
                           judge_all=judge_all, plot=str(png) if png else None,
                           timeout_s=run_timeout, on_progress=update)
    rows = [(s, r) for s, r in result["strategies"].items()]
    if result.get("candidates"):
        rows.append(("(every candidate)", {"pass@1": result["candidates"]["pass@1"], "n": result["n"]}))
    _finish(result, out, f"{result['model']}: solve, k={result['k']}, {result['n']} problems, seed {result['seed']}",
            rows, ["n", "pass@1", "public_pass", "private_pass", "ties", "avg_turns"])
    if "gap" in result:
        console.print(f"best@k exec {result['best@k_exec']:.4f}, simulate {result['best@k_simulate']:.4f}, "
                      f"gap {result['gap']:.4f}", soft_wrap=True)
    fb = result["strategies"].get("self-fix", {}).get("fix_break")
    if fb:
        console.print("self-fix first -> final: " + "; ".join(
            f"{scope} " + ", ".join(f"{k} {v}" for k, v in m.items()) for scope, m in fb.items()), soft_wrap=True)
    if result.get("plot"):
        console.print(f"plot: {result['plot']}")
