"""Curation: verify narrations against their traces, filter, deduplicate, decontaminate (DESIGN §6).

    from curation import verify
    verdict = verify(trace, narration)     # Verdict: kept, reject_reason, reject_detail, claim counts

`verify` is deterministic and never asks a model: the [OUTPUT] must be the program's true output,
and every concrete value the narration states for a variable must be one that variable held, in
narrative order (timeline.py aligns claims to the events). The stage (`selfexec curate RUN`,
stage.py) writes RUN/curated/ (kept), RUN/rejects/ (with reject_reason) and the funnel in
RUN/stats/curate.json. Modules: claims.py and markup.py read the text, matching.py compares
values, filters.py holds the per-row filters, decontam.py and dedup.py the set-level ones,
records.py the Verdict and curated-row records.
"""

from __future__ import annotations

from .records import REASONS, Verdict
from .verify import VERIFIER_VERSION, verify

__all__ = ["REASONS", "VERIFIER_VERSION", "Verdict", "verify"]
