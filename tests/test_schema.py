"""Arrow schemas come from the record dataclasses: one declaration of each record's columns."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from curation.records import CURATED_SCHEMA, CuratedRow
from tracegen.narrate.records import META_TYPE, NARRATION_SCHEMA, Narration, narration_from_row, narrations_to_table
from tracegen.schema import arrow_schema


@pytest.mark.parametrize("record, schema", [(Narration, NARRATION_SCHEMA), (CuratedRow, CURATED_SCHEMA)])
def test_a_column_per_field_in_field_order(record, schema):
    assert schema.names == [f.name for f in dataclasses.fields(record)]
    assert schema.metadata[b"selfexec.record"] == record.__name__.encode()


def test_scalar_types_follow_the_annotations():
    types = {f.name: f.type for f in NARRATION_SCHEMA}
    assert types["text"] == pa.string() and types["predicted_output"] == pa.string()  # str | None
    assert types["tokens_in"] == pa.int32() and types["latency_ms"] == pa.float64() and types["cached"] == pa.bool_()
    assert types["meta"] == META_TYPE
    assert CURATED_SCHEMA.field("matches_expected").type == pa.bool_()
    assert CURATED_SCHEMA.field("claim_checks").type.value_type.field("step").type == pa.int32()


def test_a_narration_round_trips_through_its_table():
    row = Narration(trace_id="t", narrator="template", model="", revision="r", prompt_sha="p", text="x is 1.",
                    predicted_output=None, status="no_output", tokens_in=3, latency_ms=1.5, meta={"b": "2", "a": "1"})
    table = narrations_to_table([row])
    assert table.schema.equals(NARRATION_SCHEMA)
    assert narration_from_row(table.to_pylist()[0]) == row


def test_a_field_without_an_arrow_type_is_named():
    @dataclasses.dataclass
    class Row:
        name: str
        parts: list[str]

    with pytest.raises(TypeError, match=r"Row.parts: list\[str\] has no Arrow scalar type"):
        arrow_schema(Row, "1")
    assert arrow_schema(Row, "1", parts=pa.list_(pa.string())).field("parts").type == pa.list_(pa.string())
    with pytest.raises(TypeError, match="no fields"):
        arrow_schema(Row, "1", parts=pa.list_(pa.string()), part=pa.string())
