"""Property test over generated programs: tracing never changes behaviour and misses no change."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_tracer import run_reference
from tracegen.tracer import STDOUT_NAME
from tracegen.worker import run_forked

INTS = ["a", "b", "c"]
LISTS = ["xs", "ys"]
PREAMBLE = (
    "def grow(z, k):\n    z.append(k)\n    return len(z)\n"
    "a, b, c = 1, 2, 3\nxs = [3, 1, 2]\nys = xs\nd = {}\n"
)

v = st.sampled_from(INTS)
lst = st.sampled_from(LISTS)
small = st.integers(-3, 9)

simple = st.one_of(
    st.builds("{} = {} + {}".format, v, v, small),
    st.builds("{} = {} * {} % 97".format, v, v, v),
    st.builds("{} = len({})".format, v, lst),
    st.builds("{}.append({})".format, lst, v),
    st.builds("if {0}:\n    {0}[{1} % len({0})] = {2}".format, lst, v, small),
    st.builds("{} = {}".format, lst, lst),
    st.builds("{} = list({})".format, lst, lst),
    st.builds("{}.sort()".format, lst),
    st.builds("{}.reverse()".format, lst),
    st.builds("if {0}:\n    {1} = {0}.pop()".format, lst, v),
    st.builds("d[{} % 3] = {}[:]".format, v, lst),
    st.builds("d.setdefault({} % 2, []).append({})".format, v, v),
    st.builds("{} = grow({}, {})".format, v, lst, v),
    st.builds("{} = {} // ({} - {})".format, v, v, v, v),  # may raise ZeroDivisionError
    st.builds("print({}, {}, sorted(d))".format, v, lst),
    st.builds("del d[{} % 3]".format, v),  # may raise KeyError
)


def indent(block: str) -> str:
    return "\n".join("    " + line for line in block.splitlines())


statement = st.one_of(
    simple,
    st.builds(lambda n, body: f"for i in range({n}):\n" + indent("\n".join(body)),
              st.integers(0, 4), st.lists(simple, min_size=1, max_size=3)),
)
programs = st.lists(statement, min_size=1, max_size=8).map(lambda body: PREAMBLE + "\n".join(body) + "\n")


def run(code: str, trace: bool) -> dict:
    job = {"kind": "stdio", "code": code, "input": "", "entry_point": "", "check": None, "trace": trace,
           "max_events": 10**6, "max_bytes": 10**9}
    return run_forked(job)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_traced_equals_untraced_and_reference(code):
    traced, plain = run(code, True), run(code, False)
    assert traced["stdout"] == plain["stdout"]
    assert traced["status"] == plain["status"]
    assert (traced["exception"] or "").split(":")[0] == (plain["exception"] or "").split(":")[0]
    mine = [(e["event"], e["lineno"], e["func"], e["depth"],
             sorted((c["name"], c["value"]) for c in e["changes"] if c["name"] != STDOUT_NAME and c["name"] == c["base"]),
             e["value"])
            for e in traced["events"]]
    ref = [(k, ln, f, d, sorted(ch), val) for _s, k, ln, f, d, ch, val in run_reference("stdio", code, "")]
    assert mine == ref
