// Pickup screen (customer-facing): "Preparing" and "Ready" order numbers, read from across the
// room. Ready numbers come newest first, and one that becomes ready while the screen watches is
// highlighted for a minute (and chimes, when this screen has the chime on). The text is as large as the count
// allows (fit.js); past what the smallest readable size holds, the numbers go on pages that turn
// by themselves (PageDown/PageUp turn them too), and a newly ready number brings the first page
// back. A ready number stays pickup_linger_seconds after its order completes, so a customer who
// looks up a moment late still sees it. The workspace's pickup_names setting adds the
// customer's display name, or only its first letters, under each number.
//
// Both columns are keyed lists (keyed.js) of the page shown. Screen readers hear one sentence
// per batch of newly ready numbers, from a live region of its own ("Ready: numbers 41 and
// 42"); the number grids, which page and re-render, are not live regions.
import { api, el, header, loadWorkspace, now, requireSession, showError } from "./common.js";
import { fitGrid, pageOf } from "./fit.js";
import { readyStatuses } from "./flow.js";
import { formatList, t, translatePage } from "./i18n.js";
import { KeyedList } from "./keyed.js";
import { ScreenSettings } from "./screen.js";
import { Sounds } from "./sound.js";
import { watch } from "./watch.js";

requireSession();
translatePage();
header({ live: true });

const HIGHLIGHT_MS = 60_000; // how long a newly ready number stands out
const PAGE_MS = 8_000; // how long a page shows before the next
const FIRST_LETTERS = 3; // of a display name, when the workspace shows only first letters
// Font sizes (rem): the smallest is still read from about 3-4 m on a 55" TV at 1080p; the
// largest keeps a lone number from filling the screen.
const SIZES = { ready: { min: 3.5, max: 10 }, preparing: { min: 2.5, max: 6 } };
const GAP_EM = 0.2; // between cells, in ems of the numbers

const screen = new ScreenSettings("pickup");

// -- chime ---------------------------------------------------------------------------------------
const sounds = new Sounds({ muted: () => !screen.get("chime"), onState: showChime });
const chimeButton = el("button", { type: "button", class: "chime", id: "chime" });
document.querySelector("header.top #conn").before(chimeButton);
function showChime() {
  const state = sounds.state;
  chimeButton.textContent = { on: t("pickup.chime_on"), off: t("pickup.chime_off"), blocked: t("pickup.chime_blocked") }[state];
  chimeButton.setAttribute("aria-pressed", String(state !== "off"));
  chimeButton.dataset.state = state;
}
chimeButton.addEventListener("click", () => {
  if (sounds.state !== "blocked") screen.set("chime", sounds.state === "off");
  sounds.unlock();
  showChime();
});
document.addEventListener("pointerdown", () => sounds.unlock(), { once: true });
document.addEventListener("keydown", () => sounds.unlock(), { once: true });
if (screen.get("chime")) sounds.unlock(); // a kiosk with autoplay allowed is on at once
showChime();

// -- names ----------------------------------------------------------------------------------------
const graphemes = new Intl.Segmenter();
/** What the screen shows of a customer, by the workspace's pickup_names: nothing, the display
 * name, or its first letters ("Piz…"): enough to find one's order, not to read a name off it. */
function shownName(customer, mode) {
  if (!customer || mode === "none" || !mode) return "";
  const name = customer.display_name || customer.username || "";
  if (mode === "display_name") return name;
  const letters = [...graphemes.segment(name)].map((s) => s.segment);
  return letters.length > FIRST_LETTERS ? `${letters.slice(0, FIRST_LETTERS).join("")}…` : name;
}

// -- one column: a fitted grid of number cells, a page at a time -------------------------------------
class NumberColumn {
  constructor(name) {
    this.name = name;
    this.box = document.getElementById(name);
    this.pageLine = document.getElementById(`${name}-page`);
    this.sizes = SIZES[name];
    this.page = 0;
    this.turnedAt = Date.now();
    this.cellEm = new Map(); // probe text -> cell size in ems
    this.boxSize = { width: this.box.clientWidth, height: this.box.clientHeight };
    this.list = new KeyedList(this.box, {
      key: (cell) => cell.id,
      stamp: (cell) => `${cell.fresh}|${cell.lingering}|${cell.name}`,
      render: (cell) =>
        el(
          "div",
          { class: `cell${cell.fresh ? " fresh" : ""}${cell.lingering ? " lingering" : ""}`, dataset: { number: cell.number } },
          el("span", { class: "num" }, String(cell.number)),
          cell.name ? el("span", { class: "who" }, cell.name) : null
        ),
    });
  }

  /** The size of a cell in ems, for numbers of `digits` digits (with a name line when `names`):
   * measured once per shape on a hidden probe cell. */
  cell(digits, names) {
    const key = `${digits}|${names}`;
    if (!this.cellEm.has(key)) {
      const probe = el(
        "div",
        { class: "cell probe", "aria-hidden": "true" },
        el("span", { class: "num" }, "8".repeat(digits)),
        names === "none" ? null : el("span", { class: "who" }, names === "display_name" ? "Wwwwwwwwww" : "Www…")
      );
      probe.style.fontSize = "100px";
      this.box.append(probe);
      const rect = probe.getBoundingClientRect();
      probe.remove();
      this.cellEm.set(key, { width: rect.width / 100, height: rect.height / 100 });
    }
    return this.cellEm.get(key);
  }

  /** Show `cells` (in display order): fit the text to their count, show the current page. */
  show(cells, names) {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const digits = Math.max(2, ...cells.map((c) => String(c.number).length));
    const cell = this.cell(digits, names);
    const grid = fitGrid(cells.length, {
      ...this.boxSize,
      cell,
      gap: GAP_EM,
      min: this.sizes.min * rem,
      max: this.sizes.max * rem,
    });
    if (Date.now() - this.turnedAt >= PAGE_MS) this.turn(1);
    const shown = pageOf(cells, this.page, grid.perPage);
    this.page = shown.page;
    const style = this.box.style;
    const set = (name, value) => style.getPropertyValue(name) !== value && style.setProperty(name, value);
    set("--size", `${grid.size}px`);
    set("--cols", String(grid.columns));
    set("--cell-w", `${cell.width * grid.size}px`);
    set("--cell-h", `${cell.height * grid.size}px`);
    set("--gap", `${GAP_EM * grid.size}px`);
    this.box.dataset.pages = String(shown.pages);
    this.box.dataset.page = String(shown.page + 1);
    this.list.update(shown.items);
    const line = shown.pages > 1 ? t("pickup.page_of", { page: shown.page + 1, pages: shown.pages }) : "";
    if (this.pageLine.textContent !== line) this.pageLine.textContent = line;
  }

  turn(by) {
    this.page += by;
    this.turnedAt = Date.now();
  }

  first() {
    this.page = 0;
    this.turnedAt = Date.now();
  }
}

const columns = { preparing: new NumberColumn("preparing"), ready: new NumberColumn("ready") };
const announcer = document.getElementById("announce");
const lingering = new Map(); // order id -> {number, customer, until (ms)}

async function recentlyCompleted(lingerMs) {
  // Orders completed just before this page opened: not in the live snapshot (terminal), so ask
  // the search API. Best effort: the screen works without it.
  const from = new Date(now() - lingerMs - 3600_000).toISOString();
  try {
    const found = await api(`/orders?status=completed&from=${encodeURIComponent(from)}&limit=200`);
    for (const order of found.orders) {
      const until = Date.parse(order.updated_at) + lingerMs;
      if (until > now()) lingering.set(order.id, { number: order.order_number, customer: order.customer, until });
    }
  } catch {
    // no search API, or no permission: nothing lingers from before the page opened
  }
}

/** Say the newly ready numbers once (the region's text changes only for them). */
function announce(numbers) {
  const text = t("pickup.now_ready", { count: numbers.length, numbers: formatList(numbers.map(String)) });
  if (announcer.textContent === text) announcer.textContent = ""; // the same words again: still news
  announcer.textContent = text;
}

async function start() {
  const ws = await loadWorkspace();
  const ready = new Set(readyStatuses(ws.workflow));
  const active = ws.workflow.statuses.filter((s) => !s.terminal).map((s) => s.name);
  const done = new Set(ws.workflow.statuses.filter((s) => s.terminal && !/cancel/.test(s.name)).map((s) => s.name));
  const lingerMs = ws.settings.pickup_linger_seconds * 1000;
  let current = new Map();
  let primed = false; // the first snapshot is drawn: what becomes ready after it is news
  const readySince = new Map(); // order id -> when it became ready (ms, server clock)
  const news = new Map(); // order id -> when this screen saw it become ready (ms): highlighted

  const render = () => {
    const at = now();
    const names = ws.settings.pickup_names || "none";
    for (const [id, entry] of lingering) if (entry.until <= at || current.has(id)) lingering.delete(id);
    const fresh = [];
    const readyNow = [];
    const preparing = [];
    for (const order of current.values()) {
      if (!ready.has(order.status)) {
        preparing.push(order);
        continue;
      }
      if (!readySince.has(order.id)) {
        const since = Date.parse(order.status_since || order.updated_at);
        readySince.set(order.id, primed ? Math.max(since, at) : since);
        if (primed) {
          fresh.push(order.order_number);
          news.set(order.id, at);
        }
      }
      readyNow.push(order);
    }
    for (const id of readySince.keys()) {
      if (current.has(id) && ready.has(current.get(id).status)) continue;
      readySince.delete(id);
      news.delete(id);
    }
    for (const [id, seen] of news) if (at - seen >= HIGHLIGHT_MS) news.delete(id);

    const cellOf = (order, extra = {}) => ({
      id: order.id,
      number: order.order_number,
      name: shownName(order.customer, names),
      fresh: false,
      lingering: false,
      ...extra,
    });
    readyNow.sort((a, b) => readySince.get(b.id) - readySince.get(a.id) || b.order_number - a.order_number);
    const readyCells = [
      ...readyNow.map((o) => cellOf(o, { fresh: news.has(o.id) })),
      ...[...lingering.entries()]
        .sort(([, a], [, b]) => b.until - a.until)
        .map(([id, e]) => cellOf({ id, order_number: e.number, customer: e.customer }, { lingering: true })),
    ];
    preparing.sort((a, b) => a.order_number - b.order_number);
    if (fresh.length) {
      columns.ready.first(); // the newest are on the first page
      announce(fresh.sort((a, b) => a - b));
      if (sounds.play("ready")) document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
    }
    columns.ready.show(readyCells, names);
    columns.preparing.show(preparing.map((o) => cellOf(o)), names);
  };

  for (const column of Object.values(columns)) {
    new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      if (width === column.boxSize.width && height === column.boxSize.height) return;
      column.boxSize = { width, height };
      render();
    }).observe(column.box);
  }
  document.addEventListener("keydown", (event) => {
    const by = { PageDown: 1, ArrowRight: 1, PageUp: -1, ArrowLeft: -1 }[event.key];
    if (!by || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    for (const column of Object.values(columns)) column.turn(by);
    render();
  });

  await recentlyCompleted(lingerMs);
  setInterval(render, 1000);
  watch({
    statuses: active,
    onUpdate: (orders, events) => {
      for (const frame of events) {
        const order = frame.order;
        if (done.has(order.status) && ready.has(frame.previous_status)) {
          lingering.set(order.id, { number: order.order_number, customer: order.customer, until: now() + lingerMs });
        }
      }
      current = orders;
      render();
      primed = true;
    },
  });
}

start().catch((exc) => showError(t("pickup.cannot_start", { message: exc.message })));
