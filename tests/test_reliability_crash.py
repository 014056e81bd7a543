"""Issue 14, item 7 and the crash-safety check: `kill -9` of `selfexec run`'s whole process group
during each stage, and between publish's two renames, then the same command again, publishes the
bytes an uninterrupted run publishes: no duplicate rows, no temp folder left beside the dataset, and
the version chain intact (before the fix a kill between the renames left no dataset folder, and the
rerun published 1.0.0 with no parent).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from narrate_helpers import REPO

pytestmark = pytest.mark.slow
CLI = Path(sys.executable).parent / "selfexec"


def _start(run: Path, out: Path, *sets: str, pause: float = 0) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    if pause:
        env["SELFEXEC_TEST_PAUSE_BETWEEN_RENAMES"] = str(pause)
    cmd = [str(CLI), "run", "recipes/demo.yaml", "--set", f"run={run}", "--set", f"publish.out={out}",
           "--set", "trace.workers=1", *[x for s in sets for x in ("--set", s)]]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group, as a shell job is


def _finish(p: subprocess.Popen) -> None:
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]


def _kill_when(p: subprocess.Popen, ready, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert p.poll() is None, f"the run ended before {what}: {p.communicate()[0][-2000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)  # the whole group: the CLI, datatrove's workers, the sandboxes
    p.wait()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def test_kill_9_at_every_stage_then_rerun_publishes_the_same_bytes(tmp_path):
    ref_run, ref_out = tmp_path / "ref" / "run", tmp_path / "ref" / "pub" / "ds"
    run, out = tmp_path / "k" / "run", tmp_path / "k" / "pub" / "ds"
    _finish(_start(ref_run, ref_out))
    _finish(_start(ref_run, ref_out, "publish.version=1.1.0"))

    # killed while tracing, while narrating, while curating; each rerun resumes and goes on
    for stage in ("trace", "narrate", "curate"):
        p = _start(run, out)
        _kill_when(p, lambda: (run / "logs" / stage / "progress").is_dir(), f"the {stage} stage")
    _finish(_start(run, out))
    assert json.loads((out / "selfexec.json").read_text())["version"] == "1.0.0"

    # the next version, killed between publish's two renames: 1.0.0 is hidden in .ds.old, ds is gone
    p = _start(run, out, "publish.version=1.1.0", pause=60)
    old = out.with_name(f".{out.name}.old")
    _kill_when(p, lambda: old.is_dir() and not out.exists(), "the first rename")
    assert not out.exists() and old.is_dir()
    _finish(_start(run, out, "publish.version=1.1.0"))

    manifest = json.loads((out / "selfexec.json").read_text())
    assert (manifest["version"], manifest["parent_version"]) == ("1.1.0", "1.0.0")  # the chain holds
    assert _beside(out) == [], "temp folders left beside the dataset"
    assert _tree(out) == _tree(ref_out), "the published bytes differ from an uninterrupted run's"
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "data" / "narrated").select(["trace_id", "test_id", "narrator"]).to_pylist()
    assert len(rows) == len({tuple(r.values()) for r in rows}) > 0  # no duplicate rows


def test_temp_folders_of_a_killed_publish_are_cleaned_and_git_is_kept(tmp_path):
    from curation.publish.stage import recover_interrupted

    out = tmp_path / "ds"
    (out / ".git").mkdir(parents=True)
    (out / "selfexec.json").write_text("{}")
    # killed after .git was carried into the temp folder, before the renames
    tmp = tmp_path / ".ds.ab12cd_9"
    tmp.mkdir()
    os.replace(out / ".git", tmp / ".git")
    (tmp_path / ".ds.v2.abcdefgh").mkdir()  # another dataset's temp folder: not ours to remove
    recover_interrupted(out)
    assert (out / ".git").is_dir() and not tmp.exists() and (tmp_path / ".ds.v2.abcdefgh").is_dir()
