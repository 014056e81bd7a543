"""`--set KEY=VALUE` overrides of a YAML recipe, one reading for the pipeline's recipes (`selfexec run`)
and the fine-tune stage's (`selfexec sft` / `rl`), which cannot import the console script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


def apply_set(doc: dict[str, Any], assignment: str, example: str = "trace.workers=2") -> None:
    """`a.b.c=value` into `doc`: the value is read as YAML (`2`, `true`, `[a, b]`; `1.2.0` stays a
    string); a missing or empty section on the way is created.

    >>> d = {}; apply_set(d, "trace.limits.timeout_s=5"); apply_set(d, "publish.version=1.2.0"); d
    {'trace': {'limits': {'timeout_s': 5}}, 'publish': {'version': '1.2.0'}}
    """
    if "=" not in assignment:
        raise UserError(f"--set {assignment!r}: use KEY=VALUE, e.g. --set {example}")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise UserError(f"--set {assignment!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    node = doc
    for p in parts[:-1]:
        if node.get(p) is None:
            node[p] = {}
        if not isinstance(node[p], dict):
            raise UserError(f"--set {assignment!r}: {p} is not a section")
        node = node[p]
    node[parts[-1]] = value


def read_recipe(path: str | Path, sets: list[str] | tuple[str, ...], what: str, example: str) -> dict[str, Any]:
    """The YAML mapping at `path` with the `--set` overrides applied; `what` says what the mapping
    holds, for the error when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"recipe not found: {path}")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path} must be a mapping {what}")
    for s in sets:
        apply_set(doc, s, example)
    return doc
