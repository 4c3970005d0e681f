// Order search (the search API as a form), results with paging by next_cursor, CSV export
// fetched with the key in a header and saved from a Blob (the key never goes in a URL).
// Names, items and words match by prefix (server-side); a search that finds nothing says what
// to try, and a search that fails clears the results of the one before (they no longer answer
// what the form asks).
import { api, clear, el, header, itemText, loadWorkspace, requireSession, showError, who } from "./common.js";
import { formatDateTime, t, translatePage } from "./i18n.js";

requireSession();
header();
translatePage();

const form = document.getElementById("search");
const tbody = document.querySelector("#results tbody");
const more = document.getElementById("more");
const count = document.getElementById("count");
const hint = document.getElementById("hint");
const FIELDS = ["customer", "customer_id", "staff", "staff_id", "role", "status", "item", "number", "from", "to", "q"];
let label = (s) => s;
let shown = 0;
let nextCursor = null;

/** The form as search parameters; datetime-local values become ISO 8601 in UTC. */
function query() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = form[name].value.trim();
    if (!value) continue;
    params.set(name, form[name].type === "datetime-local" ? new Date(value).toISOString() : value);
  }
  return params;
}

function row(order) {
  return el(
    "tr",
    { dataset: { order: order.id } },
    el("td", {}, el("a", { href: `/order.html?id=${order.id}` }, `#${order.order_number}`)),
    el("td", {}, formatDateTime(order.created_at)),
    el("td", {}, el("span", { class: "badge" }, label(order.status))),
    el("td", {}, who(order.customer)),
    el("td", {}, order.items.map(itemText).join(", ")),
    el("td", {}, who(order.cashier)),
    el("td", {}, who(order.preparer))
  );
}

function showHint(text) {
  hint.textContent = text;
  hint.hidden = !text;
}

/** Forget the results on screen: they belonged to another search. */
function reset() {
  clear(tbody);
  shown = 0;
  nextCursor = null;
  more.hidden = true;
  count.textContent = "";
  showHint("");
}

async function search(cursor = null) {
  const params = query();
  if (cursor) params.set("cursor", cursor);
  try {
    const page = await api(`/orders?${params}`);
    if (!cursor) reset();
    tbody.append(...page.orders.map(row));
    shown += page.orders.length;
    nextCursor = page.next_cursor;
    more.hidden = !nextCursor;
    count.textContent = shown ? t("orders.count", { count: shown }) : "";
    if (!shown && !nextCursor) showHint(t([...query().keys()].length ? "orders.none_match" : "orders.none_yet"));
    showError("");
  } catch (exc) {
    if (!cursor) reset();
    showError(t("orders.search_failed", { message: exc.message }));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  // The filters (never the key) go in the address, so a search can be bookmarked or shared.
  history.replaceState(null, "", `${location.pathname}?${query()}`);
  search();
});
more.addEventListener("click", () => search(nextCursor));

document.getElementById("csv").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const resp = await api(`/orders.csv?${query()}`, { raw: true });
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `orders-${new Date().toISOString().slice(0, 10)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (exc) {
    showError(t("orders.export_failed", { message: exc.message }));
  } finally {
    button.disabled = false;
  }
});

async function start() {
  const ws = await loadWorkspace();
  label = ws.label;
  const select = document.getElementById("status-select");
  select.append(...ws.workflow.statuses.map((s) => el("option", { value: s.name }, s.label)));
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) {
    if (!params.has(name)) continue;
    const value = params.get(name);
    form[name].value = form[name].type === "datetime-local" ? toLocalInput(value) : value;
  }
  search();
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

start().catch((exc) => showError(t("common.cannot_load", { message: exc.message })));
