"""Problem loaders: every known problem-set format into the canonical `Problem` record (DESIGN §2).

    problems = load_problems("data/cruxeval/cruxeval.jsonl")          # format detected from the keys
    problems = load_many(["a.jsonl", "b.parquet"], format="canonical") # ids checked unique across files
    problems = load_problems("mine.parquet", columns={"problem_id": "id", "code": "solution"})
    write_canonical_jsonl(problems, "my_problems.jsonl")              # convert once, load fast later

Formats (one entry each in `registry.LOADERS`): canonical (JSONL / parquet of `Problem.to_dict()`
rows), cruxeval, humaneval, mbpp, mbpp_sanitized, codecontests_py300 (the bundled CodeContests subset),
code_contests_hf (`deepmind/code_contests`), apps (`codeparrot/apps`), taco (`BAAI/TACO`),
livecodebench (`livecodebench/code_generation_lite`), and any other layout through a column mapping.
Files: .jsonl, .jsonl.gz, .json (a list), .json.gz, .parquet, or a folder of them.
"""

from .columns import ColumnMapping, parse_columns
from .common import LoaderError, RowSkipped
from .registry import (FORMATS, LOADERS, Loader, LoadReport, detect_format, load_many, load_problems,
                       write_canonical_jsonl)

__all__ = [
    "FORMATS", "LOADERS", "ColumnMapping", "LoadReport", "Loader", "LoaderError", "RowSkipped", "detect_format",
    "load_many", "load_problems", "parse_columns", "write_canonical_jsonl",
]
