"""The curate funnel: counts in, kept, dropped per reason, per source and per narrator, with the
check that every row is accounted for (in = kept + sum of rejects, overall and per group)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa


class FunnelError(AssertionError):
    """Rows went missing between the input and the outputs: a bug, never data."""


def _group(rows: list[dict[str, Any]], reasons: tuple[str, ...]) -> dict[str, Any]:
    by_reason = Counter(r["reject_reason"] for r in rows if not r["kept"])
    unknown = set(by_reason) - set(reasons)
    if unknown:
        raise FunnelError(f"rows rejected for reasons that are not counted: {sorted(unknown)}")
    kept = sum(1 for r in rows if r["kept"])
    out = {"in": len(rows), "kept": kept, "rejected": len(rows) - kept,
           "by_reason": {reason: by_reason.get(reason, 0) for reason in reasons}}
    if out["in"] != kept + sum(out["by_reason"].values()):
        raise FunnelError(f"funnel does not add up: in={out['in']} kept={kept} rejects={out['by_reason']}")
    return out


# the columns the funnel reads: curate keeps only these of each shard's rows until the stats are made
FUNNEL_COLUMNS = ["kept", "reject_reason", "source", "narrator", "contaminated_by", "claims", "claims_checked",
                  "claims_wrong", "claims_unchecked", "claims_unknown", "n_tokens"]


def funnel_stats(tables: list[pa.Table], reasons: tuple[str, ...]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for t in tables:
        rows.extend(t.select(FUNNEL_COLUMNS).to_pylist())
    stats = _group(rows, reasons)
    stats["out"] = stats["kept"]
    for key in ("source", "narrator"):
        groups: dict[str, list] = {}
        for r in rows:
            groups.setdefault(r[key] or "", []).append(r)
        stats[f"by_{key}"] = {name: _group(g, reasons) for name, g in sorted(groups.items())}
    dropped_by: Counter = Counter()
    hits_by: Counter = Counter()
    for r in rows:
        if r["contaminated_by"]:
            bench = r["contaminated_by"].split(":", 1)[0]
            hits_by[bench] += 1
            if r["reject_reason"] == "contaminated":
                dropped_by[bench] += 1
    stats["contaminated_by_benchmark"] = dict(sorted(dropped_by.items()))
    stats["contamination_hits_by_benchmark"] = dict(sorted(hits_by.items()))
    stats["claims"] = {k: sum(r[k] or 0 for r in rows) for k in
                       ("claims", "claims_checked", "claims_wrong", "claims_unchecked", "claims_unknown")}
    stats["claims_kept"] = {k: sum(r[k] or 0 for r in rows if r["kept"]) for k in
                            ("claims", "claims_checked", "claims_unchecked")}
    toks = [r["n_tokens"] for r in rows if r["kept"] and r["n_tokens"] is not None]
    stats["kept_tokens"] = ({"min": min(toks), "max": max(toks), "mean": round(sum(toks) / len(toks), 1),
                             "total": sum(toks)} if toks else {})
    return stats
