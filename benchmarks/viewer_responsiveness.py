"""The viewer's row page on a short and a 10,000-event trace, side by side in one headless Chromium.

Traces `count(n)` for a small and a large n through the CLI, writes the site with `selfexec view`, opens
both rows and prints, for each: page load time, the time of one step move (mean over many moves spread
across the trace), and the DOM size; then the ratios large / small. A windowed page keeps the DOM size
flat and the step time within a small factor of the short trace's.

    python benchmarks/viewer_responsiveness.py [--small 50] [--large 5000] [--moves 200] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CODE = "def count(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"


def build(root: Path, sizes: dict[str, int]) -> Path:
    problem = {"problem_id": "bench/count", "source": "bench", "license": "MIT", "kind": "function", "statement": "",
               "entry_point": "count", "solutions": [{"solution_id": "s0", "code": CODE, "label": "correct"}],
               "tests": [{"test_id": name, "input": str(n), "output": None, "public": True} for name, n in sizes.items()]}
    (root / "p.jsonl").write_text(json.dumps(problem) + "\n")
    cli = [sys.executable, "-m", "selfexec.cli"]
    subprocess.run(cli + ["trace", str(root / "p.jsonl"), "--out", str(root / "run")], check=True, capture_output=True)
    subprocess.run(cli + ["view", str(root / "run"), "--out", str(root / "site")], check=True, capture_output=True)
    return root / "site"


def measure(page, site: Path, key: str, moves: int) -> dict[str, float]:
    t0 = time.perf_counter()
    page.goto((site / "row.html").as_uri() + "#" + key)
    page.wait_for_selector("#code .line")
    load_s = time.perf_counter() - t0
    # setStep is the page's own handler of the slider and the arrow keys
    step_ms = page.evaluate("""(moves) => {
        const n = Number(document.getElementById('step').max);
        const t = performance.now();
        for (let k = 0; k < moves; k++) setStep(Math.floor(k * n / moves));
        return (performance.now() - t) / moves;
    }""", moves)
    return {"events": int(page.eval_on_selector("#step", "s => s.max")), "load_s": load_s, "step_ms": step_ms,
            "dom": page.evaluate("document.getElementsByTagName('*').length")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--large", type=int, default=5000, help="count(5000) is about 10,000 events (the default budget)")
    ap.add_argument("--moves", type=int, default=200)
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = ap.parse_args()
    if not args.chromium:
        sys.exit("no chromium found: apt-get install chromium, or pass --chromium PATH")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = build(Path(tmp), {"small": args.small, "large": args.large})
        keys = {r["test_id"]: r["key"] for r in json.loads(
            (site / "data" / "index.js").read_text()[len("selfexecIndex("):-len(");\n")])["rows"]}
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=args.chromium,
                                                       headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = ctx.new_page()
            res = {name: measure(page, site, keys[name], args.moves) for name in ("small", "large")}
            ctx.close()
    print(f"{'trace':8} {'events':>8} {'load s':>8} {'ms/step':>8} {'DOM':>6}")
    for name, r in res.items():
        print(f"{name:8} {r['events']:>8} {r['load_s']:>8.2f} {r['step_ms']:>8.2f} {r['dom']:>6}")
    s, big = res["small"], res["large"]
    print(f"ratios large/small: events {big['events'] / s['events']:.0f}x, step time {big['step_ms'] / s['step_ms']:.1f}x, "
          f"DOM size {big['dom'] / s['dom']:.2f}x, load {big['load_s'] / s['load_s']:.1f}x")


if __name__ == "__main__":
    main()
