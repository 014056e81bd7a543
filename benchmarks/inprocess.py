"""Running a benchmark program inside this process: fresh globals, stdin and stdout swapped for
StringIOs, and, for comparison with our tracer, the same program under PySnooper or snoop
(`benchmarks/tracer_overhead.py` measures with these)."""

from __future__ import annotations

import io
import linecache
import re
import signal
import sys
import time

from tracegen.tracer import USER_FILENAME


def run_globals(extra: dict | None = None) -> dict:
    g = {"__name__": "__main__", "__builtins__": __builtins__}
    if extra:
        g.update(extra)
    return g


class Redirect:
    """sys.stdin/sys.stdout swapped for StringIOs around one run."""

    def __init__(self, stdin_text: str):
        self.stdin = io.StringIO(stdin_text)
        self.stdout = io.StringIO()

    def __enter__(self):
        self.saved = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = self.stdin, self.stdout
        return self

    def __exit__(self, *exc):
        sys.stdin, sys.stdout = self.saved



def wrap_in_main(source: str) -> str:
    """Body into `def main()`; every def (main included) gets `@__snoop__` right above it."""
    body = "".join("    " + line if line.strip() else line for line in source.splitlines(True))
    wrapped = "def main():\n" + body + "main()\n"
    out = []
    for line in wrapped.splitlines(True):
        m = re.match(r"(\s*)def \w+\(", line)
        if m:
            out.append(f"{m.group(1)}@__snoop__\n")
        out.append(line)
    return "".join(out)


class _Capped(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Capped()


class _Loader:
    """A __loader__ with get_source, so PySnooper shows the real source lines."""

    def __init__(self, source: str):
        self.source = source

    def get_source(self, name):
        return self.source


def run_snooper(which: str, source: str, code_obj, inp: str, cap_s: float, sink) -> tuple[float, str, bool]:
    """Run the main()-wrapped program under PySnooper or snoop; returns (s, stdout, capped)."""
    linecache.cache[USER_FILENAME] = (len(source), None, source.splitlines(True), USER_FILENAME)
    if which == "pysnooper":
        import pysnooper
        import pysnooper.tracer as pt

        pt.source_and_path_cache.clear()
        deco = pysnooper.snoop(output=sink, color=False)
    else:
        import snoop

        deco = snoop.Config(out=sink, color=False, columns=()).snoop
    extra = {"__snoop__": deco, "__loader__": _Loader(source)}
    capped = False
    old = signal.signal(signal.SIGALRM, _on_alarm)
    with Redirect(inp) as io_:
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, cap_s)
        try:
            exec(code_obj, run_globals(extra))
        except _Capped:
            capped = True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.settrace(None)
            dt = time.perf_counter() - t0
    signal.signal(signal.SIGALRM, old)
    linecache.cache.pop(USER_FILENAME, None)
    return dt, io_.stdout.getvalue(), capped
