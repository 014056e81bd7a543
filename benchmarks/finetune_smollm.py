"""SFT of SmolLM2-135M-Instruct on our own narrated CRUXEval + CodeContests data: before and after, side by side.

    .venv/bin/python benchmarks/finetune_smollm.py [--crux 200] [--cc 40] [--steps 200] [--eval-items 30]
                                                   [--max-new-tokens 320] [--seed 0] [--out DIR]

1. a problem file of the first `--crux` CRUXEval problems and the first `--cc` CodeContests problems
   (one correct solution and two tests each, to keep tracing short);
2. `selfexec run` on it: trace, template narration, curation, publish with problems split 80/20 into
   train / validation by a hash of the problem id, so no validation problem is ever trained on;
3. `selfexec sft recipes/sft-smollm2.yaml` on the published `sft` config for `--steps` steps
   (rows longer than `--max-length` tokens are cut there by TRL);
4. validation loss before and after (the SFT run computes both), and CRUXEval-O pass@1 (greedy)
   before and after on the validation split's CRUXEval problems, with the evaluation harness
   (finetune.evaluation.cruxeval), the base model and the trained one evaluated in one run.

CPU-bound. On the 2 shared cores here, generating CRUXEval-O answers took 629 s for 4 items x 64
tokens, so accuracy is off by default (`--eval-items 0`: validation loss only); give it items on a
machine that can afford the generation. Prints one table and writes DIR/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def problem_file(out: Path, n_crux: int, n_cc: int) -> Path:
    from tracegen.loaders import load_many

    crux = load_many([DATA / "cruxeval" / "cruxeval.jsonl"])[:n_crux]
    cc = []
    for p in load_many([DATA / "codecontests_py300" / "codecontests_py300.jsonl"]):
        good = [s for s in p.solutions if s.label == "correct"][:1]
        tests = [t for t in p.tests if t.output is not None][:2]
        if good and tests and len(good[0].code) < 1500:
            p.solutions, p.tests = good, tests
            cc.append(p)
        if len(cc) >= n_cc:
            break
    path = out / "problems.jsonl"
    with path.open("w") as f:
        for p in crux + cc:
            f.write(json.dumps(p.to_dict()) + "\n")
    return path


def selfexec(*args: str) -> None:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "selfexec.cli", *args], cwd=REPO, text=True, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"selfexec {args[0]} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    print(f"selfexec {args[0]}: {time.monotonic() - t0:.0f} s", flush=True)


def validation_crux(dataset: Path, n: int):
    """CRUXEval problems of the validation split (never trained on), as the harness takes them."""
    import datasets

    from tracegen.loaders import load_many

    with tempfile.TemporaryDirectory() as cache:
        val = datasets.load_dataset(str(dataset), "sft", split="validation", cache_dir=cache, keep_in_memory=True)
        ids = {pid for pid, src in zip(val["problem_id"], val["source"]) if "crux" in f"{src} {pid}".lower()}
    crux = [p for p in load_many([DATA / "cruxeval" / "cruxeval.jsonl"]) if p.problem_id in ids]
    return crux[:n]


def crux_o(model_dir: str, problems, max_new_tokens: int, seed: int, cache: Path) -> dict:
    from finetune.evaluation.cruxeval import evaluate
    from finetune.evaluation.execute import Executor
    from finetune.evaluation.models import LocalModel, ModelSettings

    t0 = time.monotonic()
    settings = ModelSettings(spec=model_dir, max_tokens=max_new_tokens, device="cpu", batch_size=8,
                             cache=str(cache))
    with Executor(2) as ex:
        result = evaluate(problems, LocalModel(settings), n=1, seed=seed, executor=ex)
    return {"pass@1": result["pass@1"], "n": result["n"], "seconds": round(time.monotonic() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crux", type=int, default=200)
    ap.add_argument("--cc", type=int, default=40)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--eval-items", type=int, default=0,
                    help="CRUXEval-O items to generate answers for, before and after (0: loss only; slow on a CPU)")
    ap.add_argument("--max-new-tokens", type=int, default=320)
    ap.add_argument("--max-length", type=int, default=768)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--learning-rate", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or Path(tempfile.mkdtemp(prefix="selfexec-ft-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.monotonic()

    problems = problem_file(out, a.crux, a.cc)
    dataset = out / "dataset"
    if not (dataset / "selfexec.json").is_file():
        selfexec("run", "recipes/demo.yaml", "--set", f"run={out / 'run'}", "--set", f"publish.out={dataset}",
                 "--set", f"trace.inputs=[{problems}]", "--set", "trace.workers=2", "--set", "trace.shards=4",
                 "--set", "trace.limits.timeout_s=6", "--set", "publish.name=finetune-bench",
                 "--set", "publish.splits={train: 0.8, validation: 0.2, test: 0.0}", "--set", f"publish.seed={a.seed}")

    from tracegen.narrate.smollm import smollm_dir

    base = str(smollm_dir())
    evalset = validation_crux(dataset, a.eval_items) if a.eval_items else []
    skipped = {"pass@1": None, "n": 0, "seconds": 0}
    before = crux_o(base, evalset, a.max_new_tokens, a.seed, out / "eval-cache.sqlite") if evalset else skipped
    print(f"CRUXEval-O before: {before}", flush=True)

    model = out / "sft-model"
    selfexec("sft", "recipes/sft-smollm2.yaml", "--set", f"dataset={dataset}", "--set", f"output_dir={model}",
             "--set", f"max_steps={a.steps}", "--set", f"max_length={a.max_length}", "--set", f"seed={a.seed}",
             "--set", f"per_device_train_batch_size={a.batch_size}", "--set", f"learning_rate={a.learning_rate}",
             "--set", "max_eval_rows=64", "--set", "logging_steps=20")
    metrics = json.loads((model / "finetune_metrics.json").read_text())
    after = crux_o(str(model), evalset, a.max_new_tokens, a.seed, out / "eval-cache.sqlite") if evalset else skipped
    print(f"CRUXEval-O after: {after}", flush=True)

    report = {"seed": a.seed, "steps": metrics["steps"], "train_rows": metrics["train_rows"],
              "eval_rows": metrics["eval_rows"], "eval_loss_before": metrics["eval_loss_before"],
              "eval_loss_after": metrics["eval_loss_after"], "train_runtime_s": metrics["train_runtime_s"],
              "cruxeval_o_items": before["n"], "cruxeval_o_pass@1_before": before["pass@1"],
              "cruxeval_o_pass@1_after": after["pass@1"], "dataset_version": metrics["dataset_version"],
              "max_new_tokens": a.max_new_tokens, "wall_s": round(time.monotonic() - t_all, 1), "out": str(out)}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nSmolLM2-135M-Instruct SFT, {report['steps']} steps on {report['train_rows']} rows (seed {a.seed})")
    print(f"{'':28}{'before':>10}{'after':>10}")
    print(f"{'validation loss':28}{report['eval_loss_before']:>10.4f}{report['eval_loss_after']:>10.4f}")
    if evalset:
        print(f"{'CRUXEval-O pass@1 (n=' + str(before['n']) + ')':28}{before['pass@1']:>10.3f}{after['pass@1']:>10.3f}")
    print(f"report: {out / 'report.json'}")


if __name__ == "__main__":
    main()
