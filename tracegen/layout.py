"""The run folder on disk (DESIGN §3): its names, the one atomic writer, the lock, which stages
finished, and the one settings fingerprint every stage resumes by.

    RUN/recipe.yaml   traces/ narrations/ curated/ rejects/ stats/ logs/ cache/   .lock

- **Atomic writes**: a file is written under a temp name beside it and renamed over, so a kill
  leaves the old file or the new one, never half of one.
- **Lock**: `lock_run(RUN)` holds `RUN/.lock` (an flock, so a killed holder frees it at once) for
  the rest of the process, `hold_run(RUN)` for a block (each stage); a second selfexec into the same
  folder is refused with who holds it (pid, host, since when, command). Taking it again in the same
  process is a no-op.
- **Finished stages**: `stage_started` leaves `logs/STAGE/unfinished.json`, `stage_finished` removes
  it (or says in it why the stage is not complete); a later stage calls `require_complete` and
  refuses an earlier one that stopped part-way, unless the user passed --allow-partial.
- **Settings fingerprint**: `logs/STAGE/settings.json` holds what a stage was made with;
  `check_settings` refuses to resume with others (naming the settings that differ: trace, narrate),
  `fingerprint_changed` says the derived work must be redone (curate).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import PipelineError, UserError

RECIPE = "recipe.yaml"
TRACES = "traces"
NARRATIONS = "narrations"
CURATED = "curated"
REJECTS = "rejects"
STATS = "stats"
LOGS = "logs"
CACHE = "cache"
LOCK = ".lock"
PUBLISHED = "published.json"
RUN_FOLDERS = (TRACES, NARRATIONS, CURATED, REJECTS, STATS, LOGS, CACHE)
# publish's layout of a dataset folder (reuse reads it back)
DATASET_DATA = "data"
DATASET_MANIFEST = "selfexec.json"
DATASET_CONFIG_OF = {TRACES: "traces", NARRATIONS: "narrated"}


class RunBusy(UserError):
    """Another selfexec process holds the run folder."""


class StageIncomplete(UserError):
    """An earlier stage stopped part-way; the message says how to finish it or pass --allow-partial."""


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temp name beside it and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


# -- the lock ---------------------------------------------------------------------------------------
_held: dict[str, int] = {}  # resolved run folder -> fd of its lock file, held until this process exits


def lock_run(run: str | Path) -> None:
    """Hold RUN/.lock for the rest of this process, or raise RunBusy naming the holder."""
    run = Path(run)
    key = str(run.resolve())
    if key in _held:
        return
    run.mkdir(parents=True, exist_ok=True)
    path = run / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        raise RunBusy(f"{run} is in use by another selfexec ({_holder(path)}); wait for it to finish, "
                      f"or use another run folder") from None
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
          "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode(), 0)
    _held[key] = fd


@contextmanager
def hold_run(run: str | Path) -> Iterator[None]:
    """Hold RUN's lock for a block (a stage called from Python); a lock this process already holds
    (`selfexec run` takes it for its whole length) is left as it is."""
    key = str(Path(run).resolve())
    if key in _held:
        yield
        return
    lock_run(run)
    try:
        yield
    finally:
        fd = _held.pop(key, None)
        if fd is not None:
            os.close(fd)  # closing the file releases the flock


def _holder(path: Path) -> str:
    try:
        h = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        h = {}
    if not h:
        return "holder unknown"
    return f"pid {h.get('pid')} on {h.get('host')} since {h.get('since')}: {h.get('command', '')}".rstrip(": ")


# -- which stages finished ----------------------------------------------------------------------------
def stats_path(run: str | Path, stage: str) -> Path:
    return Path(run) / STATS / f"{stage}.json"


def read_stats(run: str | Path, stage: str) -> dict[str, Any] | None:
    p = stats_path(run, stage)
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def _unfinished(run: str | Path, stage: str) -> Path:
    return Path(run) / LOGS / stage / "unfinished.json"


def stage_started(run: str | Path, stage: str) -> None:
    """From now until `stage_finished`, later stages see STAGE as unfinished (a kill keeps it so)."""
    mark = _unfinished(run, stage)
    if not mark.is_file():
        mark.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(mark, json.dumps({"why": "it was started and has not finished (stopped or killed part-way)"}))


def stage_finished(run: str | Path, stage: str, stats: dict[str, Any], incomplete: str = "") -> None:
    """Write RUN/stats/STAGE.json; the stage counts as finished unless `incomplete` says why not."""
    stats["complete"] = not incomplete
    (Path(run) / STATS).mkdir(parents=True, exist_ok=True)
    write_atomic(stats_path(run, stage), json.dumps(stats, indent=2, sort_keys=True))
    mark = _unfinished(run, stage)
    if incomplete:
        mark.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(mark, json.dumps({"why": incomplete}))
    else:
        mark.unlink(missing_ok=True)


def unfinished_reason(run: str | Path, stage: str) -> str:
    """Why STAGE of RUN is not finished, or "" (a run whose files were made by hand counts as finished)."""
    try:
        return json.loads(_unfinished(run, stage).read_text()).get("why") or "it stopped part-way"
    except FileNotFoundError:
        return ""
    except (OSError, ValueError):
        return "it stopped part-way"


def require_complete(run: str | Path, stage: str, later: str, rerun: str, allow_partial: bool) -> str:
    """Refuse to run `later` on a STAGE that stopped part-way, unless allow_partial; returns the reason
    the earlier stage is unfinished ("" when it finished)."""
    why = unfinished_reason(run, stage)
    if why and not allow_partial:
        raise StageIncomplete(f"the {stage} stage of {run} is incomplete: {why}. Finish it with `{rerun}`, "
                              f"or pass --allow-partial to {later} only what is there")
    return why


# -- settings fingerprint -----------------------------------------------------------------------------
def settings_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`key: old -> new` for each setting that differs, e.g. "limits.timeout_s: 10.0 -> 5.0"."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{k}.{d}" for d in settings_diff(a, b).split("; ") if d]
        else:
            out.append(f"{k}: {_short(a)} -> {_short(b)}")
    return "; ".join(out)


def _short(v: Any) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) <= 80 else s[:77] + "..."


def fingerprint_changed(run: str | Path, stage: str, fingerprint: dict[str, Any],
                        name: str = "settings.json") -> dict[str, Any] | None:
    """Record `fingerprint` as RUN/logs/STAGE/NAME; returns the earlier one when it differed (None when
    it was the same or there was none). Every stage resumes by this one protocol: trace and narrate
    refuse other settings (`check_settings`), curate redoes its derived work."""
    path = Path(run) / LOGS / stage / name
    mine = json.loads(json.dumps(fingerprint, default=str))
    earlier = None
    if path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except ValueError:
            earlier = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(mine, sort_keys=True))
    return earlier if earlier is not None and earlier != mine else None


def check_settings(run: str | Path, stage: str, settings: dict[str, Any], fix: str,
                   earlier: dict[str, Any] | None = None) -> None:
    """Refuse to resume STAGE of RUN with settings other than the ones it was made with, naming the
    settings that differ; record them otherwise. `earlier`: what to compare with when the run has no
    recorded settings yet (a run made before they were recorded)."""
    path = Path(run) / LOGS / stage / "settings.json"
    if path.is_file():
        earlier = json.loads(path.read_text())
    mine = json.loads(json.dumps(settings, default=str))
    if earlier and earlier != mine:
        raise UserError(f"{run} already holds a {stage} run with other settings ({settings_diff(earlier, mine)}); {fix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(mine, sort_keys=True))


# -- disk errors --------------------------------------------------------------------------------------
_DISK = {errno.ENOSPC: "the disk is full", errno.EFBIG: "a file grew past the file-size limit",
         errno.EDQUOT: "the disk quota is used up", errno.EROFS: "the file system is read-only",
         errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def disk_error(exc: BaseException) -> OSError | None:
    """The OSError about the disk behind `exc` (its cause chain included), or None."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _DISK:
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


@contextmanager
def disk_errors(stage: str, run: str | Path) -> Iterator[None]:
    """Turn a full disk, a read-only folder or a file-size limit met while writing RUN into one line."""
    try:
        yield
    except (UserError, PipelineError) as exc:
        err = disk_error(exc)
        if err is None:
            raise
        raise _disk_message(stage, run, err) from None
    except OSError as exc:
        if exc.errno not in _DISK:
            raise
        raise _disk_message(stage, run, exc) from None


_FIX = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
        errno.EFBIG: "raise the file-size limit (ulimit -f)"}


def _disk_message(stage: str, run: str | Path, exc: OSError) -> UserError:
    where = f" ({exc.filename})" if exc.filename else ""
    fix = _FIX.get(exc.errno, "make the folder writable or pick another one")
    return UserError(f"the {stage} stage cannot write to {run}: {_DISK[exc.errno]}{where}; {fix}, then rerun the "
                     f"same command (finished shards are kept)")
