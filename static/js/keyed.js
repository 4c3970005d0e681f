// Keyed, incremental rendering for the live pages: a list of items shown as one child element
// each, where an update touches only the elements whose item changed, was added or removed, and
// moves as few elements as it can. Elements left alone keep everything a browser hangs on them:
// keyboard focus, text selection, scroll position, running CSS transitions.
//
//   const list = new KeyedList(container, {
//     key: (order) => order.id,              // identity: one element per key
//     stamp: (order) => order.version,       // when it differs from the shown one, re-render
//     render: (order) => el("article", ...), // a new element for the item
//     empty: () => el("p", {}, "Nothing"),   // optional: shown while the list is empty
//   });
//   list.update(orders);                     // in display order
//
// A re-rendered element replaces the old one; if keyboard focus was inside it, focus moves to
// the element of the new one with the same `data-focus` name (or to the new element itself), so
// a live update never throws a cook's focus to the top of the page. That hand-over waits for a
// microtask, or for `list.settleFocus()`: focus() brings styles and layout up to date, so a page
// that reads its new elements' geometry calls it right after that read, while layout is clean.

/** The indexes (into `seq`) of one longest strictly increasing subsequence of `seq`. */
export function longestIncreasing(seq) {
  const tails = []; // tails[k]: index of the smallest tail of an increasing run of length k + 1
  const prev = new Array(seq.length);
  for (let i = 0; i < seq.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seq[tails[mid]] < seq[i]) lo = mid + 1;
      else hi = mid;
    }
    prev[i] = lo > 0 ? tails[lo - 1] : -1;
    tails[lo] = i;
  }
  const out = new Array(tails.length);
  for (let k = tails.length - 1, i = tails[k]; k >= 0; k--, i = prev[i]) out[k] = i;
  return out;
}

export class KeyedList {
  constructor(container, { key, stamp, render, empty = null }) {
    this.container = container;
    this.key = key;
    this.stamp = stamp;
    this.render = render;
    this.empty = empty;
    this.nodes = new Map(); // key -> element
    this.stamps = new Map(); // key -> stamp of the item the element shows
    this.placeholder = null;
    this.handOver = null; // the focus hand-over still to do (replaceKeepingFocus)
    // What the last update did, for the page's own bookkeeping and for tests.
    this.last = { added: 0, changed: 0, removed: 0, moved: 0 };
  }

  /** The element shown for `key`, if any. */
  node(key) {
    return this.nodes.get(key);
  }

  /** Show `items` in this order, touching only what changed. */
  update(items) {
    const last = { added: 0, changed: 0, removed: 0, moved: 0 };
    const wanted = new Map();
    for (const item of items) wanted.set(String(this.key(item)), item);

    for (const [k, node] of this.nodes) {
      if (wanted.has(k)) continue;
      node.remove();
      this.nodes.delete(k);
      this.stamps.delete(k);
      last.removed++;
    }

    const order = [];
    for (const [k, item] of wanted) {
      const stamp = String(this.stamp(item));
      const old = this.nodes.get(k);
      if (old === undefined) {
        this.nodes.set(k, this.render(item));
        last.added++;
      } else if (this.stamps.get(k) !== stamp) {
        const fresh = this.render(item);
        this.replaceKeepingFocus(old, fresh);
        this.nodes.set(k, fresh);
        last.changed++;
      }
      this.stamps.set(k, stamp);
      order.push(this.nodes.get(k));
    }
    last.moved = this.arrange(order);
    this.showEmpty(order.length === 0);
    this.last = last;
    return last;
  }

  // Put `order` into the container with the fewest moves: the elements already in the right
  // relative order (a longest increasing run of their current positions) stay where they are,
  // every other one is moved (or inserted) next to its successor.
  arrange(order) {
    const parent = this.container;
    const position = new Map();
    let i = 0;
    for (const child of parent.children) position.set(child, i++);
    const current = order.map((node) => (position.has(node) ? position.get(node) : -1));
    const placed = order.map(() => false);
    const present = [];
    current.forEach((p, idx) => p >= 0 && present.push(idx));
    for (const idx of longestIncreasing(present.map((idx) => current[idx]))) placed[present[idx]] = true;
    let moved = 0;
    for (let idx = order.length - 1; idx >= 0; idx--) {
      if (placed[idx]) continue;
      const next = idx + 1 < order.length ? order[idx + 1] : null;
      moveBefore(parent, order[idx], next);
      if (current[idx] >= 0) moved++;
    }
    return moved;
  }

  replaceKeepingFocus(old, fresh) {
    const active = document.activeElement;
    const inside = active && old.contains(active);
    const name = inside ? active.dataset?.focus : undefined;
    old.replaceWith(fresh);
    if (!inside) return;
    this.handOver = () => {
      if (!fresh.isConnected || (document.activeElement && document.activeElement !== document.body)) return;
      const named = name && fresh.querySelector(`[data-focus="${CSS.escape(name)}"]`);
      // A button disabled while its action is in flight cannot hold focus: the element takes it.
      const target = named && !named.matches(":disabled") ? named : fresh;
      if (target === fresh && !fresh.hasAttribute("tabindex")) return;
      target.focus({ preventScroll: true });
    };
    queueMicrotask(() => this.settleFocus());
  }

  /** Hand focus over to a re-rendered element now (see the top of this file). */
  settleFocus() {
    const handOver = this.handOver;
    this.handOver = null;
    if (handOver) handOver();
  }

  showEmpty(isEmpty) {
    if (!this.empty) return;
    if (isEmpty && !this.placeholder) {
      this.placeholder = this.empty();
      this.container.append(this.placeholder);
    } else if (!isEmpty && this.placeholder) {
      this.placeholder.remove();
      this.placeholder = null;
    }
  }
}

// Element.moveBefore (Chromium 133+) moves a node without removing it, so focus inside it is
// kept; elsewhere insertBefore moves it and focus is put back.
function moveBefore(parent, node, next) {
  if (node.parentNode === parent && typeof parent.moveBefore === "function") {
    parent.moveBefore(node, next);
    return;
  }
  const focused = node.contains(document.activeElement) ? document.activeElement : null;
  parent.insertBefore(node, next);
  if (focused && document.activeElement !== focused) focused.focus({ preventScroll: true });
}
