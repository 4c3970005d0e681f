// One order with its full timeline: every status, when, and by whom (GET /orders/{id} or
// /orders/by-number/{n}, both with the history).
import { api, duration, el, header, itemList, loadWorkspace, requireSession, showError, who } from "./common.js";
import { formatDateTime, t, translatePage } from "./i18n.js";

requireSession();
header();
translatePage();

const params = new URLSearchParams(location.search);
const root = document.getElementById("order");

function person(label, p) {
  return p ? [el("dt", {}, label), el("dd", {}, who(p), p.user_id ? el("span", { class: "muted" }, ` · ${t("order.id_short", { id: p.user_id })}`) : null)] : [];
}

function entry(h, createdMs, label) {
  const at = Date.parse(h.at);
  const what = h.previous_status
    ? `${label(h.previous_status)} → ${label(h.status)}`
    : t("order.created_as", { status: label(h.status) });
  return el(
    "li",
    { dataset: { status: h.status } },
    el("div", { class: "what" }, what),
    el("div", { class: "when" }, formatDateTime(h.at), ` · +${duration((at - createdMs) / 1000)}`),
    h.actor ? el("div", {}, t("order.by"), " ", el("b", {}, who(h.actor))) : el("div", { class: "muted" }, t("order.no_actor")),
    h.handed_to ? el("div", {}, t("order.handed_to_word"), " ", el("b", {}, who(h.handed_to))) : null,
    h.reason ? el("div", { class: "muted" }, t("order.reason"), " ", h.reason) : null
  );
}

async function show() {
  const path = params.get("id")
    ? `/orders/${encodeURIComponent(params.get("id"))}`
    : `/orders/by-number/${encodeURIComponent(params.get("n") || "")}`;
  const [order, ws] = await Promise.all([api(path), loadWorkspace()]);
  document.title = t("order.page_title", { number: order.order_number });
  const created = Date.parse(order.created_at);
  root.replaceChildren(
    el("h1", {}, t("order.title", { number: order.order_number }), " ", el("span", { class: "badge", id: "order-status" }, ws.label(order.status))),
    el(
      "div",
      { class: "grid2" },
      el(
        "section",
        { class: "panel" },
        el("h2", {}, t("order.facts")),
        el(
          "dl",
          { class: "facts" },
          el("dt", {}, t("order.id")),
          el("dd", {}, order.id),
          el("dt", {}, t("order.created")),
          el("dd", {}, formatDateTime(order.created_at)),
          ...person(t("order.customer"), order.customer),
          ...person(t("order.cashier"), order.cashier),
          ...person(t("order.preparer"), order.preparer),
          ...person(t("order.handed_by"), order.handed_by),
          ...person(t("order.handed_to"), order.handed_to),
          el("dt", {}, t("order.version")),
          el("dd", {}, order.version)
        ),
        el("h2", {}, t("order.items")),
        itemList(order)
      ),
      el(
        "section",
        { class: "panel" },
        el("h2", {}, t("order.timeline")),
        el("ol", { class: "timeline", id: "timeline" }, order.history.map((h) => entry(h, created, ws.label)))
      )
    )
  );
}

show().catch((exc) => showError(t("order.cannot_load", { message: exc.message })));
