"""Narration: Trace rows in, Narration rows out (DESIGN §2, §6).

    from tracegen.narrate import narrate
    from tracegen.narrate.template_narrator import TemplateNarrator
    row = narrate(trace, TemplateNarrator())          # deterministic prose, ends with [OUTPUT]…[/OUTPUT]

Narrators (the `Narrator` protocol and the table that builds them: narrators.py): `TemplateNarrator`
(no model, the offline default), `OpenAINarrator` (openai_narrator.py: any OpenAI-compatible
endpoint) and `HFNarrator` (hf_narrator.py: a local transformers model folder). The stage
(stage.py) runs them over RUN/traces/ with resume.
"""

from __future__ import annotations

from ..records import Trace
from .narrators import Narrator
from .records import Narration


def narrate(trace: Trace, narrator: Narrator) -> Narration:
    """One trace through one narrator; failures come back as a row with a status and a reason."""
    return narrator.narrate_batch([trace])[0]
