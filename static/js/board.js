// Status board: one column per active status of the workspace's workflow, cards moving live.
import { ageBadge, clear, el, header, itemList, loadWorkspace, requireSession, showError, tickAges, who } from "./common.js";
import { watch } from "./watch.js";

requireSession();
header({ live: true });

const board = document.getElementById("board");

function card(order) {
  return el(
    "article",
    { class: "card", dataset: { order: order.id, number: order.order_number, status: order.status } },
    el(
      "div",
      { class: "head" },
      el("a", { class: "num", href: `/order.html?id=${order.id}` }, `#${order.order_number}`),
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
  const columns = new Map();
  for (const status of ws.workflow.statuses.filter((s) => !s.terminal)) {
    const list = el("div", { class: "cards" });
    const count = el("span", { class: "count" });
    board.append(
      el("section", { class: "column", dataset: { status: status.name } }, el("h2", {}, status.label, count), list)
    );
    columns.set(status.name, { list, count });
  }
  let pending = false;
  const render = (orders) => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const byStatus = new Map([...columns.keys()].map((s) => [s, []]));
      for (const order of orders.values()) byStatus.get(order.status)?.push(order);
      for (const [status, { list, count }] of columns) {
        const cards = byStatus.get(status).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
        clear(list, cards.map(card));
        count.textContent = String(cards.length);
      }
      tick();
    });
  };
  const tick = tickAges(ws.settings);
  watch({ statuses: [...columns.keys()], onUpdate: render });
}

start().catch((exc) => showError(`Cannot start the board: ${exc.message}`));
