"""Every parquet folder a run writes loads with plain `datasets.load_dataset` (no extra code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_trace_narrate_curate_outputs_load_with_datasets(tmp_path):
    run = tmp_path / "run"
    for args in (["trace", "examples/problems.jsonl", "--out", str(run)],
                 ["narrate", str(run)],
                 ["curate", str(run), "--tokenizer", "chars"]):
        res = subprocess.run([sys.executable, "-m", "selfexec.cli", *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=600, env={**os.environ, "COLUMNS": "120"})
        assert res.returncode == 0, res.stderr
    import datasets

    import pyarrow.parquet as pq

    rows = {}
    for folder in ("traces", "narrations", "curated", "rejects"):
        files = sorted((run / folder).glob("*.parquet"))
        assert files, folder
        n = sum(pq.read_metadata(f).num_rows for f in files)
        if n:  # shards with no rows are among these files and must not break loading
            rows[folder] = datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")
            assert rows[folder].num_rows == n
    assert rows["traces"].num_rows == 16
    assert rows["narrations"].num_rows == 15  # the crashing test is not narrated
    assert rows["curated"].num_rows + (rows["rejects"].num_rows if "rejects" in rows else 0) == 15
    first = rows["curated"][0]
    assert first["text"].rstrip().endswith("[/OUTPUT]") and isinstance(first["meta"], list)
