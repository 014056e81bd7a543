"""Shared pieces of the problem loaders: the error type, record readers and field checks.

Every loader reads a file as a stream of (where, record) pairs, where `where` names the file and the
line (JSONL) or the record number (JSON list, parquet), so any error can point at the exact spot.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError

if TYPE_CHECKING:
    from ..records import Solution

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet")


class LoaderError(UserError):
    """A problem file cannot be read; the message names the file, line and field, and the fix."""


class RowSkipped(LoaderError):
    """One row of a set read leniently (APPS, TACO, LiveCodeBench, a column mapping) cannot be used;
    the loader counts it under `reason` (a short key) and goes on with the next row."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


_MISSING = object()


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise LoaderError(
        f"{path}: unsupported file type; expected one of {', '.join(SUFFIXES)} "
        "(convert other files to JSONL, one problem per line)"
    )


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    # newline="\n": split lines on LF only and translate nothing (a CRLF file still parses: "\r" is
    # JSON whitespace)
    return open(path, encoding="utf-8", newline="\n")


def _bad_utf8_line(path: Path) -> str:
    """` line N, column C` of the first byte that is not UTF-8 (the decoder only knows a chunk's offset)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return f" line {lineno}, column {len(raw[:e.start].decode('utf-8', 'replace')) + 1}"
    return ""


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise LoaderError(f"{path}: file not found (check the path)")


def folder_files(path: Path) -> list[Path]:
    """The data files of a dataset folder (a Hub download: `data/train-00000-of-00002.parquet`, ...),
    in name order, so shards are read in their written order."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(path).parts) and p.name.lower().endswith(SUFFIXES))
    if not files:
        raise LoaderError(
            f"{path}: is a folder with no {', '.join(SUFFIXES)} files (pass a data file, or the folder that holds them)"
        )
    return files


def iter_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | LoaderError]]:
    """Yield (where, record) for every record of a JSONL / JSON-list / parquet file, or of every such
    file in a dataset folder. A JSONL line that is not a JSON object is yielded as its `RowSkipped`."""
    _check_exists(path)
    if path.is_dir():
        for file in folder_files(path):
            yield from iter_records(file)
        return
    suffix = suffix_of(path)
    try:
        if suffix == ".parquet":
            yield from _iter_parquet(path)
        elif suffix.startswith(".jsonl"):
            yield from _iter_jsonl(path)
        else:
            yield from _iter_json_list(path)
    except UnicodeDecodeError as e:
        raise LoaderError(f"{path}{_bad_utf8_line(path)}: not valid UTF-8 text ({e.reason}); save it as UTF-8") from e
    except (gzip.BadGzipFile, EOFError) as e:
        raise LoaderError(f"{path}: not a valid gzip file ({e}); re-compress it or drop the .gz suffix") from e


def _iter_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any] | LoaderError]]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue  # blank lines (e.g. a trailing one) are not records
            where = f"{path} line {lineno}"
            # a bad line comes as its error, not raised: a strict reader raises it, a lenient one
            # (a scraped set) counts it and reads on
            try:
                record: Any = _as_object(json.loads(line), where)
            except json.JSONDecodeError as e:
                record = RowSkipped("not valid JSON", f"{where}: not valid JSON ({e.msg} at column {e.colno}); "
                                                      "each line must hold exactly one JSON object")
            except LoaderError as e:
                record = RowSkipped("not a JSON object", str(e))
            yield where, record


def _iter_json_list(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with _open_text(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise LoaderError(
                f"{path} line {e.lineno}: not valid JSON ({e.msg} at column {e.colno}); a .json file must "
                "hold one JSON list of objects"
            ) from e
    if not isinstance(data, list):
        raise LoaderError(
            f"{path}: expected a JSON list of problem objects, got {_type_name(data)}; "
            "store a list, or write one object per line in a .jsonl file"
        )
    for i, record in enumerate(data, start=1):
        where = f"{path} record {i}"
        yield where, _as_object(record, where)


def _iter_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError subclasses for damaged files
        raise LoaderError(f"{path}: not a readable parquet file ({e})") from e
    i = 0
    # batches keep memory bounded on big shards (CodeContests rows carry thousands of tests)
    for batch in pf.iter_batches(batch_size=256):
        for record in batch.to_pylist():
            i += 1
            yield f"{path} record {i}", record


def first_record_keys(path: Path) -> list[str] | None:
    """Keys of the first record (column names for parquet); None for a file with no records."""
    _check_exists(path)
    if path.is_dir():
        path = folder_files(path)[0]
    if suffix_of(path) == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as e:
            raise LoaderError(f"{path}: not a readable parquet file ({e})") from e
    for _, record in iter_records(path):
        if isinstance(record, LoaderError):
            raise record
        return list(record)
    return None


def _as_object(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise LoaderError(f"{where}: expected a JSON object with the problem's fields, got {_type_name(record)}")
    return record


def _type_name(value: Any) -> str:
    """The JSON name of a value's type, with its article: "an integer", "a list"."""
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), f"a {type(value).__name__}")


def get_field(rec: dict[str, Any], name: str, where: str, types: type | tuple[type, ...], expect: str,
              default: Any = _MISSING, label: str | None = None) -> Any:
    """rec[name] checked against `types`; `expect` says in words what a valid value looks like.

    `label` is the name shown in messages (e.g. "tests[3].input" for a nested field).
    A missing field or a null takes `default` when one is given.
    """
    label = label or name
    value = rec.get(name)
    if value is None:
        if default is not _MISSING:
            return default
        state = "is null" if name in rec else "is missing"
        raise LoaderError(f"{where}: field '{label}' {state} (expected {expect})")
    # bool is an int subclass: do not let True pass as a number, nor 1 as a boolean
    bad_bool = isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))
    if not isinstance(value, types) or bad_bool:
        raise LoaderError(f"{where}: field '{label}' is {_type_name(value)} (expected {expect})")
    return value


def get_str_list(rec: dict[str, Any], name: str, where: str, expect: str, default: Any = _MISSING,
                 label: str | None = None) -> list[str]:
    label = label or name
    values = get_field(rec, name, where, list, expect, default, label)
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise LoaderError(f"{where}: field '{label}[{i}]' is {_type_name(v)} (expected {expect})")
    return values


def normalise_newlines(source: str) -> str:
    """Python source with LF line ends. MBPP code has CRLF, and four items (104, 255, 593, 732) end in a
    lone CR; Python reads CRLF and CR as line breaks, so LF everywhere changes nothing it runs."""
    return source.replace("\r\n", "\n").replace("\r", "\n")


def crlf_to_lf(text: str) -> str:
    """Data (stdin, expected stdout) written on Windows: CRLF to LF. A lone CR is data and stays."""
    return text.replace("\r\n", "\n")


def stdin_text(text: str) -> str:
    """A stdin for a stdio test: LF line ends and a final newline.

    CodeContests-derived tests were written with .strip(), so the last line may lack its newline, and
    solutions reading with sys.stdin.readline() / input() expect one.
    """
    text = crlf_to_lf(text)
    if not text.endswith("\n"):
        text += "\n"
    return text


def python3_solutions(codes: list[str], label: str, prefix: str) -> tuple[list[Solution], dict[str, int]]:
    """Solutions that parse as Python 3, without duplicates (same syntax tree: comments and layout do
    not count), ids keeping the upstream index; and how many were dropped, by reason.

    Scraped sets mix Python 2 (`print x`) into their Python lists, and repeat one solution many times.
    """
    import ast
    import warnings

    from ..records import Solution

    kept, seen, dropped = [], set(), {}
    for i, code in enumerate(codes):
        code = normalise_newlines(code)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "\d" escapes in old code: not ours to print
                tree = ast.parse(code)
        except (SyntaxError, ValueError):
            dropped["not python 3"] = dropped.get("not python 3", 0) + 1
            continue
        key = ast.dump(tree)
        if key in seen:
            dropped["duplicate solution"] = dropped.get("duplicate solution", 0) + 1
            continue
        seen.add(key)
        kept.append(Solution(f"{prefix}-{i}", code, label))
    return kept, dropped


def row_number(where: str) -> str:
    """The line or record number at the end of a `where` ("f.jsonl line 7" -> "7")."""
    return where.rsplit(" ", 1)[-1]
