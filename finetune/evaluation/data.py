"""Where evaluation items come from: a problem file any loader reads, a local dataset folder, or a
Hub dataset id (when online). Also the version stamp a result names its data by."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from tracegen.errors import UserError
from tracegen.records import Problem

FILE_SUFFIXES = (".jsonl", ".json", ".gz", ".parquet")


def load_problem_files(paths: list[str], format: str = "auto") -> list[Problem]:
    from tracegen.loaders import LoaderError, load_many

    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise UserError(f"problem file not found: {missing[0]} (give a .jsonl, .jsonl.gz, .json or .parquet file)")
    try:
        return load_many(paths, format)
    except LoaderError as exc:
        raise UserError(str(exc)) from exc


def load_benchmark(data: str, format: str = "auto", split: str = "test") -> list[Problem]:
    """Problems from a file, or from a dataset folder or Hub id through `datasets.load_dataset`."""
    if Path(data).is_file():
        return load_problem_files([data], format)
    if Path(data).suffix.lower() in FILE_SUFFIXES:
        raise UserError(f"--data {data}: file not found (give the path of a CRUXEval .jsonl or .parquet file, "
                        "a dataset folder, or a Hub id)")
    import datasets

    try:
        ds = datasets.load_dataset(data)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all mean "cannot load this"
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
        where = "folder" if Path(data).is_dir() else "Hub id" + (" (HF_HUB_OFFLINE is set)" if offline else "")
        raise UserError(f"--data {data}: cannot load it as a dataset {where}: {type(exc).__name__}: "
                        f"{str(exc)[:200]}; give a local .jsonl/.parquet file instead") from exc
    name = split if split in ds else next(iter(ds))
    with tempfile.TemporaryDirectory(prefix="selfexec-eval-") as tmp:
        path = Path(tmp) / f"{Path(data).name or 'data'}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for row in ds[name]:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return load_problem_files([str(path)], format)


def data_version(paths: list[str]) -> str:
    """sha256 (16 hex) of the files' bytes, or of the ids of what is not a file (a dataset folder, a Hub id)."""
    h = hashlib.sha256()
    for p in paths:
        if Path(p).is_file():
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        else:
            h.update(p.encode())
    return h.hexdigest()[:16]


def write_json(path: str | Path, obj: dict) -> Path:
    """Written to a temporary name and renamed: a reader never sees half a result file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
