"""Fine-tune stage: TRL SFT on the `sft` config, GRPO with verifiable rewards on the `rl` config.

    config.py      TRL-style YAML recipes, `--set` overrides, checked before any model loads
    data.py        a published dataset folder (or Hub id + revision) as TRL wants it; task mix
    models.py      tiny (built on the fly) | smollm2 | a folder | a Hub id
    sft.py, rl.py  load, evaluate, train, evaluate, save (model, card, metrics), push
    rewards.py     output prediction, solving (sandboxed), format, trace (curation's verifier)
    code_runner.py many programs on their tests in a pool of sandboxes, under one deadline
    evaluation/    CRUXEval, best@k, self-fix (see that package)
"""
