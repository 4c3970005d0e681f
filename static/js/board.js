// Status board: one column per active status of the workspace's workflow, cards moving live.
// Each column is a keyed list (keyed.js): a change re-renders the one card it touches, so
// focus on a card's link and the board's scroll position survive every update.
import { ageAttrs, ageBadge, el, header, itemList, loadWorkspace, requireSession, showError, tickAges, who } from "./common.js";
import { KeyedList } from "./keyed.js";
import { ScreenSettings, sizeControl } from "./screen.js";
import { isRush, sortTickets } from "./tickets.js";
import { watch } from "./watch.js";

requireSession();
header({ live: true });

const board = document.getElementById("board");
const screen = new ScreenSettings("board");
document.getElementById("board-bar").append(sizeControl(screen));

let settings = null;
function card(order) {
  const { cls, age } = ageAttrs(order.created_at, settings);
  return el(
    "article",
    { class: `card ${cls}${isRush(order) ? " rush" : ""}`, dataset: { order: order.id, number: order.order_number, status: order.status, age } },
    el(
      "div",
      { class: "head" },
      el("a", { class: "num", href: `/order.html?id=${order.id}`, dataset: { focus: "link" } }, `#${order.order_number}`),
      isRush(order) ? el("span", { class: "rush-flag" }, "RUSH") : null,
      ageBadge(order.created_at)
    ),
    itemList(order),
    el(
      "div",
      { class: "people" },
      el("span", {}, "Customer ", el("b", {}, who(order.customer))),
      order.cashier ? el("span", {}, "Cashier ", el("b", {}, who(order.cashier))) : null,
      order.preparer ? el("span", {}, "Preparer ", el("b", {}, who(order.preparer))) : null
    )
  );
}

async function start() {
  const ws = await loadWorkspace();
  settings = ws.settings;
  const columns = new Map();
  for (const status of ws.workflow.statuses.filter((s) => !s.terminal)) {
    const box = el("div", { class: "cards" });
    const count = el("span", { class: "count" });
    board.append(
      el("section", { class: "column", dataset: { status: status.name }, "aria-label": status.label },
        el("h2", {}, status.label, count), box)
    );
    const list = new KeyedList(box, { key: (o) => o.id, stamp: (o) => o.version, render: card });
    columns.set(status.name, { list, count });
  }
  let pending = false;
  let current = new Map();
  const render = () => {
    pending = false;
    const byStatus = new Map([...columns.keys()].map((s) => [s, []]));
    for (const order of current.values()) byStatus.get(order.status)?.push(order);
    for (const [status, { list, count }] of columns) {
      const cards = sortTickets(byStatus.get(status));
      list.update(cards);
      count.textContent = String(cards.length);
    }
  };
  tickAges(ws.settings);
  watch({
    statuses: [...columns.keys()],
    onUpdate: (orders) => {
      current = orders;
      if (pending) return;
      pending = true;
      requestAnimationFrame(render);
    },
  });
}

start().catch((exc) => showError(`Cannot start the board: ${exc.message}`));
