// What every dashboard page shares: the session (workspace and keys), API calls, safe DOM
// building, the page header with its connection indicator, ticket ages and workspace settings.
// Its text is in the screen's language (i18n.js), as the pages' is.
//
// Safety: user data (usernames, items, notes) only ever reaches the page through textContent
// (el() below); no page uses innerHTML. The server's CSP forbids inline script.
import { formatNumber, statusLabel, t } from "./i18n.js";

const STORE = {
  workspace: "orderlog.workspace",
  read: "orderlog.readKey",
  write: "orderlog.writeKey",
  screen: "orderlog.screen", // a paired screen: what it is (see "paired screens" below)
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

/** The session, or a redirect to pairing (a screen) or sign-in (an owner page) when none. */
export function requireSession() {
  takeFragment();
  const s = session();
  if (!s.workspace || !s.readKey) {
    location.replace(signInPage());
    throw new Error("not signed in");
  }
  return s;
}

// -- paired screens ------------------------------------------------------------------------------
// The live screens (board, kitchen, pickup) without credentials show a pairing code (pair.js)
// instead of the sign-in form. A paired screen keeps its screen token as its read key, and as its
// write key too when it may bump: the server decides what the token may do. When the token stops
// working (revoked), the screen forgets it and shows a code again.
const SCREEN_PAGES = new Set(["/board.html", "/kitchen.html", "/pickup.html"]);

function signInPage() {
  const next = encodeURIComponent(location.pathname + location.search);
  return SCREEN_PAGES.has(location.pathname) ? `/pair.html?next=${next}` : `/index.html?next=${next}`;
}

/** Keep what pairing gave this screen (the poll's approved answer). */
export function saveScreen({ workspace_id, token, screen }) {
  signOut();
  localStorage.setItem(STORE.workspace, workspace_id);
  localStorage.setItem(STORE.read, token);
  if (screen.can_bump) localStorage.setItem(STORE.write, token);
  localStorage.setItem(STORE.screen, JSON.stringify(screen));
}

/** What this screen was paired as ({screen_id, role, station, label, ...}), or null. */
export function pairedScreen() {
  try {
    return JSON.parse(localStorage.getItem(STORE.screen) || "null");
  } catch {
    return null;
  }
}

function backToPairing() {
  signOut();
  location.replace(signInPage());
}

// A live page that lost its connection asks whether its token still works (a revoked screen's
// socket is closed by the server within a second or two): 401 sends it back to pairing at once
// instead of after the live client's backoff.
let checking = false;
function checkScreen() {
  if (checking || !pairedScreen()) return;
  checking = true;
  fetch("/v1/me", {
    headers: { Authorization: `Bearer ${session().readKey}` },
    cache: "no-store",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), // a silent link must not block later checks
  })
    .then((resp) => resp.status === 401 && backToPairing())
    .catch(() => {}) // the network is down: the live client retries, and so will this
    .finally(() => (checking = false));
}

// -- API ---------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A request the network swallowed (a dead Wi-Fi link sends no reset) would otherwise hang for
// minutes; after this long it fails like any network error and the caller may retry.
const REQUEST_TIMEOUT_MS = 10_000;

/** fetch() under /v1/workspaces/{w}; the key goes in the Authorization header, never the URL.
 * `idempotencyKey` makes a write safe to retry (the server replays its first result). */
export async function api(path, { method = "GET", body, write = false, raw = false, idempotencyKey } = {}) {
  const s = session();
  const key = write ? s.writeKey : s.readKey;
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const resp = await fetch(`/v1/workspaces/${encodeURIComponent(s.workspace)}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  learnClock(resp);
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    try {
      message = (await resp.json()).message || message;
    } catch {
      // not JSON: keep the status line
    }
    if (resp.status === 401 && pairedScreen()) backToPairing();
    if (resp.status === 401) message += ` ${t("common.sign_in_again")}`;
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
const SETTINGS_EVERY_MS = 300_000;
const settingsListeners = new Set();

/** The workspace (name, settings) and its workflow, fetched once per page. */
export async function loadWorkspace() {
  if (!workspaceInfo) {
    const [ws, fetched] = await Promise.all([api(""), api("/workflow")]);
    const workflow = { ...fetched, statuses: fetched.statuses.map((s) => ({ ...s, label: statusLabel(s) })) };
    workspaceInfo = { ...ws, workflow, label: labeller(workflow) };
    // A screen stays open for days: pick up changed settings (ticket colours, linger, recall
    // window, stations) every few minutes.
    setInterval(() => refreshSettings().catch(() => {}), SETTINGS_EVERY_MS);
  }
  return workspaceInfo;
}

/** Read the workspace's settings again, into the same settings object (so whoever holds it sees
 * them), then call every onSettings listener. */
export async function refreshSettings() {
  const fresh = await api("");
  Object.assign(workspaceInfo.settings, fresh.settings);
  for (const listener of settingsListeners) listener(workspaceInfo.settings);
}

/** Call `listener(settings)` each time the settings were read again (a quiet screen has no
 * other reason to redraw). */
export function onSettings(listener) {
  settingsListeners.add(listener);
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

/** Set a node's text only when it differs (a write of the same text still costs a restyle). A
 * node holding one text node keeps it and changes its data: replacing the text node would make
 * the browser restyle and rebuild the layout of the element too (a live page's ages and counts
 * change every second). */
export function setText(node, text) {
  const only = node.firstChild;
  if (text && only && only === node.lastChild && only.nodeType === Node.TEXT_NODE) {
    if (only.data !== text) only.data = text;
  } else if (node.textContent !== text) {
    node.textContent = text;
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const PAGES = [
  ["/board.html", t("menu.board")],
  ["/kitchen.html", t("menu.kitchen")],
  ["/pickup.html", t("menu.pickup")],
  ["/orders.html", t("menu.orders")],
  ["/staff.html", t("menu.staff")],
  ["/index.html", t("nav.signin")],
];

/** The page header: title, navigation, and (on live pages) the connection indicator and the
 * full-width banner shown whenever the page is not live. */
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
  if (live) top.append(el("span", { id: "conn", class: "conn offline", role: "status" }, t("live.state_offline")));
  document.body.prepend(top);
  if (live) {
    top.after(
      el("div", { id: "outage", class: "outage connecting", role: "alert" },
        el("span", { class: "outage-text" }, OUTAGE.connecting),
        el("span", { class: "outage-since", "aria-hidden": "true" }))
    );
    document.body.classList.add("not-live");
    setInterval(showOutageTime, 1000);
  }
  loadWorkspace()
    .then((ws) => (name.textContent = ws.name))
    .catch(() => {});
}

// What the banner says, for people at the screen (not for engineers).
const OUTAGE = {
  connecting: t("live.connecting"),
  reconnecting: t("live.reconnecting"),
  offline: t("live.offline"),
  store: t("live.store"),
};
const STATE = {
  connecting: t("live.state_connecting"),
  live: t("live.state_live"),
  reconnecting: t("live.state_reconnecting"),
  offline: t("live.state_offline"),
};
let notLiveSince = null;

/** Show the connection: the header's indicator, and while not live a full-width banner and
 * dimmed tickets (what is on screen may be out of date). Back to live clears the errors the
 * outage caused. `detail` is live.js's reason ("server: store reconnecting", a close reason). */
export function showConnection(state, detail = "") {
  if (state !== "live") checkScreen();
  const node = document.getElementById("conn");
  if (!node) return;
  node.className = `conn ${state}`;
  node.textContent = STATE[state] || state;
  const live = state === "live";
  const banner = document.getElementById("outage");
  const was = !document.body.classList.contains("not-live");
  document.body.classList.toggle("not-live", !live);
  if (live) {
    if (!was) showError("");
    notLiveSince = null;
    banner.hidden = true;
    return;
  }
  if (notLiveSince === null && state !== "connecting") notLiveSince = Date.now();
  const kind = String(detail).startsWith("server: store") ? "store" : state;
  banner.className = `outage ${state === "connecting" ? "connecting" : "lost"}`;
  banner.querySelector(".outage-text").textContent = OUTAGE[kind] || OUTAGE.reconnecting;
  banner.hidden = false;
  showOutageTime();
}

function showOutageTime() {
  const since = document.querySelector("#outage .outage-since");
  const text = notLiveSince === null ? "" : t("live.for", { time: duration((Date.now() - notLiveSince) / 1000) });
  if (since) setText(since, text);
}

/** A message for the people at the screen, with a button to dismiss it ("" hides it). */
export function showError(message) {
  let box = document.getElementById("error");
  if (!box) {
    if (!message) return;
    box = el("div", { id: "error", class: "error", role: "alert" },
      el("span", { class: "error-text" }),
      el("button", { type: "button", class: "dismiss", "aria-label": t("live.dismiss"), onclick: () => showError("") }, "×"));
    document.querySelector("main").prepend(box);
  }
  box.querySelector(".error-text").textContent = message;
  box.hidden = !message;
}

// -- orders ----------------------------------------------------------------------------------------
export function who(p) {
  if (!p) return "";
  const display = p.display_name || p.username;
  return display && display !== p.username ? `${display} (@${p.username})` : p.username;
}

export function itemText(item) {
  return item.quantity > 1 ? `${formatNumber(item.quantity)}× ${item.name}` : item.name;
}

/** The order's items as a list (those `include` accepts: a kitchen station's): the quantity in
 * bold before the name, notes under it; each keeps its index in the order (data-index), and a
 * done one is struck through. */
export function itemList(order, cls = "items", include = null) {
  const rows = [];
  order.items.forEach((item, index) => {
    if (include && !include(item, order)) return;
    rows.push(el("li", { class: item.done === true ? "done" : undefined, dataset: { index } },
      el("b", { class: "qty" }, `${formatNumber(item.quantity ?? 1)}×`), " ",
      el("span", { class: "name" }, item.name),
      item.done === true ? el("span", { class: "visually-hidden" }, ` ${t("common.item_done")}`) : null,
      item.notes ? el("span", { class: "notes" }, item.notes) : null));
  });
  return el("ul", { class: cls }, rows);
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

/** A ticket's age as its badge shows it: "m:ss" below an hour, then "1h02" (it stays short). */
export function ageText(seconds) {
  if (seconds < 3600) return duration(seconds);
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}`;
}

/** An element showing the time since `iso`, refreshed every second and colouring its card by
 * age (tickAges); it starts with the right text, so a new card needs no refresh to show it.
 * A `plain` badge only counts (a second age on a card, which the first one colours). */
export function ageBadge(iso, { plain = false } = {}) {
  const start = since(iso);
  const dataset = plain ? { since: start, plain: "1" } : { since: start };
  return el("span", { class: plain ? "age plain" : "age", dataset }, ageText((now() - start) / 1000));
}

/** The age class attributes of a card created at `iso` (as tickAges keeps them). */
export function ageAttrs(iso, settings) {
  const age = ageClass((now() - since(iso)) / 1000, settings);
  return { cls: `age-${age}`, age };
}

/** Refresh every age badge in `root` once a second (and when the returned function is called:
 * with cards, only theirs); a badge's text and its card's age class are written only when they
 * change. `every` (ms, 0: never) is how often; a page that times its own frames passes 0 and
 * calls the function. */
export function tickAges(settings, root = document, { every = 1000 } = {}) {
  const tick = (cards = null) => {
    const at = now();
    const badges = cards ? cards.flatMap((card) => [...card.querySelectorAll("[data-since]")]) : root.querySelectorAll("[data-since]");
    for (const node of badges) {
      const card = node.closest("[data-order]") || node;
      if (card.classList.contains("overflow")) continue; // a kitchen tile off this page
      const seconds = (at - Number(node.dataset.since)) / 1000;
      const text = ageText(seconds);
      setText(node, text);
      if (node.dataset.plain) continue;
      const cls = ageClass(seconds, settings);
      if (card.dataset.age !== cls) {
        card.dataset.age = cls;
        for (const c of ["fresh", "warn", "late"]) card.classList.toggle(`age-${c}`, c === cls);
      }
    }
  };
  tick();
  if (every) setInterval(tick, every);
  return tick;
}
