// Helpers shared by the index and the row page. Every piece of data reaches the page through
// textContent or setAttribute, never through HTML parsing, so program text shows as text.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// Load a data file (a .js that calls a function of the page): file:// pages cannot fetch() JSON.
function loadScript(src, onError) {
  const s = document.createElement("script");
  s.src = src;
  s.onerror = onError || null;
  document.body.appendChild(s);
}

// A list that renders only the rows in view (plus a margin), so 10,000 items cost a few dozen nodes.
// Rows have a fixed height (CSS --row-h must match rowHeight).
class VirtualList {
  constructor(container, rowHeight, renderRow) {
    this.container = container;
    this.rowHeight = rowHeight;
    this.renderRow = renderRow;
    this.count = 0;
    this.spacer = el("div", "vlist-spacer");
    this.container.appendChild(this.spacer);
    this.container.addEventListener("scroll", () => this.refresh());
    window.addEventListener("resize", () => this.refresh());
  }

  setCount(count) {
    this.count = count;
    this.spacer.style.height = count * this.rowHeight + "px";
    this.refresh();
  }

  refresh() {
    const h = this.rowHeight;
    const top = this.container.scrollTop;
    const view = this.container.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / h) - 10);
    const last = Math.min(this.count, Math.ceil((top + view) / h) + 10);
    clear(this.spacer);
    for (let i = first; i < last; i++) {
      const row = this.renderRow(i);
      row.style.position = "absolute";
      row.style.top = i * h + "px";
      row.style.height = h + "px";
      row.style.left = "0";
      row.style.right = "0";
      this.spacer.appendChild(row);
    }
  }

  // Scroll so that row i is visible (centred when it was out of view).
  show(i) {
    const h = this.rowHeight;
    const top = this.container.scrollTop;
    const view = this.container.clientHeight || 400;
    if (i * h < top || (i + 1) * h > top + view) {
      this.container.scrollTop = Math.max(0, i * h - view / 2);
    }
    this.refresh();
  }
}

function hashParams() {
  return new URLSearchParams(location.hash.replace(/^#/, ""));
}
