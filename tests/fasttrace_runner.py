"""Run trace jobs and print one JSON line per job: what the sandbox's child sent (for
tests/test_fasttrace.py, which runs this once with the C hot path and once without it).

    python tests/fasttrace_runner.py JOBS.jsonl WORKDIR   (SELFEXEC_PURE_TRACER=1: the pure-Python tracer)

WORKDIR is the jobs' directory, the same for both runs (a program may print its HOME).

The process must start fresh each time: the tracer picks its path when it is imported."""

import dataclasses
import json
import shutil
import sys

from tracegen import tracer, worker
from tracegen.event_arrow import read_events
from tracegen.event_columns import split_payload
from tracegen.records import Limits

if __name__ == "__main__":
    base = {**dataclasses.asdict(Limits()), "entry_point": "", "check": None, "trace": True}
    print(json.dumps({"c_hook": tracer._fasttrace is not None}))
    workdir = sys.argv[2]
    for line in open(sys.argv[1]):
        job = {**base, **json.loads(line)}
        try:
            header, payload = worker.run_in_child(job, workdir, False)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        header.pop("wall_ms", None)
        result, blob = split_payload(payload) if payload else ({}, None)
        result.update(header)
        result["events"] = list(read_events(blob if blob is not None else result.get("events") or []))
        print(json.dumps(result, sort_keys=True))
