// One order with its full timeline: every status, when, and by whom (GET /orders/{id} or
// /orders/by-number/{n}, both with the history).
import { api, duration, el, header, itemList, loadWorkspace, localTime, requireSession, showError, who } from "./common.js";

requireSession();
header();

const params = new URLSearchParams(location.search);
const root = document.getElementById("order");

function person(label, p) {
  return p ? [el("dt", {}, label), el("dd", {}, who(p), p.user_id ? el("span", { class: "muted" }, ` · id ${p.user_id}`) : null)] : [];
}

function entry(h, createdMs, label) {
  const at = Date.parse(h.at);
  const what = h.previous_status
    ? `${label(h.previous_status)} → ${label(h.status)}`
    : `Created as ${label(h.status)}`;
  return el(
    "li",
    { dataset: { status: h.status } },
    el("div", { class: "what" }, what),
    el("div", { class: "when" }, localTime(h.at), ` · +${duration((at - createdMs) / 1000)}`),
    h.actor ? el("div", {}, "by ", el("b", {}, who(h.actor))) : el("div", { class: "muted" }, "no actor recorded"),
    h.handed_to ? el("div", {}, "handed to ", el("b", {}, who(h.handed_to))) : null,
    h.reason ? el("div", { class: "muted" }, "reason: ", h.reason) : null
  );
}

async function show() {
  const path = params.get("id")
    ? `/orders/${encodeURIComponent(params.get("id"))}`
    : `/orders/by-number/${encodeURIComponent(params.get("n") || "")}`;
  const [order, ws] = await Promise.all([api(path), loadWorkspace()]);
  document.title = `Order ${order.order_number} · orderlog`;
  const created = Date.parse(order.created_at);
  root.replaceChildren(
    el("h1", {}, `Order #${order.order_number} `, el("span", { class: "badge", id: "order-status" }, ws.label(order.status))),
    el(
      "div",
      { class: "grid2" },
      el(
        "section",
        { class: "panel" },
        el("h2", {}, "Order"),
        el(
          "dl",
          { class: "facts" },
          el("dt", {}, "Id"),
          el("dd", {}, order.id),
          el("dt", {}, "Created"),
          el("dd", {}, localTime(order.created_at)),
          ...person("Customer", order.customer),
          ...person("Cashier", order.cashier),
          ...person("Preparer", order.preparer),
          ...person("Handed by", order.handed_by),
          ...person("Handed to", order.handed_to),
          el("dt", {}, "Version"),
          el("dd", {}, order.version)
        ),
        el("h2", {}, "Items"),
        itemList(order)
      ),
      el(
        "section",
        { class: "panel" },
        el("h2", {}, "Timeline"),
        el("ol", { class: "timeline", id: "timeline" }, order.history.map((h) => entry(h, created, ws.label)))
      )
    )
  );
}

show().catch((exc) => showError(`Cannot load the order: ${exc.message}`));
