"""The Narrator protocol and its factory table: every narrator the stage can run is built from the table
and has the members the stage and reuse call."""

from __future__ import annotations

import pytest

from narrate_helpers import trace_code
from tracegen.narrate import narrate
from tracegen.narrate.hf_narrator import HFNarrator
from tracegen.narrate.narrators import FACTORIES, Narrator, make_narrator
from tracegen.narrate.openai_narrator import OpenAINarrator
from tracegen.narrate.stage import NARRATORS, NarrateConfig
from tracegen.narrate.template_narrator import TemplateNarrator


def test_the_table_names_every_narrator_the_stage_accepts():
    assert set(NARRATORS) == set(FACTORIES) | {"import"}


def test_each_narrator_class_has_the_protocol_methods():
    for cls in (TemplateNarrator, OpenAINarrator, HFNarrator):
        assert cls.name in FACTORIES and callable(cls.prompt_sha) and callable(cls.narrate_batch), cls


@pytest.mark.filterwarnings("ignore:no --tokenizer given")  # the endpoint narrator says it estimates from characters
def test_the_table_builds_working_narrators(tmp_path):
    trace = trace_code("def f(x):\n    y = x + 1\n    return y", test_input="2")
    template = make_narrator(NarrateConfig(run=str(tmp_path), seed=3))
    assert isinstance(template, Narrator) and template.name == "template"
    row = narrate(trace, template)
    assert row.status == "ok" and row.predicted_output == "3" and row.prompt_sha == template.prompt_sha(trace)
    endpoint = make_narrator(NarrateConfig(run=str(tmp_path), narrator="openai", base_url="http://127.0.0.1:9/v1",
                                           model="m", tokenizer=None))
    assert isinstance(endpoint, Narrator) and (endpoint.name, endpoint.model) == ("openai", "m")
