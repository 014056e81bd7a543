// The row page: code with the current line, a step control over the events, the variables of the
// frames on the stack, and the narration with each claim linked to its step.
//
// Data (written by curation/viewer/rows.py): events are arrays
//   [lineno, event, func, depth, frame, eff, changes, value], changes [name, value, elided, base]
//   (base: the variable an element path such as `dp[3][4]` belongs to);
// frames [func, depth, first event, end];
// claims [start, end, kind, subject, stated, actual, step, status, where (for claims with no step)].
// Step i shows event i's line and the state at time i: the changes whose `eff` (when they take
// effect, the verifier's notion of time, so claim steps land here) is <= i. The last position,
// i = n, is the end of the run.
"use strict";

const EV_H = 22;
const STDOUT = "<stdout>";
const DELETED = "<deleted>";
const MAX_FRAMES = 6; // innermost frames shown; deeper recursion is summarised
const CLAIM_CLASS = { ok: "held", wrong: "failed", unknown: "failed", unchecked: "unchecked" };

let ROW = null;
let STEP = 0;
let N = 0;
let FRAME_CHANGES = []; // per frame: [eff, name, value, elided] sorted by eff
let STDOUT_PIECES = []; // [eff, text] sorted by eff
let EVENTS_LIST = null;
let CLAIM_STEPS = new Map(); // step -> worst claim class at that step

const rowKey = decodeURIComponent(location.hash.replace(/^#/, ""));
window.addEventListener("hashchange", () => location.reload());

function selfexecIndex(data) {
  const keys = data.rows.map((r) => r.key);
  const at = keys.indexOf(rowKey);
  for (const [id, j] of [["prev-row", at - 1], ["next-row", at + 1]]) {
    const a = document.getElementById(id);
    if (at >= 0 && j >= 0 && j < keys.length) a.href = "row.html#" + encodeURIComponent(keys[j]);
    else a.hidden = true;
  }
}

if (/^r[0-9]{6}$/.test(rowKey)) {
  loadScript("data/rows/" + rowKey + ".js", () => fail("no data file for row " + rowKey));
} else {
  fail("no row chosen: open a row from the index");
}

function fail(message) {
  document.getElementById("row-title").textContent = message;
}

function selfexecRow(row) {
  ROW = row;
  N = row.events.length;
  const e = row.entry;
  document.title = "selfexec viewer: " + e.problem_id;
  document.getElementById("row-title").textContent = e.problem_id + " · solution " + e.solution_id + " · test " + e.test_id;
  const verdict = document.getElementById("row-verdict");
  verdict.textContent = e.verdict === "none" ? "no narration" : e.verdict + (e.reject_reason ? ": " + e.reject_reason : "");
  verdict.className = "badge verdict-" + e.verdict;
  renderMeta(row);
  renderCode(row.code || "");
  prepareState(row);
  renderNarration(row.narration);
  renderDivergence(row.divergence);

  EVENTS_LIST = new VirtualList(document.getElementById("events"), EV_H, renderEventRow);
  EVENTS_LIST.setCount(N);
  const slider = document.getElementById("step");
  slider.max = String(N);
  slider.addEventListener("input", () => setStep(Number(slider.value)));
  document.getElementById("step-back").addEventListener("click", () => setStep(STEP - 1));
  document.getElementById("step-fwd").addEventListener("click", () => setStep(STEP + 1));
  document.addEventListener("keydown", onKey);
  setStep(0);
}

function onKey(ev) {
  if (ev.target && (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT")) return; // the slider steps itself
  const moves = { ArrowLeft: STEP - 1, ArrowRight: STEP + 1, Home: 0, End: N };
  if (ev.key in moves) {
    ev.preventDefault();
    setStep(moves[ev.key]);
  }
}

function renderMeta(row) {
  const meta = document.getElementById("meta");
  const items = [
    ["source", row.entry.source], ["status", row.status + (row.reason ? " (" + row.reason + ")" : "")],
    ["input", row.input], ["expected output", row.expected_output],
    [row.kind === "stdio" ? "stdout" : "returned", row.kind === "stdio" ? row.stdout : row.return_repr],
    ["exception", row.exception], ["matches expected", row.matches_expected],
    ["events", row.n_events], ["sandbox", row.sandbox], ["licence", row.license], ["trace id", row.trace_id],
  ];
  for (const [name, value] of items) {
    if (value === null || value === undefined || value === "") continue;
    meta.appendChild(el("dt", null, name));
    meta.appendChild(el("dd", "value", String(value)));
  }
}

function renderCode(code) {
  const box = document.getElementById("code");
  const lines = code.replace(/\n$/, "").split("\n");
  lines.forEach((text, i) => {
    const line = el("div", "line");
    line.dataset.lineno = String(i + 1);
    line.appendChild(el("span", "lineno", i + 1));
    line.appendChild(el("span", "src", text === "" ? " " : text));
    box.appendChild(line);
  });
}

function prepareState(row) {
  FRAME_CHANGES = row.frames.map(() => []);
  STDOUT_PIECES = [];
  row.events.forEach((ev) => {
    const [, , , , frame, eff, changes] = ev;
    for (const [name, value, elided, base] of changes) {
      if (name === STDOUT) STDOUT_PIECES.push([eff, value]);
      else FRAME_CHANGES[frame].push([eff, name, value, elided, base || baseName(name)]);
    }
  });
  const byEff = (a, b) => a[0] - b[0]; // Array.sort is stable: event order is kept within one time
  FRAME_CHANGES.forEach((list) => list.sort(byEff));
  STDOUT_PIECES.sort(byEff);
}

// The base variable of an element path: "dp" for "dp[3][4]" and "self.items[0]".
function baseName(name) {
  const m = /^[^[.]*/.exec(name);
  return m ? m[0] : name;
}

function frameVars(f, step) {
  const vars = new Map(); // name -> {value, elided, changed, base}
  for (const [eff, name, value, elided, base] of FRAME_CHANGES[f]) {
    if (eff > step) break;
    if (base === name) { // a whole variable replaces the element paths shown under it
      for (const [k, v] of [...vars.entries()]) if (k !== name && v.base === name) vars.delete(k);
    }
    if (value === DELETED) vars.delete(name);
    else vars.set(name, { value, elided, base, changed: eff === step });
  }
  // element paths follow their variable, in the order they were set
  const entries = [...vars.entries()];
  const rank = new Map(entries.filter(([k, v]) => k === v.base).map(([k], i) => [k, i]));
  return entries.map((e, i) => [e, i]).sort((a, b) => {
    const ra = rank.has(a[0][1].base) ? rank.get(a[0][1].base) : -1;
    const rb = rank.has(b[0][1].base) ? rank.get(b[0][1].base) : -1;
    if (ra !== rb) return ra - rb;
    const wa = a[0][0] === a[0][1].base ? 0 : 1, wb = b[0][0] === b[0][1].base ? 0 : 1;
    return wa - wb || a[1] - b[1];
  }).map(([e]) => e);
}

function setStep(i) {
  if (!ROW) return;
  STEP = Math.max(0, Math.min(N, i));
  document.getElementById("step").value = String(STEP);
  const ev = ROW.events[STEP];
  const label = document.getElementById("step-label");
  label.textContent = STEP === N ? "end of run (" + N + " events)" : "step " + STEP + " of " + N;
  const now = document.getElementById("event-now");
  clear(now);
  if (ev) {
    now.appendChild(el("span", "ev-kind ev-" + ev[1], ev[1]));
    now.appendChild(el("span", null, " at line " + ev[0] + " of " + ev[2] + (ev[7] !== null && ev[7] !== undefined ? " → " : "")));
    if (ev[7] !== null && ev[7] !== undefined) now.appendChild(el("span", "value", ev[7]));
  } else {
    now.appendChild(el("span", null, finalText()));
  }
  if (ROW.divergence && ROW.divergence.step === STEP) now.appendChild(el("span", "badge diverge", " first divergent step"));
  highlightLine(ev ? ev[0] : null);
  renderVars();
  const out = STDOUT_PIECES.filter((p) => p[0] <= STEP).map((p) => p[1]).join("");
  document.getElementById("stdout-now").textContent = out;
  if (N) EVENTS_LIST.show(Math.min(STEP, N - 1));
}

function finalText() {
  if (ROW.exception) return "the run ends with " + ROW.exception;
  if (ROW.kind === "stdio") return "the run ends; it printed " + JSON.stringify(ROW.stdout || "");
  return "the call returns " + ROW.return_repr;
}

function highlightLine(lineno) {
  const box = document.getElementById("code");
  const old = box.querySelector(".line.current");
  if (old) old.classList.remove("current");
  const line = lineno ? box.querySelector('.line[data-lineno="' + Number(lineno) + '"]') : null;
  if (line) {
    line.classList.add("current");
    line.scrollIntoView({ block: "nearest" });
  }
}

function renderVars() {
  const box = document.getElementById("vars");
  clear(box);
  const alive = [];
  ROW.frames.forEach((fr, f) => {
    const [, , start, end] = fr;
    if (start <= STEP && (STEP < end || (STEP === N && end >= N))) alive.push(f);
  });
  alive.sort((a, b) => ROW.frames[b][1] - ROW.frames[a][1]); // innermost first
  const ev = ROW.events[STEP];
  alive.slice(0, MAX_FRAMES).forEach((f, k) => {
    const [func, depth] = ROW.frames[f];
    const frame = el("div", "frame" + (k === 0 ? " innermost" : ""));
    frame.dataset.func = func;
    frame.appendChild(el("div", "frame-head", func + (depth ? "  (depth " + depth + ")" : "")));
    for (const [name, v] of frameVars(f, STEP)) {
      const row = el("div", "var" + (v.changed ? " changed" : "") + (v.elided ? " elided" : "") + (name !== v.base ? " path" : ""));
      row.dataset.name = name;
      row.appendChild(el("span", "name", name));
      row.appendChild(el("span", "value", v.value));
      if (v.elided) row.appendChild(el("span", "badge elided-mark", "elided"));
      frame.appendChild(row);
    }
    if (ev && ev[4] === f && ev[1] === "return") {
      const row = el("div", "var changed return");
      row.dataset.name = "<return>";
      row.appendChild(el("span", "name", "return value"));
      row.appendChild(el("span", "value", ev[7]));
      frame.appendChild(row);
    }
    box.appendChild(frame);
  });
  if (alive.length > MAX_FRAMES) box.appendChild(el("div", "muted", "… " + (alive.length - MAX_FRAMES) + " outer frames"));
  if (!alive.length) box.appendChild(el("div", "muted", STEP === N ? "no frame left: the run is over" : "no frame"));
}

function renderEventRow(j) {
  const ev = ROW.events[j];
  const row = el("div", "event-row" + (j === STEP ? " current" : ""));
  row.dataset.step = String(j);
  if (ROW.divergence && ROW.divergence.step === j) row.classList.add("diverge");
  const mark = CLAIM_STEPS.get(j);
  row.appendChild(el("span", "ev-step" + (mark ? " claim-mark " + mark : ""), j));
  row.appendChild(el("span", "ev-kind ev-" + ev[1], ev[1]));
  row.appendChild(el("span", "ev-line", "L" + ev[0]));
  row.appendChild(el("span", "ev-func", ev[2]));
  const changes = ev[6].map((c) => c[0] + " = " + c[1] + (c[2] ? " (elided)" : "")).join(", ");
  row.appendChild(el("span", "ev-changes", changes || (ev[7] !== null && ev[7] !== undefined ? "→ " + ev[7] : "")));
  row.addEventListener("click", () => setStep(j));
  return row;
}

function renderDivergence(div) {
  if (!div) return;
  const box = document.getElementById("divergence");
  box.hidden = false;
  box.appendChild(el("span", null, "first divergent step: "));
  if (div.step !== null && div.step !== undefined) {
    const a = el("a", "jump", String(div.step));
    a.href = "#" + rowKey;
    a.addEventListener("click", (ev) => { ev.preventDefault(); setStep(div.step); });
    box.appendChild(a);
  } else {
    box.appendChild(el("span", "value", JSON.stringify(div.value)));
  }
  box.appendChild(el("span", "muted", " (" + div.field + ")"));
}

function renderNarration(n) {
  const verdict = document.getElementById("verdict");
  const box = document.getElementById("narration");
  if (!n) {
    verdict.textContent = "This trace has no narration.";
    document.getElementById("legend").hidden = true;
    return;
  }
  const head = n.kept === null || n.kept === undefined ? "not curated yet" : n.kept ? "kept" : "rejected: " + n.reject_reason;
  verdict.appendChild(el("div", "badge verdict-" + (n.kept === null || n.kept === undefined ? "unchecked" : n.kept ? "kept" : "rejected"), head));
  if (n.reject_detail) verdict.appendChild(el("div", "detail", n.reject_detail));
  verdict.appendChild(el("div", "muted", "narrator " + n.narrator + (n.model ? " · " + n.model : "")));
  // claim offsets count code points (Python's str), so the text is split into code points too
  const chars = Array.from(n.text);
  const claims = n.claims.slice().sort((a, b) => a[0] - b[0]);
  let at = 0;
  claims.forEach((c, k) => {
    const [start, end, kind, subject, stated, actual, ownStep, status, where] = c;
    // a claim the verifier could not place (a wrong value) links to where the story was then
    const step = ownStep !== null && ownStep !== undefined ? ownStep : where;
    if (start === null || start < at || end <= start) return; // overlapping claims: the first one is linked
    if (start > at) box.appendChild(document.createTextNode(chars.slice(at, start).join("")));
    const cls = CLAIM_CLASS[status] || "unchecked";
    const a = el("a", "claim " + cls, chars.slice(start, end).join(""));
    a.dataset.claim = String(k);
    a.dataset.status = status;
    if (step !== null && step !== undefined) {
      a.dataset.step = String(step);
      a.href = "#" + rowKey;
      const prev = CLAIM_STEPS.get(step);
      if (prev !== "failed") CLAIM_STEPS.set(step, cls);
    }
    a.title = status + " · " + kind + (subject ? " " + subject : "") + (stated ? " = " + stated : "") +
      (actual ? " · " + actual : "") + (ownStep !== null && ownStep !== undefined ? " · step " + step
        : step !== null && step !== undefined ? " · near step " + step + " (where the story was)" : "");
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      for (const other of box.querySelectorAll(".claim.active")) other.classList.remove("active");
      a.classList.add("active");
      if (step !== null && step !== undefined) setStep(step);
    });
    box.appendChild(a);
    at = end;
  });
  if (at < chars.length) box.appendChild(document.createTextNode(chars.slice(at).join("")));
  const outs = document.getElementById("outputs");
  const ok = n.output_ok;
  outs.appendChild(el("div", "out-head " + (ok === true ? "held" : ok === false ? "failed" : "unchecked"),
    ok === true ? "predicted output matches" : ok === false ? "predicted output differs" : "output not checked"));
  for (const [name, value] of [["predicted", n.predicted_output], ["true", n.true_output]]) {
    const row = el("div", "out-row");
    row.appendChild(el("span", "name", name));
    row.appendChild(el("pre", "value", value === null || value === undefined ? "(none)" : value));
    outs.appendChild(row);
  }
}
