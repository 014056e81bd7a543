"""Fine-tune stage: TRL SFT on the `sft` config, GRPO with verifiable rewards, self-verify, self-fix.

Arrives with the fine-tune issue; nothing here yet.
"""
