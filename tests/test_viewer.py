"""`selfexec view`: a real run (trace -> narrate --narrator import -> curate, through the CLI) as a
static site, checked as files and in headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from curation.viewer.site import ASSETS, safe_json

CLI = [sys.executable, "-m", "selfexec.cli"]

SCALE = "def scale(xs, k):\n    out = []\n    for x in xs:\n        y = x * k\n        out.append(y)\n    return out\n"
# markup, quotes and non-ASCII in the program, its input and the narration: all must show as text
MARKUP = ("def f(s):\n    t = s + '<script>window.__pwned = 1</script>'\n    u = \"é \\\"q\\\" ☃ 😀 &amp;\"\n"
          "    return t + u\n")
MARKUP_INPUT = "'<img src=x onerror=\"window.__pwned=2\">'"
GRID = "def grid(n):\n    dp = [[0] * 3 for _ in range(2)]\n    dp[1][2] = n\n    dp[0][1] = n + 1\n    return dp\n"
LONG = "def count(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"


def _problem(pid: str, entry: str, code: str, tests: list[tuple[str, str, str | None]]) -> dict:
    return {"problem_id": pid, "source": "viewer-test", "license": "MIT", "kind": "function", "statement": "",
            "entry_point": entry, "solutions": [{"solution_id": "s0", "code": code, "label": "correct"}],
            "tests": [{"test_id": t, "input": i, "output": o, "public": True} for t, i, o in tests]}


TRUE_T0 = ("We call `scale` with `xs` = `[1, 2, 3]` and `k` = `2`. Line 2: `out` becomes `[]`. Line 3: `x` becomes "
           "`1`. Line 4: `y` becomes `2`. Line 5: `out` becomes `[2]`. Line 3: `x` becomes `2`. Line 4: `y` becomes "
           "`4`. Line 5: `out` becomes `[2, 4]`. Line 3: `x` becomes `3`. Line 4: `y` becomes `6`. Line 5: `out` "
           "becomes `[2, 4, 6]`. So the call returns `[2, 4, 6]`.\n\n[OUTPUT]\n[2, 4, 6]\n[/OUTPUT]")
# one planted error (`y` is 15, not 16); the emoji before it moves UTF-16 offsets away from Python's
WRONG_T1 = ("😀 We call `scale` with `xs` = `[4, 5]` and `k` = `3`. Line 2: `out` becomes `[]`. Line 3: `x` becomes "
            "`4`. Line 4: `y` becomes `12`. Line 5: `out` becomes `[12]`. Line 3: `x` becomes `5`. Line 4: `y` "
            "becomes `16`. Line 5: `out` becomes `[12, 15]`. So the call returns `[12, 15]`.\n\n[OUTPUT]\n[12, 15]\n"
            "[/OUTPUT]")
MARKUP_TEXT = "<script>window.__pwned = 3</script> \"quoted\" é 😀 <b>bold</b>\n\n[OUTPUT]\n'x'\n[/OUTPUT]"


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", COLUMNS="200")
    res = subprocess.run(CLI + list(args), capture_output=True, text=True, env=env, timeout=300)
    if ok:
        assert res.returncode == 0, f"selfexec {' '.join(args)}: {res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One real run: `scale` on two tests (a true narration, kept; one with a wrong value, rejected), a
    program full of markup, and a trace of about 10,000 events (no narration)."""
    root = tmp_path_factory.mktemp("viewer")
    problems = [
        _problem("viewer/scale", "scale", SCALE, [("t0", "[1, 2, 3], 2", "[2, 4, 6]"), ("t1", "[4, 5], 3", "[12, 15]")]),
        _problem("viewer/markup", "f", MARKUP, [("t0", MARKUP_INPUT, None)]),
        _problem("viewer/long", "count", LONG, [("t0", "5000", None)]),
        _problem("viewer/grid", "grid", GRID, [("t0", "5", None)]),
    ]
    (root / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in problems))
    lines = [{"problem_id": "viewer/scale", "solution_id": "s0", "test_id": "t0", "text": TRUE_T0},
             {"problem_id": "viewer/scale", "solution_id": "s0", "test_id": "t1", "text": WRONG_T1},
             {"problem_id": "viewer/markup", "solution_id": "s0", "test_id": "t0", "text": MARKUP_TEXT}]
    (root / "n.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    cli("trace", str(root / "p.jsonl"), "--out", str(root / "run"))
    cli("narrate", str(root / "run"), "--narrator", "import", "--input", str(root / "n.jsonl"))
    cli("curate", str(root / "run"))
    res = cli("view", str(root / "run"), "--out", str(root / "site"))
    assert "5 rows" in res.stdout and str(root / "site") in res.stdout
    return root


def _index(site: Path) -> list[dict]:
    text = (site / "data" / "index.js").read_text()
    return json.loads(text[len("selfexecIndex("):-len(");\n")])["rows"]


def _key(site: Path, problem_id: str, test_id: str = "t0") -> str:
    return next(r["key"] for r in _index(site) if r["problem_id"] == problem_id and r["test_id"] == test_id)


def _row(site: Path, key: str) -> dict:
    text = (site / "data" / "rows" / f"{key}.js").read_text()
    return json.loads(text[len("selfexecRow("):-len(");\n")])


# --- the site as files -------------------------------------------------------------------------

@pytest.mark.parametrize("value, must_not_contain", [
    ("</script><script>alert(1)</script>", ["<", ">", "</script"]),
    ("a & b <!-- c -->", ["&", "<!--"]),
    ("é ☃ 😀 \u2028", ["é", "☃", "\u2028"]),
    ('"quoted" \\ back', []),
])
def test_safe_json_round_trips_and_cannot_close_a_tag(value, must_not_contain):
    text = safe_json({"v": value, "k<": [value]})
    assert json.loads(text) == {"v": value, "k<": [value]}
    assert text.isascii()
    for bad in must_not_contain:
        assert bad not in text


def test_view_writes_a_static_site_of_the_run(run):
    site = run / "site"
    assert sorted(p.name for p in site.iterdir()) == sorted([*ASSETS, "data", "viewer.json"])
    rows = _index(site)
    assert [(r["problem_id"], r["test_id"], r["verdict"]) for r in rows] == [
        ("viewer/grid", "t0", "none"), ("viewer/long", "t0", "none"), ("viewer/markup", "t0", "rejected"),
        ("viewer/scale", "t0", "kept"), ("viewer/scale", "t1", "rejected")]
    assert json.loads((site / "viewer.json").read_text())["verdicts"] == {"kept": 1, "none": 2, "rejected": 2}
    wrong = _row(site, _key(site, "viewer/scale", "t1"))
    assert wrong["narration"]["reject_reason"] == "wrong_claim"
    failed = [c for c in wrong["narration"]["claims"] if c[7] == "wrong"]
    assert failed and all(c[6] is not None or c[8] is not None for c in failed)  # every red claim has a step to go to
    long = _row(site, _key(site, "viewer/long"))
    assert long["n_events"] >= 9_990 and len(long["events"]) == long["n_events"]


def test_site_has_no_external_resource_and_no_html_parsing(run):
    site = run / "site"
    for path in site.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path
            assert "@import" not in text and "url(" not in text, path
    for name in ASSETS:  # data reaches the DOM through textContent only
        text = (site / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, f"{name} uses {sink}"
    for path in (site / "data").rglob("*.js"):  # nothing in a data file can close a tag or open markup
        raw = path.read_bytes()
        assert raw.isascii() and b"<" not in raw and b">" not in raw and b"&" not in raw, path


def test_bad_folders_get_one_line_and_nothing_written(run, tmp_path):
    res = cli("view", str(tmp_path / "nope"), ok=False)
    assert res.returncode == 2 and "is not a folder" in res.stderr and "Traceback" not in res.stderr + res.stdout
    (tmp_path / "empty").mkdir()
    res = cli("view", str(tmp_path / "empty"), ok=False)
    assert res.returncode == 2 and "neither traces/" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "empty" / "viewer").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    res = cli("view", str(run / "run"), "--out", str(foreign), ok=False)
    assert res.returncode == 2 and "not empty" in res.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    broken = tmp_path / "broken"
    shutil.copytree(run / "run", broken)
    shard = sorted((broken / "traces").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    res = cli("view", str(broken), ok=False)
    assert res.returncode == 2 and f"cannot read {shard}" in res.stderr and "Traceback" not in res.stderr
    assert not (broken / "viewer").exists() and not [p for p in broken.iterdir() if p.name.startswith(".viewer")]


def test_rebuilding_replaces_the_site_and_the_default_out_is_in_the_run(run):
    copy = run / "copy"
    shutil.copytree(run / "run", copy)
    first = cli("view", str(copy))
    assert str(copy / "viewer") in first.stdout
    before = {p.relative_to(copy): p.read_bytes() for p in (copy / "viewer").rglob("*") if p.is_file()}
    (copy / "viewer" / "stale.txt").write_text("from an older build")
    cli("view", str(copy))
    after = {p.relative_to(copy): p.read_bytes() for p in (copy / "viewer").rglob("*") if p.is_file()}
    assert after == before  # same run, same bytes; the stale file is gone


def test_a_run_narrated_but_not_curated_shows_its_narrations_unchecked(run):
    copy = run / "uncurated"
    shutil.copytree(run / "run", copy, ignore=shutil.ignore_patterns("curated", "rejects"))
    cli("view", str(copy))
    rows = _index(copy / "viewer")
    assert sorted(r["verdict"] for r in rows) == ["none", "none", "unchecked", "unchecked", "unchecked"]
    row = _row(copy / "viewer", _key(copy / "viewer", "viewer/scale", "t1"))
    assert row["narration"]["kept"] is None and row["narration"]["text"] == WRONG_T1 and not row["narration"]["claims"]


def test_a_published_dataset_folder_is_viewed_too_and_publish_can_include_it(run):
    import datasets

    ds = run / "ds"
    cli("publish", str(run / "run"), "--out", str(ds), "--with-viewer")
    res = cli("view", str(ds), "--out", str(run / "ds-site"))
    assert "from the dataset folder" in res.stdout
    rows = _index(run / "ds-site")
    # a dataset holds the kept rows only, and every trace
    assert sorted((r["problem_id"], r["test_id"], r["verdict"]) for r in rows) == [
        ("viewer/grid", "t0", "none"), ("viewer/long", "t0", "none"), ("viewer/markup", "t0", "none"),
        ("viewer/scale", "t0", "kept"), ("viewer/scale", "t1", "none")]
    # publish --with-viewer wrote the same site into the dataset folder, which still loads as it did
    assert _index(ds / "viewer") == rows
    assert "selfexec view path/to/this/folder" in (ds / "README.md").read_text()  # the card says how to open it
    narrated = datasets.load_dataset(str(ds), "narrated", cache_dir=str(run / "hf-cache"))
    assert sum(split.num_rows for split in narrated.values()) == 1
    before = {p.relative_to(ds): p.read_bytes() for p in ds.rglob("*") if p.is_file()}
    cli("publish", str(run / "run"), "--out", str(ds), "--with-viewer")
    assert {p.relative_to(ds): p.read_bytes() for p in ds.rglob("*") if p.is_file()} == before  # byte-identical


# --- the site in a browser ----------------------------------------------------------------------

def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    why = None
    if not path:
        why = "no chromium on PATH (apt-get install chromium)"
    else:
        import importlib.util

        if importlib.util.find_spec("playwright") is None:
            why = "Playwright is not installed (pip install playwright)"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must run the browser tests")
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh profile folder
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, viewport={"width": 1500, "height": 950},
            args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    pg.close()
    assert not errors, errors


def _open_row(page, site: Path, key: str) -> None:
    page.goto((site / "row.html").as_uri() + "#" + key)
    page.wait_for_selector("#code .line")


def _set_step(page, step: int) -> None:
    page.eval_on_selector("#step", "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input')); }", step)


def _state(page) -> dict:
    return page.evaluate("""() => ({
        step: Number(document.getElementById('step').value),
        line: (document.querySelector('#code .line.current') || {dataset: {}}).dataset.lineno || null,
        vars: Object.fromEntries([...document.querySelectorAll('#vars .frame.innermost .var')]
            .map(v => [v.dataset.name, v.querySelector('.value').textContent])),
        changed: [...document.querySelectorAll('#vars .var.changed')].map(v => v.dataset.name),
    })""")


@pytest.mark.slow
def test_row_page_walks_the_steps_and_a_red_claim_jumps_to_its_step(run, page, tmp_path):
    site = run / "site"
    key = _key(site, "viewer/scale", "t1")
    data = _row(site, key)
    _open_row(page, site, key)
    assert _state(page)["vars"] == {"xs": "[4, 5]", "k": "3"}  # step 0: the call, its arguments
    # step 3: line 4 is next; `x = 4` (from line 3) has just taken effect
    _set_step(page, 3)
    s = _state(page)
    assert (s["line"], s["vars"], s["changed"]) == ("4", {"xs": "[4, 5]", "k": "3", "out": "[]", "x": "4"}, ["x"])
    page.locator("body").press("ArrowRight")
    s = _state(page)
    assert (s["step"], s["line"], s["vars"]["y"], s["changed"]) == (4, "5", "12", ["y"])
    page.locator("body").press("End")
    assert page.text_content("#step-label").startswith("end of run")
    # the red claim: `y` becomes `16`; clicking it goes to where `y` next changed (to 15)
    red = page.locator("#narration .claim.failed").first
    start, end = next((c[0], c[1]) for c in data["narration"]["claims"] if c[7] == "wrong")
    assert red.text_content() == WRONG_T1[start:end]  # offsets in code points, after the emoji
    assert "16" in red.text_content()
    red.click()
    s = _state(page)
    want = next(c[6] if c[6] is not None else c[8] for c in data["narration"]["claims"] if c[7] == "wrong")
    assert s["step"] == want and s["vars"]["y"] == "15" and s["line"] == str(data["events"][want][0])
    assert page.locator("#narration .claim.held").count() >= 8
    green = page.locator("#narration .claim.held").nth(2)  # `out` becomes `[]`
    green.click()
    assert _state(page)["vars"]["out"] == "[]"
    shot = tmp_path / "viewer-row.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_markup_quotes_and_non_ascii_render_as_text(run, page):
    site = run / "site"
    _open_row(page, site, _key(site, "viewer/markup"))
    _set_step(page, 10_000)  # the end: every change applied
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img, b").count() == 0
    ours = {"common.js", "row.js", "data/index.js"}
    srcs = page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
    assert set(srcs) - ours == {f"data/rows/{_key(site, 'viewer/markup')}.js"}  # no inline or injected script
    code = page.text_content("#code")
    assert "<script>window.__pwned = 1</script>" in code and 'é \\"q\\" ☃ 😀 &amp;' in code
    _set_step(page, 1)
    assert _state(page)["vars"]["s"] == MARKUP_INPUT
    narration = page.text_content("#narration")
    assert narration == MARKUP_TEXT
    assert MARKUP_INPUT in page.text_content("#meta")


@pytest.mark.slow
def test_a_10000_event_trace_renders_only_what_is_visible(run, page):
    site = run / "site"
    key = _key(site, "viewer/long")
    n = _row(site, key)["n_events"]
    _open_row(page, site, key)
    sizes = {}
    for step in (0, n // 2, n - 3, n):
        _set_step(page, step)
        s = _state(page)
        sizes[step] = page.evaluate("document.getElementsByTagName('*').length")
        events_shown = page.locator("#events .event-row").count()
        assert events_shown < 80, events_shown
        current = page.locator("#events .event-row.current")
        if step < n:
            assert current.count() == 1 and current.get_attribute("data-step") == str(step)
            assert s["line"] is not None
    assert max(sizes.values()) < 400, sizes  # 10,000 events, a few hundred elements in all
    _set_step(page, n // 2)
    page.locator("body").press("ArrowRight")
    assert _state(page)["step"] == n // 2 + 1
    print(f"DOM elements for a {n}-event trace: {sizes}")


@pytest.mark.slow
def test_index_filters_and_search(run, page):
    site = run / "site"
    page.goto((site / "index.html").as_uri())
    page.wait_for_selector("#rows .list-row")
    assert page.text_content("#count") == "5 of 5 rows"
    page.select_option("#f-verdict", "rejected")
    assert page.text_content("#count") == "2 of 5 rows"
    page.select_option("#f-reason", "wrong_claim")
    assert page.locator("#rows .list-row").count() == 1
    page.select_option("#f-verdict", "")
    page.select_option("#f-reason", "")
    page.fill("#f-search", "SCALE")
    assert page.text_content("#count") == "2 of 5 rows"
    page.locator("#rows .list-row").first.click()
    page.wait_for_selector("#code .line")
    assert page.text_content("#row-title").startswith("viewer/scale")


@pytest.mark.slow
def test_element_changes_show_as_paths_under_their_variable(run, page):
    site = run / "site"
    key = _key(site, "viewer/grid")
    data = _row(site, key)
    paths = [(j, c[0]) for j, ev in enumerate(data["events"]) for c in ev[6] if c[0] != c[3]]
    if not paths:
        pytest.skip("this tracer records whole values only (no element changes)")
    _open_row(page, site, key)
    j, name = next((j, n) for j, n in paths if n == "dp[1][2]")
    _set_step(page, data["events"][j][5])  # when line 3's effects show
    s = _state(page)
    assert s["vars"]["dp"] == "[[0, 0, 0], [0, 0, 5]]" and s["vars"]["dp[1][2]"] == "5"
    assert list(s["vars"]).index("dp[1][2]") == list(s["vars"]).index("dp") + 1  # under its variable
    assert page.locator('#vars .var.path.changed[data-name="dp[1][2]"]').count() == 1
    _set_step(page, next(data["events"][j][5] for j, n in paths if n == "dp[0][1]"))
    s = _state(page)  # the next element change replaces the path shown: dp itself was set again
    assert "dp[1][2]" not in s["vars"] and s["vars"]["dp[0][1]"] == "6"


@pytest.mark.parametrize("trace, narration, want", [
    ({"test_id": "t0", "divergence": {"test_id": "t0", "step": 7, "lineno": 3}}, {}, 7),
    ({"test_id": "t1", "divergence": {"test_id": "t0", "step": 7}}, {}, None),  # diverges on another test
    ({"test_id": "t0", "first_divergent_step": 4}, {}, 4),
    ({"test_id": "t0"}, {"meta": [{"key": "divergence_step", "value": "12"}]}, 12),
    ({"test_id": "t0", "divergence": None}, {}, None),
])
def test_a_divergence_field_marks_its_step(trace, narration, want):
    from curation.viewer.rows import _divergence

    found = _divergence(trace, narration)
    assert (found or {}).get("step") == want
