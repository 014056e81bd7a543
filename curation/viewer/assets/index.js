// The index page: every row of the run, filtered by source, status, verdict and reject reason,
// searched by problem id. The filters live in the URL's #hash so "back" from a row keeps them.
"use strict";

const FILTERS = [
  ["f-source", "source", "source"],
  ["f-status", "status", "status"],
  ["f-verdict", "verdict", "verdict"],
  ["f-reason", "reject_reason", "reason"],
];
const ROW_H = 28;

function selfexecIndex(data) {
  const rows = data.rows;
  document.title = "selfexec viewer: " + data.title;
  document.getElementById("title").textContent = data.title + " (" + data.kind + ")";
  const params = hashParams();

  for (const [id, field, param] of FILTERS) {
    const select = document.getElementById(id);
    const counts = new Map();
    for (const r of rows) counts.set(r[field], (counts.get(r[field]) || 0) + 1);
    const all = el("option", null, "all");
    all.value = "";
    select.appendChild(all);
    for (const value of [...counts.keys()].sort()) {
      const opt = el("option", null, (value === "" ? "(none)" : value) + " (" + counts.get(value) + ")");
      opt.value = value === "" ? "\u0000" : value; // "(none)" is its own choice, apart from "all"
      select.appendChild(opt);
    }
    select.value = params.get(param) || "";
    select.addEventListener("change", update);
  }
  const search = document.getElementById("f-search");
  search.value = params.get("q") || "";
  search.addEventListener("input", update);

  let shown = rows;
  const list = new VirtualList(document.getElementById("rows"), ROW_H, (i) => renderRow(shown[i]));

  function update() {
    const want = FILTERS.map(([id, field, param]) => [field, param, document.getElementById(id).value]);
    const q = search.value.trim().toLowerCase();
    shown = rows.filter((r) => want.every(([field, , v]) => !v || r[field] === (v === "\u0000" ? "" : v))
      && (!q || r.problem_id.toLowerCase().includes(q)));
    const p = new URLSearchParams();
    for (const [, param, v] of want) if (v) p.set(param, v);
    if (q) p.set("q", q);
    history.replaceState(null, "", "#" + p.toString());
    document.getElementById("count").textContent = shown.length + " of " + rows.length + " rows";
    document.getElementById("empty").hidden = shown.length > 0;
    list.setCount(shown.length);
  }
  update();
}

function renderRow(r) {
  const a = el("a", "list-row verdict-" + r.verdict);
  a.href = "row.html#" + encodeURIComponent(r.key);
  a.dataset.key = r.key;
  a.appendChild(el("span", "c-problem", r.problem_id));
  a.appendChild(el("span", "c-sol", r.solution_id));
  a.appendChild(el("span", "c-test", r.test_id));
  a.appendChild(el("span", "c-source", r.source));
  a.appendChild(el("span", "c-status status-" + r.status, r.status));
  a.appendChild(el("span", "c-verdict", r.verdict === "none" ? "no narration" : r.verdict));
  a.appendChild(el("span", "c-reason", r.reject_reason));
  a.appendChild(el("span", "c-events", r.n_events));
  return a;
}
