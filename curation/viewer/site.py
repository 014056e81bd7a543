"""Write the static viewer site: the bundled HTML/CSS/JS, the index and one data file per row.

Pages opened from file:// cannot fetch() JSON in Chromium, so data ships as .js files that call a
function of the page (`selfexecIndex(...)`, `selfexecRow(...)`). Their JSON is encoded so nothing in
it can end a <script> element or start markup (`<`, `>`, `&` and every non-ASCII character are
\\u escapes); the pages build their DOM with textContent only, so program text, values and prose
are always shown as text.

The site is written into a temporary folder next to OUT and renamed into place: an interrupted
build leaves the previous site (or nothing), never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from .rows import IndexEntry, ViewerInputError, find_layout, iter_traces, plan_rows, read_narrations, row_payload

MARKER = "viewer.json"  # names a folder as a viewer site we may replace
ASSETS = ("index.html", "row.html", "viewer.css", "common.js", "index.js", "row.js")
VIEWER_VERSION = "1"


def safe_json(obj: Any) -> str:
    """JSON that is also safe inside an HTML <script>: no `<`, `>`, `&`, U+2028/2029 or non-ASCII."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def default_out(folder: Path) -> Path:
    return Path(folder) / "viewer"


def build_site(folder: Path, out: Path | None = None, title: str = "") -> dict[str, Any]:
    """Write the viewer of a run or dataset folder into OUT (default FOLDER/viewer); returns stats."""
    t0 = time.monotonic()
    folder = Path(folder)
    layout = find_layout(folder)
    out = Path(out) if out is not None else default_out(folder)
    _check_out(folder, out)
    out.resolve().parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.resolve().parent))
    try:
        stats = _write(tmp, folder, layout, title or folder.resolve().name)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stats.update(out=str(out.resolve()), index=str((out / "index.html").resolve()),
                 wall_s=round(time.monotonic() - t0, 3))
    return stats


def _check_out(folder: Path, out: Path) -> None:
    if out.resolve() == folder.resolve():
        raise ViewerInputError(f"--out {out} is the folder being viewed; pick another folder (default {default_out(folder)})")
    if out.exists() and not out.is_dir():
        raise ViewerInputError(f"--out {out} is a file; pick a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ViewerInputError(f"--out {out} is not empty and holds no viewer site (no {MARKER}); pick an empty or "
                               f"new folder, or an earlier viewer's folder to replace")


def _write(site: Path, folder: Path, layout, title: str) -> dict[str, Any]:
    assets = resources.files("curation.viewer") / "assets"
    for name in ASSETS:
        (site / name).write_bytes((assets / name).read_bytes())
    rows_dir = site / "data" / "rows"
    rows_dir.mkdir(parents=True)
    narrations = read_narrations(layout)
    plan = plan_rows(layout, narrations)
    by_trace: dict[str, list[tuple[IndexEntry, int]]] = {}
    for entry, trace_id, i in plan:
        by_trace.setdefault(trace_id, []).append((entry, i))
    written = 0
    max_events = 0
    for trace in iter_traces(layout):
        for entry, i in by_trace.pop(trace["trace_id"], []):
            n = narrations[trace["trace_id"]][i] if i >= 0 else None
            _write_row(rows_dir, entry, row_payload(entry, trace, n))
            written += 1
            max_events = max(max_events, len(trace.get("events") or []))
    for trace_id, pending in by_trace.items():  # narrations whose trace the folder lacks
        for entry, i in pending:
            _write_row(rows_dir, entry, row_payload(entry, None, narrations[trace_id][i]))
            written += 1
    entries = [e.to_dict() for e, _, _ in plan]
    # no absolute paths or clocks: the same folder gives the same bytes (publish --with-viewer republishes identically)
    index = {"title": title, "kind": layout.kind, "rows": entries, "viewer_version": VIEWER_VERSION}
    (site / "data" / "index.js").write_text(f"selfexecIndex({safe_json(index)});\n", encoding="ascii")
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    stats = {"kind": layout.kind, "rows": written, "verdicts": counts, "max_events": max_events,
             "viewer_version": VIEWER_VERSION}
    (site / MARKER).write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return stats


def _write_row(rows_dir: Path, entry: IndexEntry, payload: dict[str, Any]) -> None:
    (rows_dir / f"{entry.key}.js").write_text(f"selfexecRow({safe_json(payload)});\n", encoding="ascii")


def _swap_in(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
    os.replace(tmp, out)
    os.chmod(out, 0o755)  # mkdtemp made it 0700
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
