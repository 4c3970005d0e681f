// Status board: one column per active status of the workspace's workflow, cards moving live.
// Each column is a keyed list (keyed.js): a change re-renders the one card it touches, so
// focus on a card's link and each column's scroll position survive every update.
//
// The board fills the screen below the header: each column scrolls its own cards, and when the
// columns do not fit side by side at their narrowest readable width (six columns at 1024 px),
// as many as fit share the width and the board scrolls sideways to the others, a whole column
// at a time (snapped), its scroll bar on screen: no column is cut at the edge. Then a row of
// buttons above the board names every column with its count, marks those in view, and brings
// one into view when pressed (a tablet shows no scroll bar until it is swiped). An empty column
// folds to a narrow strip, so the columns holding cards get the room. A card's age badge is the time since the order was
// created (coloured by the workspace's thresholds, as in the kitchen); the screen may also show
// how long it has been in its current column (the order's status_since).
import { ageAttrs, ageBadge, el, header, itemList, loadWorkspace, requireSession, showError, tickAges, who } from "./common.js";
import { formatNumber, t, translatePage } from "./i18n.js";
import { KeyedList } from "./keyed.js";
import { ScreenSettings, sizeControl } from "./screen.js";
import { isRush, sortTickets } from "./tickets.js";
import { watch } from "./watch.js";

requireSession();
translatePage();
header({ live: true });

const board = document.getElementById("board");
const screen = new ScreenSettings("board");
const COLUMN_REM = 13; // the narrowest a column with cards gets
const FOLDED_REM = 3.2; // an empty column's strip
const GAP_PX = 12; // .board's gap

/** The grid tracks: a folded strip for each empty column; the others share the width, or, when
 * they cannot all be COLUMN_REM wide, as many as can share it exactly (the rest scrolled to).
 * Returns {template, scrolls}. */
function tracks(empty, width) {
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const folded = FOLDED_REM * rem;
  const open = empty.filter((e) => !e).length;
  const room = width - empty.filter(Boolean).length * (folded + GAP_PX) + GAP_PX;
  const fit = Math.max(1, Math.floor(room / (COLUMN_REM * rem + GAP_PX)));
  const each = fit >= open ? "minmax(0, 1fr)" : `${Math.floor(room / fit - GAP_PX)}px`;
  return { template: empty.map((e) => (e ? `${folded}px` : each)).join(" "), scrolls: fit < open };
}
const showColumnAge = () => screen.get("columnAge") !== false; // on unless turned off here

let settings = null;
let redraw = () => {};

function columnAgeControl() {
  const box = el("input", { type: "checkbox", id: "column-age", checked: showColumnAge() });
  box.addEventListener("change", () => {
    screen.set("columnAge", box.checked);
    redraw();
  });
  return el("label", { class: "setting" }, box, " ", t("board.show_column_age"));
}
document.getElementById("board-bar").append(
  el("div", { class: "controls" }, columnAgeControl(), sizeControl(screen, () => redraw(), t("kitchen.text_size")))
);

function card(order) {
  const { cls, age } = ageAttrs(order.created_at, settings);
  const since = order.status_since;
  return el(
    "article",
    { class: `card ${cls}${isRush(order) ? " rush" : ""}`, dataset: { order: order.id, number: order.order_number, status: order.status, age } },
    el(
      "div",
      { class: "head" },
      el("a", { class: "num", href: `/order.html?id=${order.id}`, dataset: { focus: "link" } }, `#${order.order_number}`),
      isRush(order) ? el("span", { class: "rush-flag" }, t("board.rush")) : null,
      ageBadge(order.created_at)
    ),
    showColumnAge() && since
      ? el("div", { class: "column-age" }, t("board.in_column"), " ", ageBadge(since, { plain: true }))
      : null,
    itemList(order),
    el(
      "div",
      { class: "people" },
      el("span", {}, t("board.customer"), " ", el("b", {}, who(order.customer))),
      order.cashier ? el("span", {}, t("board.cashier"), " ", el("b", {}, who(order.cashier))) : null,
      order.preparer ? el("span", {}, t("board.preparer"), " ", el("b", {}, who(order.preparer))) : null
    )
  );
}

async function start() {
  const ws = await loadWorkspace();
  settings = ws.settings;
  const columns = new Map();
  const jumps = el("nav", { class: "board-columns", "aria-label": t("board.columns"), hidden: true });
  board.before(jumps);
  const inView = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const jump = columns.get(entry.target.dataset.status).jump;
        jump.classList.toggle("in-view", entry.intersectionRatio > 0.98);
      }
    },
    { root: board, threshold: [0, 0.98] }
  );
  for (const status of ws.workflow.statuses.filter((s) => !s.terminal)) {
    const box = el("div", { class: "cards" });
    const count = el("span", { class: "count" });
    const section = el("section", { class: "column", dataset: { status: status.name }, "aria-label": status.label },
      el("h2", {}, el("span", { class: "label" }, status.label), count), box);
    board.append(section);
    const jumpCount = el("span", { class: "count" });
    const jump = el("button", { type: "button", class: "jump", dataset: { status: status.name },
      onclick: () => section.scrollIntoView({ inline: "start", block: "nearest", behavior: "smooth" }) },
      status.label, " ", jumpCount);
    jumps.append(jump);
    inView.observe(section);
    // The stamp holds the screen's choice too: turning the column age on redraws every card.
    const list = new KeyedList(box, { key: (o) => o.id, stamp: (o) => `${o.version}|${showColumnAge()}`, render: card });
    columns.set(status.name, { list, count, section, jump, jumpCount });
  }
  let pending = false;
  let current = new Map();
  let widths = "";
  let boardWidth = board.clientWidth;
  const render = () => {
    pending = false;
    const byStatus = new Map([...columns.keys()].map((s) => [s, []]));
    for (const order of current.values()) byStatus.get(order.status)?.push(order);
    const empty = [];
    for (const [status, { list, count, section, jumpCount }] of columns) {
      const cards = sortTickets(byStatus.get(status));
      list.update(cards);
      const text = formatNumber(cards.length);
      if (count.textContent !== text) count.textContent = jumpCount.textContent = text;
      section.classList.toggle("folded", cards.length === 0);
      empty.push(cards.length === 0);
    }
    const { template, scrolls } = tracks(empty, boardWidth);
    if (template !== widths) board.style.gridTemplateColumns = widths = template;
    if (jumps.hidden === scrolls) jumps.hidden = !scrolls;
  };
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(render);
  };
  redraw = schedule;
  new ResizeObserver(([entry]) => {
    if (entry.contentRect.width === boardWidth) return;
    boardWidth = entry.contentRect.width;
    schedule();
  }).observe(board);
  tickAges(ws.settings);
  watch({
    statuses: [...columns.keys()],
    onUpdate: (orders) => {
      current = orders;
      schedule();
    },
  });
}

start().catch((exc) => showError(t("board.cannot_start", { message: exc.message })));
