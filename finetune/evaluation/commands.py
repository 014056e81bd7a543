"""The `selfexec eval output-prediction` and `selfexec solve` commands as plain functions: load,
run, stamp the result with its data, model and settings (the CLI only prints and writes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .data import data_version, load_problem_files
from .execute import Executor
from .models import ModelSettings, load_model


def _stamp(result: dict[str, Any], paths: list[str], settings: ModelSettings, model: Any) -> dict[str, Any]:
    result.update(data=paths, data_version=data_version(paths), model_stats=model.stats(),
                  sampling={"temperature": settings.temperature, "top_p": settings.top_p,
                            "max_tokens": settings.max_tokens})
    return result


def run_output_prediction(paths: list[str], settings: ModelSettings, n: int = 1, seed: int = 0,
                          tests_per_problem: int = 1, max_problems: int | None = None, workers: int = 2,
                          timeout_s: float = 10.0) -> dict[str, Any]:
    from .output_prediction import evaluate

    problems = load_problem_files(paths)[:max_problems]
    with Executor(workers, timeout_s=timeout_s) as ex:
        model = load_model(settings, ex)
        result = evaluate(problems, model, ex, n=n, seed=seed, tests_per_problem=tests_per_problem)
        return _stamp(result, paths, settings, model)


def run_solve(paths: list[str], settings: ModelSettings, strategies: tuple[str, ...], candidates: str | None = None,
              k: int = 10, max_turns: int = 2, seed: int = 0, max_problems: int | None = None, workers: int = 2,
              judge_all: bool = False, plot: str | None = None, timeout_s: float = 10.0,
              on_progress: Any = None) -> dict[str, Any]:
    from .candidates import load_candidates
    from .solve import solve

    problems = load_problem_files(paths)[:max_problems]
    cands = load_candidates(candidates, problems) if candidates else None
    with Executor(workers, timeout_s=timeout_s) as ex:
        model = load_model(settings, ex)
        result = solve(problems, model, ex, strategies, cands, k=k, max_turns=max_turns, seed=seed,
                       judge_all=judge_all, on_progress=on_progress)
        result["candidates_file"] = candidates
        result["max_turns"] = max_turns
        _stamp(result, paths, settings, model)
    if plot:
        result["plot"] = str(plot_solve(result, plot))
    return result


def plot_solve(result: dict[str, Any], path: str | Path) -> Path:
    """A bar per strategy (share of problems solved), with the candidates' pass@1 (a random pick's
    expectation) and pass@k as lines when every candidate was judged."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    path = Path(path)
    names = list(result["strategies"])
    values = [result["strategies"][s]["pass@1"] for s in names]
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 3, 3.6))
    bars = ax.bar(names, values, color="#4C72B0")
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2)
    cands = result.get("candidates") or {}
    if "pass@1" in cands:
        ax.axhline(cands["pass@1"], color="#DD8452", ls="--", label=f"random pick (candidates' pass@1) {cands['pass@1']:.3f}")
        top = f"pass@{result['k']}"
        if top in cands:
            ax.axhline(cands[top], color="#55A868", ls=":", label=f"any of k (pass@{result['k']}) {cands[top]:.3f}")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("problems solved (all tests)")
    ax.set_title(f"{result['model']}: k={result['k']}, {result['n']} problems, seed {result['seed']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
