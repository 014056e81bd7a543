"""Evaluation and inference: CRUXEval-O/-I, output prediction on programs reading stdin, and solving
with best@k by real or simulated tests and self-fixing. Every final answer is judged by running it
in the sandbox; pass@k is the unbiased estimator.

    from finetune.evaluation.cruxeval import evaluate        # evaluate(problems, model, n=1, seed=0) -> dict
    from finetune.evaluation.models import ModelSettings, load_model
"""
