// What every dashboard page shares: the session (workspace and keys), API calls, safe DOM
// building, the page header with its connection indicator, ticket ages and workspace settings.
//
// Safety: user data (usernames, items, notes) only ever reaches the page through textContent
// (el() below); no page uses innerHTML. The server's CSP forbids inline script.

const STORE = {
  workspace: "orderlog.workspace",
  read: "orderlog.readKey",
  write: "orderlog.writeKey",
};

// -- session ---------------------------------------------------------------------------------
// A kiosk link carries the keys in the fragment (never sent to the server, never in a log):
// #key=<read key>&workspace=<id>[&write=<write key>]. They are kept in localStorage and the
// fragment is removed from the address bar at once.
export function takeFragment() {
  if (!location.hash.includes("key=")) return;
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("workspace")) localStorage.setItem(STORE.workspace, params.get("workspace"));
  if (params.get("key")) localStorage.setItem(STORE.read, params.get("key"));
  if (params.get("write")) localStorage.setItem(STORE.write, params.get("write"));
  history.replaceState(null, "", location.pathname + location.search);
}

export function session() {
  return {
    workspace: localStorage.getItem(STORE.workspace) || "",
    readKey: localStorage.getItem(STORE.read) || "",
    writeKey: localStorage.getItem(STORE.write) || "",
  };
}

export function saveSession({ workspace, readKey, writeKey }) {
  localStorage.setItem(STORE.workspace, workspace.trim());
  localStorage.setItem(STORE.read, readKey.trim());
  if (writeKey && writeKey.trim()) localStorage.setItem(STORE.write, writeKey.trim());
  else localStorage.removeItem(STORE.write);
}

export function signOut() {
  for (const name of Object.values(STORE)) localStorage.removeItem(name);
}

export function canWrite() {
  return Boolean(session().writeKey);
}

/** The session, or a redirect to the sign-in page when there is none. */
export function requireSession() {
  takeFragment();
  const s = session();
  if (!s.workspace || !s.readKey) {
    location.replace("/index.html?next=" + encodeURIComponent(location.pathname + location.search));
    throw new Error("not signed in");
  }
  return s;
}

// -- API ---------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** fetch() under /v1/workspaces/{w}; the key goes in the Authorization header, never the URL. */
export async function api(path, { method = "GET", body, write = false, raw = false } = {}) {
  const s = session();
  const key = write ? s.writeKey : s.readKey;
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(`/v1/workspaces/${encodeURIComponent(s.workspace)}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  learnClock(resp);
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    try {
      message = (await resp.json()).message || message;
    } catch {
      // not JSON: keep the status line
    }
    if (resp.status === 401) message += " Sign in again (Sign-in in the menu).";
    throw new ApiError(resp.status, message);
  }
  return raw ? resp : resp.json();
}

// Ticket ages compare the server's timestamps with this screen's clock, and a kitchen tablet's
// clock may be minutes off. Every API response's Date header says how far (to a second, which
// is all a ticket timer shows).
let clockOffset = 0;
function learnClock(resp) {
  const server = Date.parse(resp.headers.get("date") || "");
  if (!Number.isNaN(server)) clockOffset = server + 500 - Date.now(); // Date truncates: +0.5 s
}

/** The server's time as this screen best knows it (ms since the epoch). */
export function now() {
  return Date.now() + clockOffset;
}

let workspaceInfo = null;
/** The workspace (name, settings) and its workflow, fetched once per page. */
export async function loadWorkspace() {
  if (!workspaceInfo) {
    const [ws, workflow] = await Promise.all([api(""), api("/workflow")]);
    workspaceInfo = { ...ws, workflow, label: labeller(workflow) };
    // A screen stays open for days: pick up changed settings (ticket colours, linger, recall
    // window) in place, every few minutes.
    setInterval(() => {
      api("")
        .then((fresh) => Object.assign(workspaceInfo.settings, fresh.settings))
        .catch(() => {});
    }, 300_000);
  }
  return workspaceInfo;
}

function labeller(workflow) {
  const labels = new Map(workflow.statuses.map((s) => [s.name, s.label]));
  return (name) => labels.get(name) || name;
}

// -- DOM -----------------------------------------------------------------------------------------
/** el("div", {class: "x", dataset: {id: 1}, onclick: f}, "text", child, ...): text is text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const PAGES = [
  ["/board.html", "Board"],
  ["/kitchen.html", "Kitchen"],
  ["/pickup.html", "Pickup"],
  ["/orders.html", "Orders"],
  ["/staff.html", "Staff"],
  ["/index.html", "Sign-in"],
];

/** The page header: title, navigation, and (on live pages) the connection indicator. */
export function header({ live = false } = {}) {
  const nav = el(
    "nav",
    {},
    PAGES.map(([href, text]) =>
      el("a", { href, class: location.pathname === href ? "current" : undefined }, text)
    )
  );
  const top = el("header", { class: "top" }, el("a", { href: "/", class: "brand" }, "orderlog"));
  const name = el("span", { class: "ws-name", id: "ws-name" });
  top.append(name, nav);
  if (live) top.append(el("span", { id: "conn", class: "conn offline", role: "status" }, "offline"));
  document.body.prepend(top);
  loadWorkspace()
    .then((ws) => (name.textContent = ws.name))
    .catch(() => {});
}

/** Show live / reconnecting / offline in the header. */
export function showConnection(state) {
  const node = document.getElementById("conn");
  if (!node) return;
  node.className = `conn ${state}`;
  node.textContent = state;
}

export function showError(message) {
  let box = document.getElementById("error");
  if (!box) {
    box = el("div", { id: "error", class: "error", role: "alert" });
    document.querySelector("main").prepend(box);
  }
  box.textContent = message;
  box.hidden = !message;
}

// -- orders ----------------------------------------------------------------------------------------
export function who(p) {
  if (!p) return "";
  const display = p.display_name || p.username;
  return display && display !== p.username ? `${display} (@${p.username})` : p.username;
}

export function itemText(item) {
  return item.quantity > 1 ? `${item.quantity}× ${item.name}` : item.name;
}

export function itemList(order, cls = "items") {
  return el(
    "ul",
    { class: cls },
    order.items.map((item) =>
      el("li", {}, itemText(item), item.notes ? el("span", { class: "notes" }, item.notes) : null)
    )
  );
}

export function since(iso) {
  return Date.parse(iso);
}

export function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

export function ageClass(seconds, settings) {
  if (seconds >= settings.age_late_seconds) return "late";
  if (seconds >= settings.age_warn_seconds) return "warn";
  return "fresh";
}

/** An element showing the time since `iso`, refreshed every second and coloured by age. */
export function ageBadge(iso) {
  return el("span", { class: "age", dataset: { since: since(iso) } });
}

/** Refresh every age badge once a second; returns nothing (runs for the page's life). */
export function tickAges(settings, onLate) {
  const tick = () => {
    const at = now();
    for (const node of document.querySelectorAll("[data-since]")) {
      const seconds = (at - Number(node.dataset.since)) / 1000;
      node.textContent = duration(seconds);
      const cls = ageClass(seconds, settings);
      const card = node.closest("[data-order]") || node;
      for (const c of ["fresh", "warn", "late"]) card.classList.toggle(`age-${c}`, c === cls);
      if (cls === "late" && onLate && card.dataset.order) onLate(card.dataset.order);
    }
  };
  tick();
  setInterval(tick, 1000);
  return tick;
}

export function localTime(iso) {
  return new Date(iso).toLocaleString();
}
