"""`selfexec.json`: what a published folder holds and where it came from.

version and parent version, per config the rows per split, the files and a content hash, the
rows added / removed / kept against the parent, and how the data was made (versions, narrator,
prompt template, sandbox, the recipe with local paths reduced to file names, the funnel).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from tracegen.errors import UserError
from tracegen.layout import DATASET_MANIFEST

from .configs import CONFIGS, row_keys

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PATH_KEYS = {"input", "inputs", "out", "run", "reuse", "cache_dir", "path", "parent", "tokenizer", "model"}


class ConfigError(UserError):
    """A setting is wrong; the message says which and what to change."""


def parse_version(v: str) -> tuple[int, int, int]:
    """
    >>> parse_version("1.10.0") > parse_version("1.9.3")
    True
    """
    m = _VERSION.match(str(v))
    if not m:
        raise ConfigError(f"version must be MAJOR.MINOR.PATCH, e.g. 1.2.0 (got {v!r})")
    return int(m[1]), int(m[2]), int(m[3])


def read_manifest(folder: Path | None) -> dict[str, Any] | None:
    if folder is None or not (Path(folder) / DATASET_MANIFEST).is_file():
        return None
    return json.loads((Path(folder) / DATASET_MANIFEST).read_text())


def parent_of(cfg: Any, run: Path, out: Path) -> Path | None:
    """The previous version: --parent; else the version OUT holds now; else, when the run reused
    an earlier one (--reuse), the dataset that one is (or was published to)."""
    if cfg.parent:
        return Path(cfg.parent)
    if read_manifest(out):
        return out
    recipe = run / "recipe.yaml"
    reuse = ((yaml.safe_load(recipe.read_text()) or {}).get("trace") or {}).get("reuse") if recipe.exists() else None
    if not reuse:
        return None
    if read_manifest(Path(reuse)):
        return Path(reuse)
    published = Path(reuse) / "published.json"
    if published.is_file():
        target = Path(json.loads(published.read_text())["out"])
        if read_manifest(target) and target.resolve() != out.resolve():
            return target
    return None


def build_manifest(cfg: Any, run: Path, root: Path, files: dict[str, dict[str, list[str]]],
                   tables: dict[str, pa.Table], parent_dir: Path | None, parent: dict[str, Any] | None,
                   existing: dict[str, Any] | None) -> dict[str, Any]:
    configs = {}
    for c in CONFIGS:
        digest = hashlib.sha256()
        rows = {}
        for split, paths in files[c].items():
            rows[split] = sum(pq.read_metadata(root / p).num_rows for p in paths)
            for p in paths:
                digest.update(p.encode() + b"\0" + (root / p).read_bytes())
        configs[c] = {"rows": rows, "total": sum(rows.values()), "files": files[c], "sha256": digest.hexdigest()}
    def same(m: dict[str, Any] | None) -> bool:
        return m is not None and cfg.version in (None, m["version"]) and all(
            m.get("configs", {}).get(c, {}).get("sha256") == configs[c]["sha256"] for c in CONFIGS)

    twin = existing if same(existing) else parent if same(parent) else None
    if twin is not None:
        # the same content published again: same version, same parent, byte-identical files
        version, parent_version, diff = twin["version"], twin["parent_version"], twin["diff_vs_parent"]
    else:
        if existing is not None and cfg.version is not None and cfg.version == existing.get("version"):
            raise ConfigError(f"version {cfg.version} is already published in {cfg.out} with other content; "
                              f"pass a higher --version")
        version = cfg.version or _next_version(parent)
        parent_version = parent["version"] if parent else None
        if parent_version and parse_version(version) <= parse_version(parent_version):
            raise ConfigError(f"version {version} must be higher than the parent's {parent_version} "
                              f"({parent_dir}); pass a higher --version")
        diff = _diff(parent_dir, parent, tables) if parent else None
    stats = {s: _json(run / "stats" / f"{s}.json") for s in ("trace", "narrate", "curate")}
    settings = _json(run / "logs" / "narrate" / "settings.json")
    recipe = yaml.safe_load((run / "recipe.yaml").read_text()) if (run / "recipe.yaml").exists() else {}
    recipe = dict(recipe or {}, publish={k: v for k, v in cfg.settings().items() if k not in ("out", "parent")})
    return {
        "format": "selfexec-dataset/1",
        "name": cfg.name or Path(cfg.out).resolve().name,
        "version": version,
        "parent_version": parent_version,
        "configs": configs,
        "diff_vs_parent": diff,
        "made_with": _made_with(tables, stats),
        "narrate_settings": settings,
        "funnel": {"trace": _pick(stats["trace"], "rows", "by_status", "by_source", "by_source_status"),
                   "curate": _pick(stats["curate"], "in", "kept", "by_reason", "by_source")},
        "recipe": public_recipe(recipe),
    }


def _next_version(parent: dict[str, Any] | None) -> str:
    if parent is None:
        return "1.0.0"
    major, minor, _ = parse_version(parent["version"])
    return f"{major}.{minor + 1}.0"


def _diff(parent_dir: Path, parent: dict[str, Any], tables: dict[str, pa.Table]) -> dict[str, dict[str, int]]:
    out = {}
    for c in CONFIGS:
        old: set[str] = set()
        for paths in (parent.get("configs", {}).get(c, {}).get("files") or {}).values():
            for p in paths:
                old |= row_keys(c, pq.read_table(parent_dir / p))
        new = row_keys(c, tables[c])
        out[c] = {"added": len(new - old), "removed": len(old - new), "kept": len(new & old)}
    return out


def _made_with(tables: dict[str, pa.Table], stats: dict[str, Any]) -> dict[str, Any]:
    from tracegen.narrate.render_prompt import TEMPLATE_DIR

    def distinct(config: str, *cols: str) -> list:
        t = tables[config]
        return sorted({tuple(r[c] or "" for c in cols) if len(cols) > 1 else (r[cols[0]] or "")
                       for r in t.select(list(cols)).to_pylist()})

    template = hashlib.sha256()
    for f in sorted(TEMPLATE_DIR.glob("*.jinja")):
        template.update(f.name.encode() + b"\0" + f.read_bytes())
    return {
        "tracer_versions": distinct("traces", "tracer_version"),
        "python_versions": distinct("traces", "python_version"),
        "sandbox": stats["trace"].get("sandbox") or ",".join(distinct("traces", "sandbox")),
        "narrators": [list(x) for x in distinct("narrated", "narrator", "model", "revision")],
        "prompt_template_sha": template.hexdigest(),
        "prompt_shas": len(distinct("narrated", "prompt_sha")),
        "verifier_versions": distinct("narrated", "verifier_version"),
        "selfexec_version": _selfexec_version(),
    }


def _selfexec_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("selfexec")
    except PackageNotFoundError:
        return "unknown"


def public_recipe(doc: Any, key: str = "") -> Any:
    """The recipe with local paths reduced to file names: a card must not publish a home folder."""
    if isinstance(doc, dict):
        return {k: public_recipe(v, k) for k, v in doc.items()}
    if isinstance(doc, list):
        return [public_recipe(v, key) for v in doc]
    if key in _PATH_KEYS and isinstance(doc, str) and (doc.startswith((".", "~")) or Path(doc).is_absolute()):
        return Path(doc).name
    return doc


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _pick(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if k in d}
