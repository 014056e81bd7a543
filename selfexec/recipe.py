"""YAML recipes for `selfexec run`: load, apply `--set key=value` overrides, check every key, and
build each stage's config. No stage logic here.

    run: runs/demo              # the run folder (required)
    reuse: runs/previous        # optional: an earlier run or dataset folder to take unchanged work from
    trace:   {inputs: [examples/problems.jsonl], workers: 2, limits: {timeout_s: 10}}
    narrate: {narrator: template}
    curate:  {near_dup_threshold: 0.9}
    publish: {out: runs/demo/dataset, version: 1.0.0, repo_id: null}
    engine:  {name: local}      # or ray / slurm, with per-stage resources (tracegen/engine.py)

Relative paths are taken from the directory `selfexec run` is started in.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any


from tracegen.errors import UserError
from tracegen.overrides import read_recipe

SECTIONS = ("trace", "narrate", "curate", "publish")
TOP_LEVEL = ("run", "reuse", "engine", *SECTIONS)


class RecipeError(UserError):
    """The recipe (or an override) is wrong; the message names the key and what to change."""


def load_recipe(path: str | Path, sets: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    doc = read_recipe(path, sets, f"with the keys {', '.join(TOP_LEVEL)}", "trace.workers=2")
    unknown = sorted(set(doc) - set(TOP_LEVEL))
    if unknown:
        raise RecipeError(f"unknown recipe keys {unknown}{_did_you_mean(unknown, TOP_LEVEL, '')}; valid: {list(TOP_LEVEL)}")
    if not doc.get("run"):
        raise RecipeError("the recipe needs `run:` (the run folder), or pass --set run=runs/NAME")
    for s in (*SECTIONS, "engine"):
        if not isinstance(doc.get(s) or {}, dict):
            raise RecipeError(f"`{s}:` must be a mapping of settings (got {doc[s]!r})")
    return doc


def _did_you_mean(unknown: list[str], valid, prefix: str) -> str:
    """ (did you mean `trace.workers`?) for the first unknown key close to a valid one.

    >>> _did_you_mean(["wokers"], ["workers", "shards"], "trace.")
    ' (did you mean `trace.workers`?)'
    """
    for key in unknown:
        close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
        if close:
            return f" (did you mean `{prefix}{close[0]}`?)"
    return ""


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _fields(cls: Any, section: dict[str, Any], name: str, fixed: tuple[str, ...]) -> dict[str, Any]:
    """The section's settings, each checked against the type of the setting's default: a recipe
    typo fails here with the key's name, not deep inside a stage."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in fixed}
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise RecipeError(f"unknown {name} settings {unknown}{_did_you_mean(unknown, fields, name + '.')}; "
                          f"valid: {sorted(fields)}")
    for key, value in section.items():
        default = fields[key].default
        want = type(default) if type(default) in _KINDS else None
        if value is None or want is None or isinstance(value, want) and not (want is int and isinstance(value, bool)):
            continue
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        raise RecipeError(f"{name}.{key} must be {_KINDS[want]} (got {value!r})")
    return dict(section)


def stage_configs(doc: dict[str, Any]) -> dict[str, Any]:
    """{stage: its config dataclass}, built from the recipe with the run folder and reuse filled in."""
    from curation.publish.stage import PublishConfig
    from curation.stage import CurateConfig
    from tracegen.engine import EngineConfig
    from tracegen.narrate.stage import NarrateConfig
    from tracegen.records import Limits
    from tracegen.stage import TraceConfig

    run = str(doc["run"])
    reuse = str(doc["reuse"]) if doc.get("reuse") else None
    trace = _fields(TraceConfig, doc.get("trace") or {}, "trace", ("out", "reuse"))
    if not trace.get("inputs"):
        raise RecipeError("`trace.inputs` is required: the problem files to trace, e.g. `trace: {inputs: "
                          "[examples/problems.jsonl]}` in the recipe, or --set trace.inputs=[examples/problems.jsonl]")
    if isinstance(trace["inputs"], str):
        trace["inputs"] = [trace["inputs"]]
    trace["limits"] = Limits(**_fields(Limits, trace.get("limits") or {}, "trace.limits", ()))
    narrate = _fields(NarrateConfig, doc.get("narrate") or {}, "narrate", ("run", "reuse", "overwrite"))
    curate = _fields(CurateConfig, doc.get("curate") or {}, "curate", ("run", "reuse"))
    publish = _fields(PublishConfig, doc.get("publish") or {}, "publish", ("run",))
    publish.setdefault("out", str(Path(run) / "dataset"))
    engine = _fields(EngineConfig, doc.get("engine") or {}, "engine", ())
    return {
        "engine": EngineConfig(**engine),
        "trace": TraceConfig(out=run, reuse=reuse, **trace),
        "narrate": NarrateConfig(run=run, reuse=reuse, **narrate),
        "curate": CurateConfig.from_dict(dict(curate, run=run, reuse=reuse)),
        "publish": PublishConfig(run=run, **publish),
    }
