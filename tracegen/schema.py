"""Arrow schemas generated from the record dataclasses, so each record's columns are declared once.

A record's fields are its columns, in order. Scalar annotations map to Arrow types (`int` is int32:
counts, steps, line numbers); `X | None` is a nullable X (every Arrow column is nullable); nested
types (lists of structs, the `meta` pairs) are named by the record module next to its dataclass.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

SCALARS = {"str": pa.string(), "int": pa.int32(), "float": pa.float64(), "bool": pa.bool_()}


def arrow_schema(record: Any, version: str, **nested: pa.DataType) -> pa.Schema:
    """The Arrow schema of the dataclass `record`; `nested` gives the type of each non-scalar field.

    >>> @dataclasses.dataclass
    ... class Row:
    ...     name: str
    ...     steps: int | None = None
    >>> arrow_schema(Row, "1").types
    [DataType(string), DataType(int32)]
    """
    columns = []
    for f in dataclasses.fields(record):
        if f.name in nested:
            columns.append((f.name, nested[f.name]))
            continue
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        scalar = SCALARS.get(annotation.removesuffix(" | None").strip())
        if scalar is None:
            raise TypeError(f"{record.__name__}.{f.name}: {annotation} has no Arrow scalar type; "
                            f"pass {f.name}=<pyarrow type> to arrow_schema")
        columns.append((f.name, scalar))
    unknown = sorted(set(nested) - {f.name for f in dataclasses.fields(record)})
    if unknown:
        raise TypeError(f"{record.__name__} has no fields {unknown}")
    return pa.schema(columns, metadata={"selfexec.record": record.__name__, "selfexec.schema_version": version})
