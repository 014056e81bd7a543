"""The dataset card (`README.md`) and its plots, from the jinja2 template in `data_cards/` (next to this module).

The YAML header is built as data and dumped with `yaml.safe_dump` (so it is valid YAML whatever
the names hold); the prose around it is the template's. Plots are PNGs written by matplotlib's Agg
backend with no timestamp or software metadata, so a republish gives the same bytes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from ..records import REASONS
from .configs import CONFIGS

TEMPLATE = Path(__file__).parent / "data_cards" / "dataset_card.md.j2"  # package data: ships in the wheel

# what we know of the bundled / well-known problem sets: who to credit and where they come from
ATTRIBUTION = {
    "cruxeval": "CRUXEval (Gu et al., 2024), https://github.com/facebookresearch/cruxeval",
    "humaneval": "HumanEval (Chen et al., 2021), https://github.com/openai/human-eval",
    "mbpp": "MBPP (Austin et al., 2021), https://github.com/google-research/google-research/tree/master/mbpp",
    "mbpp_sanitized": "MBPP, sanitized (Austin et al., 2021), https://github.com/google-research/google-research",
    "codecontests_py300": "CodeContests (Li et al., 2022), via the Hugging Face dataset deepmind/code_contests",
    "code_contests": "CodeContests (Li et al., 2022), https://github.com/google-deepmind/code_contests",
    "quixbugs": "QuixBugs (Lin et al., 2017), https://github.com/jkoppel/QuixBugs",
    "selfexec-demo": "the selfexec examples, written by the selfexec authors",
}
CONFIG_TEXT = {
    "traces": "every traced run (any status) with its line-level events and state diffs",
    "narrated": "narrations that passed verification, with the trace fields and the verdict",
    "sft": "TRL conversational `messages`: the task, then the narration and the answer",
    "rl": "conversational `prompt` plus the ground truth a reward needs (`kind`, `expected_output`, `tests`)",
    "input_prediction": "CRUXEval-I style: the code and an output in `prompt`, any input giving `expected_output` "
                        "wins (checked by running it: finetune/input_prediction.py); `input` is one such input",
}
# the arXiv id is what we know for sure; the title and authors are on its page
PAPER_BIBTEX = """@misc{arxiv_2604_03253,
  eprint        = {2604.03253},
  archivePrefix = {arXiv},
  year          = {2026},
  url           = {https://arxiv.org/abs/2604.03253},
  note          = {self-execution simulation; take the title and authors from the arXiv page}
}"""


def write_card(root: Path, cfg: Any, run: Path, manifest: dict[str, Any], tables: dict[str, pa.Table],
               licenses: dict[str, str]) -> None:
    import jinja2

    plots = write_plots(root / "plots", manifest, tables)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template(TEMPLATE.name).render(
        header=yaml.safe_dump(card_header(manifest, licenses), sort_keys=False, allow_unicode=True).rstrip("\n"),
        m=manifest, configs=CONFIGS, config_text=CONFIG_TEXT, plots=plots, funnel=funnel_table(manifest),
        sources=source_rows(tables, licenses), examples=examples(tables["sft"]),
        recipe=yaml.safe_dump(manifest["recipe"], sort_keys=True).rstrip("\n"), bibtex=PAPER_BIBTEX,
        repo_id=cfg.repo_id, made=manifest["made_with"],
        statuses=sorted(manifest["funnel"]["trace"].get("by_status", {}).items(), key=lambda kv: (-kv[1], kv[0])),
    )
    (root / "README.md").write_text(text)


def card_header(manifest: dict[str, Any], licenses: dict[str, str]) -> dict[str, Any]:
    """The card's YAML metadata: licence(s), tags, task categories, size and `configs:`."""
    lics = sorted({_hub_license(v) for v in licenses.values()})
    configs = []
    for c in CONFIGS:
        files = manifest["configs"][c]["files"]
        entry = {"config_name": c,
                 "data_files": [{"split": s, "path": f"data/{c}/{s}-*.parquet"} for s in files]}
        if c == "narrated":
            entry["default"] = True
        configs.append(entry)
    return {
        "license": lics[0] if len(lics) == 1 else lics,
        "pretty_name": manifest["name"],
        "language": ["en"],
        "tags": ["code", "execution-traces", "synthetic", "self-execution-simulation", "selfexec"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(manifest["configs"]["narrated"]["total"])],
        "configs": configs,
    }


def _hub_license(lic: str) -> str:
    """SPDX-ish as the problems give it (MIT, CC-BY-4.0) -> the Hub's lower-case ids."""
    return lic.strip().lower()


def _size_category(n: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < bound:
            return name
    return "n>1M"


def funnel_table(manifest: dict[str, Any]) -> dict[str, Any]:
    """Rows: traced, finished ok, narrated, then each reject reason that dropped rows, then kept;
    columns: all, then one per source."""
    tr, cu = manifest["funnel"]["trace"], manifest["funnel"]["curate"]
    sources = sorted(set(tr.get("by_source", {})) | set(cu.get("by_source", {})))
    ok_by_source = {s: (cu.get("by_source", {}).get(s, {}).get("in", 0)) for s in sources}
    rows = [("traced (solution, test) pairs", tr.get("rows", 0), [tr.get("by_source", {}).get(s, 0) for s in sources]),
            ("finished normally (status ok)", tr.get("by_status", {}).get("ok", 0),
             [tr.get("by_source_status", {}).get(s, {}).get("ok", 0) for s in sources]),
            ("narrated", cu.get("in", 0), [ok_by_source[s] for s in sources])]
    for reason in REASONS:
        n = cu.get("by_reason", {}).get(reason, 0)
        if n:
            rows.append((f"rejected: {reason}", -n, [-cu["by_source"][s]["by_reason"].get(reason, 0)
                                                     if s in cu.get("by_source", {}) else 0 for s in sources]))
    rows.append(("kept", cu.get("kept", 0), [cu.get("by_source", {}).get(s, {}).get("kept", 0) for s in sources]))
    return {"sources": sources, "rows": rows}


def source_rows(tables: dict[str, pa.Table], licenses: dict[str, str]) -> list[dict[str, Any]]:
    traced = Counter(tables["traces"].column("source").to_pylist())
    kept = Counter(tables["narrated"].column("source").to_pylist())
    return [{"source": s, "license": licenses.get(s, ""), "traces": traced.get(s, 0), "kept": kept.get(s, 0),
             "attribution": ATTRIBUTION.get(s, "as named by the problems file (`source` field)")}
            for s in sorted(licenses)]


def examples(sft: pa.Table, per_kind: int = 1, max_chars: int = 1500) -> list[dict[str, Any]]:
    out: dict[str, list] = {}
    for r in sft.select(["kind", "problem_id", "messages"]).to_pylist():
        if len(out.setdefault(r["kind"], [])) < per_kind:
            out[r["kind"]].append({"kind": r["kind"], "problem_id": r["problem_id"],
                                   "messages": [{"role": m["role"], "content": _cut(m["content"], max_chars)}
                                                for m in r["messages"]]})
    return [e for k in sorted(out) for e in out[k]]


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n // 2] + f"\n… ({len(text) - n} characters left out) …\n" + text[-n // 2:]


def write_plots(folder: Path, manifest: dict[str, Any], tables: dict[str, pa.Table]) -> dict[str, str]:
    """funnel, trace length histogram, narration token histogram, rows per source -> PNG files;
    returns {name: relative path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = {}

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        out[name] = f"plots/{name}.png"

    f = funnel_table(manifest)
    labels, values = [], []
    left = f["rows"][2][1]
    for label, n, _ in f["rows"][:3]:
        labels.append(label)
        values.append(n)
    for label, n, _ in f["rows"][3:-1]:
        left += n
        labels.append(f"after {label.split(': ', 1)[1]}")
        values.append(left)
    labels.append("kept")
    values.append(f["rows"][-1][1])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1))
    ax.barh(range(len(labels)), values, color="#4c72b0")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,}", va="center")
    ax.set_xlim(0, max(values + [1]) * 1.18)  # room for the counts
    ax.set_xlabel("rows")
    ax.set_title("filter funnel")
    save(fig, "funnel")

    for name, table, col, what in (("trace_length", tables["traces"], "n_events", "events per trace"),
                                   ("narration_tokens", tables["narrated"], "n_tokens", "tokens per kept narration")):
        vals = [v for v in table.column(col).to_pylist() if v is not None]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.hist(vals or [0], bins=min(40, max(1, len(set(vals)))), color="#55a868")
        ax.set_xlabel(what)
        ax.set_ylabel("rows")
        ax.set_title(f"{what} (n={len(vals):,})")
        save(fig, name)

    sources = sorted(set(tables["traces"].column("source").to_pylist()))
    traced = Counter(tables["traces"].column("source").to_pylist())
    kept = Counter(tables["narrated"].column("source").to_pylist())
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(sources) + 1.5))
    y = range(len(sources))
    ax.barh([i - 0.2 for i in y], [traced[s] for s in sources], height=0.4, label="traces", color="#8172b2")
    ax.barh([i + 0.2 for i in y], [kept[s] for s in sources], height=0.4, label="kept narrations", color="#c44e52")
    ax.set_yticks(list(y), [s or "(none)" for s in sources])
    ax.invert_yaxis()
    ax.legend()
    ax.set_title("rows per source")
    save(fig, "rows_per_source")
    return out

