// Kitchen display: the open tickets of the kitchen's statuses as tiles, rush first then oldest
// first, one screenful per page; the all-day item counts; sounds for a new and a late ticket;
// with a write key: bump, recall and cancel, by touch or by bump bar (bumpbar.js's key map).
// A station's screen (?station=drinks, or the station it was paired with) shows only the items
// the workspace's stations setting gives that station: its "bump" marks them done, and a ticket
// leaves it once none is left to make.
//
// Rendering is keyed (keyed.js): a live change re-renders only the tiles it touches, so focus,
// the selected ticket and the page stay put. Only the current page's tiles (and a row or two
// more) are in the DOM.
// Every staff action goes through the outbox (outbox.js): queued while the link is down, sent
// in order with an Idempotency-Key once it is back.
// Text is in the screen's language (i18n.js: ?lang=, kept by the screen), numbers by its locale.
import { ACTIONS, actionFor, keyLabel, keyMap, keysDialog } from "./bumpbar.js";
import { ageAttrs, ageBadge, ApiError, api, duration, el, header, itemList, loadWorkspace, now, onSettings, pairedScreen, requireSession, setText, showError, tickAges, who } from "./common.js";
import { nextStatus } from "./flow.js";
import { formatNumber, languagePicker, t, translatePage } from "./i18n.js";
import { KeyedList } from "./keyed.js";
import { masonry } from "./masonry.js";
import { Outbox } from "./outbox.js";
import { ScreenSettings, secondsControl, sizeControl } from "./screen.js";
import { Sounds } from "./sound.js";
import { allDayCounts, allergenItems, createdAt, hasStations, isRush, orderStations, sameStation, sortTickets, stationOf } from "./tickets.js";
import { watch } from "./watch.js";

const me = requireSession();
translatePage();
header({ live: true });

const KITCHEN = ["waiting_for_preparation", "preparing", "finding_new_colleague"];
let kitchenStatuses = new Set(KITCHEN); // the ones this workspace's workflow has (start())
const CANCEL_CONFIRM_MS = 4000;
const tilesBox = document.getElementById("tiles");
const statsBox = document.getElementById("kitchen-stats");
const pendingBox = document.getElementById("pending");
const staff = Boolean(me.writeKey);
document.body.classList.toggle("staff", staff);
// This screen's station: the address says, else the one it was paired with; none: every item.
const station = (new URLSearchParams(location.search).get("station") || pairedScreen()?.station || "").trim();
if (station) {
  document.body.dataset.station = station;
  document.getElementById("kitchen-title").textContent = t("kitchen.station_title", { station });
}
// Each station's screen keeps its own size and keys.
const screen = new ScreenSettings(station ? `kitchen.${station.toLowerCase()}` : "kitchen");
let ws = null;

// -- what this screen shows -------------------------------------------------------------------------
let orders = new Map(); // the live map (live.js keeps it; results of our own writes go in too)
let list = []; // every open ticket, in display order
let shown = []; // the tickets on the current page
let pageStart = 0; // index into `list` of the page's first ticket
const pageStarts = []; // where the earlier pages began (PageUp)
let columns = 1;
let selectedId = null;
let selectedIndex = 0;
let live = false;
const armed = new Map(); // order id -> until when a second cancel press confirms
const recent = new Map(); // order id -> {number, version, until, at}: what this screen may recall
const versions = new Map(); // order id -> the newest version this screen has seen

// Items this screen prepares: every item, or on a station's screen the items the workspace's
// stations setting gives it. A ticket is on a station's screen while one of them is not done.
const onThisScreen = (item) => !station || sameStation(stationOf(item.name, ws.settings.stations), station);
const toMake = (order) => !station || order.items.some((item) => item.done !== true && onThisScreen(item));

// -- sound -----------------------------------------------------------------------------------------------
const MUTE = "orderlog.muted";
const soundButton = document.getElementById("sound");
const sounds = new Sounds({ muted: () => localStorage.getItem(MUTE) === "1", onState: showSound });
function showSound() {
  const state = sounds.state;
  soundButton.textContent = { on: t("kitchen.sound_on"), off: t("kitchen.sound_off"), blocked: t("kitchen.sound_blocked") }[state];
  soundButton.setAttribute("aria-pressed", String(state !== "off"));
  soundButton.dataset.state = state;
}
soundButton.addEventListener("click", () => {
  if (sounds.state !== "blocked") localStorage.setItem(MUTE, sounds.state === "off" ? "0" : "1");
  sounds.unlock();
  showSound();
});
document.addEventListener("pointerdown", () => sounds.unlock(), { once: true });
document.addEventListener("keydown", () => sounds.unlock(), { once: true });
function play(name) {
  if (!sounds.play(name)) return;
  document.body.dataset.lastSound = name;
  document.body.dataset.sounds = String(Number(document.body.dataset.sounds || 0) + 1);
  if (name === "late") lastLateBeep = Date.now();
}
sounds.unlock(); // a kiosk started with autoplay allowed is "on" at once; a browser says "blocked"
showSound();

// Late tickets: a beep when a ticket turns late, again every lateRepeatSeconds while any open
// ticket of this screen is late (tunes never overlap: sound.js queues them).
const lateSeen = new Set();
let lastLateBeep = 0;
function checkLate() {
  if (!ws) return;
  const limit = ws.settings.age_late_seconds * 1000;
  const at = now();
  let anyLate = false;
  let newlyLate = false;
  for (const order of list) {
    if (at - createdAt(order) < limit) continue;
    anyLate = true;
    if (!lateSeen.has(order.id)) {
      lateSeen.add(order.id);
      newlyLate = true;
    }
  }
  const repeat = screen.get("lateRepeatSeconds") * 1000;
  if (newlyLate || (anyLate && repeat > 0 && Date.now() - lastLateBeep >= repeat)) play("late");
}

// -- staff actions: the outbox -----------------------------------------------------------------
const COOK = "orderlog.cook";
const cookForm = document.getElementById("cook");
function cook() {
  try {
    const saved = JSON.parse(localStorage.getItem(COOK) || "null");
    return saved && saved.username && saved.user_id ? { Name: saved.username, UserId: saved.user_id } : undefined;
  } catch {
    return undefined;
  }
}
if (staff) {
  cookForm.hidden = false;
  const saved = JSON.parse(localStorage.getItem(COOK) || "{}");
  cookForm.username.value = saved.username || "";
  cookForm.user_id.value = saved.user_id || "";
  cookForm.addEventListener("input", () =>
    localStorage.setItem(COOK, JSON.stringify({ username: cookForm.username.value.trim(), user_id: cookForm.user_id.value.trim() }))
  );
  cookForm.addEventListener("submit", (e) => e.preventDefault());
}

const outbox = new Outbox({
  storageKey: `orderlog.outbox.${me.workspace}`,
  canSend: () => live,
  build: (action) => {
    // An action queued behind one on the same order that was already sent takes the version
    // that one produced (a recall of a bump whose reply is still awaited).
    const version = action.chained ? versions.get(action.orderId) : action.version;
    if (action.kind === "recall") return { path: `/orders/${action.orderId}/recall`, body: { actor: action.actor, version } };
    // A done mark says what the item is, not a move from what it was: sent without a version,
    // so two stations marking items of one ticket at once never refuse each other.
    if (action.kind === "item") return { path: itemDonePath(action.orderId, action.index), body: { done: action.done, actor: action.actor } };
    const body = { status: action.status, version, actor: action.actor };
    if (action.kind === "cancel") body.reason = "cancelled at the kitchen display";
    return { path: `/orders/${action.orderId}/status`, body };
  },
  send: async (request, action) => {
    // recall takes no Idempotency-Key: the version it carries makes a retry a 409, never a
    // second undo, and a retry's 409 is checked against the order below.
    const key = action.kind === "recall" ? undefined : action.idempotencyKey;
    try {
      return await api(request.path, { method: "POST", body: request.body, write: true, idempotencyKey: key });
    } catch (error) {
      if (action.kind === "recall" && action.attempts > 1 && error.status === 409) {
        // the retry's first try may have landed: the last status change is then a recall made
        // after the version this one named (item marks and priority changes pass over)
        const order = await api(`/orders/${action.orderId}`);
        const changes = order.history.filter((e) => !("item" in e) && !("priority" in e));
        const last = changes[changes.length - 1];
        if (last && last.version > request.body.version && String(last.reason || "").startsWith("recall:")) return { order };
      }
      throw error;
    }
  },
  onResult: (action, result, error) => {
    if (error) {
      showError(refusal(action, error));
    } else {
      applyOrder(result.order);
      if (action.kind === "bump" || action.kind === "cancel") recallable(result.order);
      if (action.kind === "recall") recent.delete(action.orderId);
      // a bump's recall carries the order's version: marks made here since do not stale it
      const entry = recent.get(action.orderId);
      if (action.kind === "item" && entry && !entry.indexes) entry.version = result.order.version;
    }
    draw();
  },
  onChange: () => {
    showPending();
    draw();
  },
});

// Order numbers are names, not amounts: passed as text, never written with a thousands separator.
const NOT_DONE = {
  bump: (number) => t("kitchen.refused_bump", { number }),
  cancel: (number) => t("kitchen.refused_cancel", { number }),
  recall: (number) => t("kitchen.refused_recall", { number }),
  item: (number) => t("kitchen.refused_item", { number }),
};
function refusal(action, error) {
  const what = NOT_DONE[action.kind](String(action.number));
  const status = error instanceof ApiError ? error.status : 0;
  if (status === 409) return t("kitchen.refused_conflict", { what });
  if (status === 403) return t("kitchen.refused_forbidden", { what });
  if (status === 404) return t("kitchen.refused_gone", { what });
  return t("kitchen.refused_other", { what, message: error.message });
}

function showPending() {
  const n = outbox.pending.length;
  pendingBox.hidden = n === 0;
  setText(pendingBox, t("kitchen.waiting_to_send", { count: n }));
}

/** An order this screen just wrote: shown at once (the live event with the same version that
 * follows changes nothing), or taken off when it left the kitchen's statuses. */
function applyOrder(order) {
  versions.set(order.id, Math.max(order.version, versions.get(order.id) || 0));
  const known = orders.get(order.id);
  if (known && known.version >= order.version) return;
  if (kitchenStatuses.has(order.status)) orders.set(order.id, order);
  else orders.delete(order.id);
}

function pendingFor(order) {
  return outbox.pendingFor(order.id);
}

function bump(order) {
  if (!staff || pendingFor(order).length) return;
  if (station) return finishStation(order);
  const target = nextStatus(ws.workflow, order.status);
  if (!target) return;
  outbox.add({ kind: "bump", orderId: order.id, number: order.order_number, status: target, version: order.version, actor: cook() });
}

// A station's screen never cancels: a cancel ends the whole order, for every station.
function cancel(order) {
  if (!staff || station || pendingFor(order).length) return;
  if ((armed.get(order.id) || 0) <= Date.now()) {
    armed.set(order.id, Date.now() + CANCEL_CONFIRM_MS);
    setTimeout(draw, CANCEL_CONFIRM_MS + 100);
    draw();
    return;
  }
  armed.delete(order.id);
  outbox.add({ kind: "cancel", orderId: order.id, number: order.order_number, status: "cancelled", version: order.version, actor: cook() });
}

/** A station's bump: every item of the ticket this station makes is marked done (the ticket
 * leaves this screen; the others show the station done). R or its recall button takes it back. */
function finishStation(order) {
  const indexes = [];
  order.items.forEach((item, index) => {
    if (item.done !== true && onThisScreen(item)) indexes.push(index);
  });
  if (!indexes.length) return;
  const group = `${order.id}:${Date.now()}`;
  for (const index of indexes) {
    outbox.add({ kind: "item", orderId: order.id, number: order.order_number, index, done: true, actor: cook(), group });
  }
  recallable(order, { indexes, group });
}

/** The order just changed from this screen: offer its recall while the window lasts. A
 * station's bump (`marks`: the items it marked) is recalled by marking them not done. */
function recallable(order, marks = {}) {
  const until = Date.now() + ws.settings.recall_window_seconds * 1000;
  recent.set(order.id, { number: order.order_number, version: order.version, until, at: Date.now(), ...marks });
  showRecalls();
}

function recall(id) {
  const entry = recent.get(id);
  if (!entry) return;
  if (entry.indexes) {
    // what is still queued is simply not sent; what was sent is marked not done again
    const sent = entry.indexes.filter((index) => {
      const queued = outbox.pending.find((a) => a.group === entry.group && a.index === index);
      return !(queued && outbox.remove(queued.id));
    });
    for (const index of sent) {
      outbox.add({ kind: "item", orderId: id, number: entry.number, index, done: false, actor: cook() });
    }
  } else {
    outbox.add({ kind: "recall", orderId: id, number: entry.number, version: entry.version, actor: cook() });
  }
  recent.delete(id);
  showRecalls();
  draw();
}

/** R: take back this screen's last bump or cancel: still queued, it is simply not sent. */
function recallLast() {
  if (station) {
    const last = [...recent].sort((a, b) => b[1].at - a[1].at)[0];
    if (last) recall(last[0]);
    return;
  }
  const queued = [...outbox.pending].reverse().find((a) => a.kind === "bump" || a.kind === "cancel");
  if (queued && outbox.remove(queued.id)) return;
  if (queued) {
    // already on its way: recall it with the version its reply brings
    outbox.add({ kind: "recall", orderId: queued.orderId, number: queued.number, chained: true, actor: cook() });
    return;
  }
  const last = [...recent].sort((a, b) => b[1].at - a[1].at)[0];
  if (last) recall(last[0]);
}

// -- item done marks ------------------------------------------------------------------------------
// POST .../items/{index}/done with {done, actor} and an Idempotency-Key (no version: see the
// outbox's build above); the order's items then carry `done`, which itemList strikes through.
const itemDonePath = (orderId, index) => `/orders/${orderId}/items/${index}/done`;

function markNextItem(order) {
  if (!staff) return;
  const mine = order.items.map((item, index) => [item, index]).filter(([item]) => onThisScreen(item));
  if (!mine.length) return;
  const next = mine.find(([item]) => item.done !== true);
  toggleItem(order, (next || mine[mine.length - 1])[1]);
}

function toggleItem(order, index) {
  if (!staff || pendingFor(order).length) return;
  const done = order.items[index].done !== true;
  outbox.add({ kind: "item", orderId: order.id, number: order.order_number, index, done, actor: cook() });
}

// -- tiles ----------------------------------------------------------------------------------------------
const STATE_CLASS = { waiting_for_preparation: "state-waiting", preparing: "state-preparing", finding_new_colleague: "state-help" };

// A tile is rendered anew when what it shows changes: its order's fields on the tile, the status
// a bump is moving it to, or its cancel confirmation. A new version that shows the same (the
// server's answer to a bump already drawn as sent) keeps the tile: its buttons act on the order
// as it is now (current()), not as it was drawn. Whether its action is queued or on its way
// only patches the tile in place (pendingPatch).
const shownFields = new WeakMap(); // order object -> the text of the fields a tile shows
function tileStamp(order) {
  let fields = shownFields.get(order);
  if (fields === undefined) {
    const { order_number, created_at, priority, customer, preparer, items } = order;
    fields = JSON.stringify([order_number, created_at, priority ?? null, customer ?? null, preparer ?? null, items]);
    shownFields.set(order, fields);
  }
  return `${order.status}|${order.marks || ""}|${(armed.get(order.id) || 0) > Date.now()}|${settingsSeen}|${fields}`;
}

/** The order a tile shows, as it is now (with what this screen is sending drawn in). */
const current = (order) => list.find((o) => o.id === order.id) || order;

// The workspace's settings are read again every few minutes (common.js refreshSettings), and the
// screen is drawn then (onSettings in start()), busy or not: tiles drawn with an older station
// map, allergen list or age thresholds are drawn again.
let settingsSeen = 0;
let settingsFor = null;
function checkSettings() {
  const { stations, allergen_words: words, age_warn_seconds: warn, age_late_seconds: late } = ws.settings;
  const now = JSON.stringify([stations, words, warn, late]);
  if (now !== settingsFor) {
    settingsFor = now;
    settingsSeen++;
  }
}

/** The line of the stations an order's items go to, each ticked when all its items are done. */
function stationsLine(order) {
  if (!hasStations(ws.settings.stations)) return null;
  return el("div", { class: "stations" },
    orderStations(order, ws.settings.stations).map(({ station: name, done }) =>
      el("span", { class: done ? "station done" : "station", dataset: { station: name } },
        done ? "✓ " : "", name, done ? el("span", { class: "visually-hidden" }, ` ${t("common.item_done")}`) : null)));
}

/** A red banner with the item notes that mention an allergen (the workspace's words). */
function allergenBanner(order) {
  const found = allergenItems(order, ws.settings.allergen_words, onThisScreen);
  if (!found.length) return null;
  return el("div", { class: "allergen", role: "note" },
    el("b", {}, `${t("kitchen.allergy")} `),
    found.flatMap(([, item], i) => [i ? " · " : "", `${item.name}: ${item.notes}`]));
}

function tile(order) {
  const target = nextStatus(ws.workflow, order.status);
  const confirming = (armed.get(order.id) || 0) > Date.now();
  const { cls: ageCls, age } = ageAttrs(order.created_at, ws.settings);
  const items = itemList(order, "items", station ? onThisScreen : null);
  if (staff) {
    for (const li of items.children) {
      const index = Number(li.dataset.index);
      li.replaceChildren(el("button", {
        type: "button", class: "item-toggle", "aria-pressed": String(order.items[index].done === true),
        onclick: () => toggleItem(current(order), index),
      }, ...li.childNodes));
    }
  }
  return el(
    "article",
    {
      class: `card tile ${ageCls}${isRush(order) ? " rush" : ""}`,
      dataset: { order: order.id, number: order.order_number, status: order.status, age },
      tabindex: "-1",
      "aria-labelledby": `t-${order.id}`,
    },
    el("div", { class: `tile-head ${STATE_CLASS[order.status] || "state-other"}` },
      el("span", { class: "pos", "aria-hidden": "true" }),
      el("span", { class: "num", id: `t-${order.id}` }, `#${order.order_number}`),
      el("span", { class: "state" }, ws.label(order.status)),
      ageBadge(order.created_at)),
    isRush(order) ? el("div", { class: "rush-flag" }, t("kitchen.rush")) : null,
    allergenBanner(order),
    items,
    stationsLine(order),
    el("div", { class: "people" },
      el("span", {}, t("kitchen.customer"), " ", el("b", {}, who(order.customer))),
      order.preparer ? el("span", {}, t("kitchen.preparer"), " ", el("b", {}, who(order.preparer))) : null),
    el("div", { class: "queued-note", hidden: true }),
    staff
      ? el("div", { class: "actions" },
          station || target
            ? el("button", { type: "button", class: "primary bump", dataset: { focus: "bump" }, onclick: () => bump(current(order)) },
                station ? t("kitchen.station_done", { station }) : `→ ${ws.label(target)}`)
            : null,
          station
            ? null
            : el("button", { type: "button", class: "danger cancel", dataset: { focus: "cancel" }, onclick: () => cancel(current(order)) },
                confirming ? t("kitchen.confirm_cancel") : t("kitchen.cancel")),
          confirming ? el("span", { class: "confirm-hint", role: "status" }, t("kitchen.press_again", { key: keyLabel(keys().cancel) })) : null)
      : null
  );
}

// The tile's "Queued…" / "Sending…" note and disabled buttons while an action of it is pending,
// written only when that changes (or the element is new).
const patched = new WeakMap(); // tile -> the pending state it shows
function pendingPatch(order) {
  const node = tiles.node(order.id);
  const pending = pendingFor(order);
  const text = !pending.length ? "" : live ? t("kitchen.sending") : t("kitchen.queued", { actions: pending.map(describe).join(", ") });
  if (patched.get(node) === text) return;
  patched.set(node, text);
  node.classList.toggle("queued", pending.length > 0);
  const note = node.querySelector(".queued-note");
  note.textContent = text;
  note.hidden = !text;
  for (const button of node.querySelectorAll(".actions button, .item-toggle")) button.disabled = pending.length > 0;
}

function describe(action) {
  if (action.kind === "bump") return `→ ${ws.label(action.status)}`;
  if (action.kind === "item" && action.group) return t("kitchen.station_bumped");
  if (action.kind === "item") return action.done ? t("kitchen.queued_item_done") : t("kitchen.queued_item_not_done");
  return action.kind === "cancel" ? t("kitchen.queued_cancel") : t("kitchen.queued_recall");
}

const tiles = new KeyedList(tilesBox, {
  key: (order) => order.id,
  stamp: tileStamp,
  render: tile,
  empty: () => el("div", { class: "empty" }, t("kitchen.no_tickets")),
});

const alldayBox = document.getElementById("allday");
const allday = new KeyedList(alldayBox, {
  key: (entry) => entry.name.toLowerCase(),
  stamp: (entry) => `${entry.name}|${entry.quantity}`,
  render: (entry) => el("li", { dataset: { item: entry.name } }, el("span", { class: "name" }, entry.name), " ", el("b", { class: "qty" }, `×${formatNumber(entry.quantity)}`)),
  empty: () => el("li", { class: "muted" }, t("kitchen.nothing_to_make")),
});

// -- drawing: a change takes two animation frames ---------------------------------------------------
// The first draws the tiles it touches (update: a changed tile in its old place, a new one
// hidden); the next places them (place: their heights, the masonry, the page, the all-day counts
// and the lines around). Each half is its own frame's work: together, a bump on a slow tablet
// would be one long task (building a tile, laying it out, moving the others and painting).
let frameQueued = false;
let wanted = false; // a change waits to be drawn
let toPlace = null; // the candidates drawn but not placed yet
let renderedAt = -1; // the frame (its rAF timestamp) that last drew
function draw() {
  if (!ws) return;
  wanted = true;
  nextFrame();
}
function nextFrame() {
  if (frameQueued) return;
  frameQueued = true;
  requestAnimationFrame((frame) => {
    frameQueued = false;
    renderedAt = frame;
    if (toPlace) place();
    else if (wanted) update();
    if (wanted || toPlace) nextFrame();
  });
}

// The ages tick once a second, in a frame of their own: every badge on the page changes at once
// (tickets made together age together), and in the frame of a change or a bump that work would
// add up to one long task. A frame that draws (now, or later in it: queued) puts the tick off to
// the next, a few frames at most.
let tick = () => {};
function tickFrame(tries = 0) {
  requestAnimationFrame((frame) => {
    if ((renderedAt === frame || frameQueued) && tries < 8) tickFrame(tries + 1);
    else tick();
  });
}

// A bump, cancel or item mark shows at once, before the server answers: the ticket is drawn in
// the status it is moving to (or leaves the screen) with its items as marked, "Sending…" or
// "Queued" until the answer; a refusal puts it back as it was, with the reason. (A cook pressing
// a key must see it move.)
function projected(order) {
  const pending = pendingFor(order);
  if (!pending.length) return order;
  let out = order;
  const moves = pending.filter((a) => a.kind === "bump" || a.kind === "cancel");
  if (moves.length) out = { ...out, status: moves[moves.length - 1].status };
  const marks = pending.filter((a) => a.kind === "item" && out.items[a.index]);
  if (marks.length) {
    const items = [...out.items];
    for (const a of marks) items[a.index] = { ...items[a.index], done: a.done };
    out = { ...out, items, marks: marks.map((a) => `${a.index}${a.done ? "+" : "-"}`).join(",") };
  }
  return out;
}

/** The whole drawing at once (a page turned by hand). */
function render() {
  update();
  place();
}

function update() {
  wanted = false;
  checkSettings();
  list = sortTickets([...orders.values()].map(projected).filter((o) => kitchenStatuses.has(o.status) && toMake(o)));
  if (pageStart >= list.length) {
    pageStarts.length = 0;
    pageStart = 0;
  }
  if (!geometry) measureBox();
  const candidates = list.slice(pageStart, pageStart + geometry.capacity);
  const before = candidates.map((order) => tiles.node(order.id));
  tiles.update(candidates);
  candidates.forEach((order, i) => {
    const node = tiles.node(order.id);
    pendingPatch(order);
    const old = before[i];
    if (node === old) return;
    if (!old) {
      node.classList.add("overflow"); // shown once placed
      return;
    }
    // a tile drawn anew stands where the old one stood until it is placed
    node.style.transform = old.style.transform;
    placed.set(node, placed.get(old));
    node.classList.toggle("overflow", old.classList.contains("overflow"));
    setText(node.firstChild.firstChild, old.firstChild.firstChild.textContent);
    if (old.classList.contains("selected")) {
      node.classList.add("selected");
      node.setAttribute("aria-current", "true");
    }
  });
  toPlace = candidates;
}

function place() {
  const candidates = toPlace;
  toPlace = null;
  if (!geometry) measureBox(); // the box changed size since (the ResizeObserver)
  shown = fit(candidates);
  allday.update(allDayCounts(list, onThisScreen));
  const oldest = Math.min(...list.map(createdAt));
  setText(statsBox, list.length ? t("kitchen.open_stats", { count: list.length, age: duration((now() - oldest) / 1000) }) : t("kitchen.open_none"));
  showPages();
  select(selectedId, selectedIndex);
  showRecalls();
}


// The geometry of the tiles box, read again only when the window or the text size changes (a
// style read after DOM writes would force the browser to recompute styles on every render).
let geometry = null;
function measureBox() {
  const style = getComputedStyle(tilesBox);
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const pad = parseFloat(style.paddingLeft) || 0;
  const gap = parseFloat(style.columnGap) || 0;
  const width = tilesBox.clientWidth - 2 * pad;
  const height = tilesBox.clientHeight;
  const columns = Math.max(1, Math.floor((width + gap) / (18 * rem + gap)));
  const colWidth = (width - gap * (columns - 1)) / columns;
  tilesBox.style.setProperty("--col-w", `${colWidth}px`);
  heightOf = new WeakMap();
  // A first guess of how many tiles a page holds (rows of the smallest tile), corrected by
  // every render's layout (fit): the DOM holds the page and about one row more.
  const guess = columns * (Math.ceil(height / (8 * rem)) + 1);
  geometry = { rem, pad, gap, width, height, columns, colWidth, capacity: guess };
}
// The box changes size with the window, the text size, or a line above it appearing (a message):
// measure again then.
let boxSize = "";
new ResizeObserver(([entry]) => {
  const size = `${entry.contentRect.width}x${entry.contentRect.height}`;
  if (size === boxSize) return;
  boxSize = size;
  geometry = null;
  draw();
}).observe(tilesBox);

// The page is a masonry (masonry.js) of the candidates; the page ends before the first tile
// that does not fit the box (those after it are hidden, kept in the DOM for the next render). A tile's height is read once, when it is new (a changed ticket is a new
// element, and the column width only changes with the window or the text size), so a render
// that adds no tile reads no layout at all; positions are transforms, written when they change.
const SPARE_PER_FRAME = 3; // new tiles a render may add beyond the page (see the end of fit)
const stacks = new Map(); // order id -> [column, index in column]: for the up and down keys
let columnTiles = []; // per column, the order ids from top to bottom
const placed = new WeakMap(); // tile -> the transform it has
let heightOf = new WeakMap(); // tile -> its height at the current column width
function fit(candidates) {
  const { pad, gap, height, colWidth } = geometry;
  columns = geometry.columns;
  const nodes = candidates.map((order) => tiles.node(order.id));
  const heights = nodes.map((node) => {
    let h = heightOf.get(node);
    if (h === undefined) {
      h = node.offsetHeight; // the first read forces one layout; the others reuse it
      heightOf.set(node, h);
    }
    return h;
  });
  // styles and layout are up to date now (if a tile was new): a focus hand-over is cheap here,
  // and would bring them up to date again after the writes below
  tiles.settleFocus();
  // A ticket taller than the whole box (a phone, a huge order) grows the box: never cut a ticket.
  const tallest = heights.length ? heights[0] + 2 * pad : 0;
  const minHeight = tallest > height ? `${tallest}px` : "";
  if (tilesBox.style.minHeight !== minHeight) tilesBox.style.minHeight = minHeight;
  const { count, places } = masonry(heights, { columns, height: Math.max(height, tallest), pad, gap });
  columnTiles = Array.from({ length: columns }, () => []);
  stacks.clear();
  const revealed = [];
  nodes.forEach((node, i) => {
    const hidden = i >= count;
    if (node.classList.contains("overflow") !== hidden) {
      node.classList.toggle("overflow", hidden);
      if (!hidden) revealed.push(node); // its age was not ticked while hidden
    }
    const [c, top] = hidden ? [0, height] : places[i];
    const transform = `translate(${pad + c * (colWidth + gap)}px, ${top}px)`;
    if (placed.get(node) !== transform) {
      node.style.transform = transform;
      placed.set(node, transform);
    }
    // the number key that bumps it (1-9, staff only), written only when it changes
    setText(node.firstChild.firstChild, staff && !hidden && i < 9 ? String(i + 1) : "");
    if (hidden) return;
    stacks.set(candidates[i].id, [c, columnTiles[c].length]);
    columnTiles[c].push(candidates[i].id);
  });
  // Next time, ask for this page and two rows more (more if all fitted and more are waiting),
  // a few tiles more a frame: new tiles are the dearest part of a frame (built, styled, laid
  // out), so a page that grows (the first render, a page turned, a burst of new tickets) grows
  // over a few frames instead of in one long task.
  const want = count < candidates.length ? count + 2 * columns : candidates.length + 2 * columns;
  geometry.capacity = Math.min(want, candidates.length + SPARE_PER_FRAME);
  if (want > geometry.capacity && pageStart + geometry.capacity < list.length) draw();
  if (revealed.length) queueMicrotask(() => tick(revealed));
  return candidates.slice(0, count);
}

const pager = Object.fromEntries(["before", "more", "page-up", "page-down", "page-info"].map((id) => [id, document.getElementById(id)]));
function showPages() {
  const more = list.length - pageStart - shown.length;
  setText(pager.before, pageStart ? t("kitchen.earlier_count", { count: pageStart }) : t("kitchen.earlier"));
  setText(pager.more, more > 0 ? t("kitchen.more", { count: more }) : t("kitchen.no_more"));
  if (pager["page-up"].disabled !== (pageStart === 0)) pager["page-up"].disabled = pageStart === 0;
  if (pager["page-down"].disabled !== more <= 0) pager["page-down"].disabled = more <= 0;
  setText(pager["page-info"],
    list.length ? t("kitchen.page", { page: pageStarts.length + 1, first: pageStart + 1, last: pageStart + shown.length, total: list.length }) : "");
}

function pageDown() {
  if (pageStart + shown.length >= list.length) return false;
  pageStarts.push(pageStart);
  pageStart += shown.length;
  selectedId = null;
  selectedIndex = 0;
  render();
  return true;
}

function pageUp() {
  if (!pageStart) return false;
  pageStart = Math.min(pageStarts.pop() ?? 0, pageStart);
  selectedId = null;
  selectedIndex = 0;
  render();
  return true;
}

// Auto-advance: every autoPageSeconds the next page (after the last, the first), paused for a
// while after any key or tap so it never pulls a page away from someone using it.
let lastUse = 0;
function autoPage() {
  const every = screen.get("autoPageSeconds") * 1000;
  if (!every || Date.now() - lastUse < Math.max(every, 30_000)) return;
  if (!pageDown() && pageStart) {
    pageStarts.length = 0;
    pageStart = 0;
    render();
  }
}

// -- selection and keys -------------------------------------------------------------------------------
function select(id, fallbackIndex = 0) {
  if (!staff) return;
  let index = shown.findIndex((o) => o.id === id);
  if (index < 0) index = Math.min(Math.max(0, fallbackIndex), shown.length - 1);
  const order = shown[index];
  const before = selectedId;
  selectedId = order ? order.id : null;
  selectedIndex = Math.max(0, index);
  if (before && before !== selectedId) {
    tiles.node(before)?.classList.remove("selected");
    tiles.node(before)?.removeAttribute("aria-current");
  }
  const node = selectedId && tiles.node(selectedId);
  if (node) {
    node.classList.add("selected");
    node.setAttribute("aria-current", "true");
  }
}

function move(delta) {
  if (!shown.length) return;
  const index = shown.findIndex((o) => o.id === selectedId);
  const next = Math.min(Math.max(0, index + delta), shown.length - 1);
  if (delta > 0 && index + delta >= shown.length && pageDown()) return;
  if (delta < 0 && index + delta < 0 && pageUp()) return;
  select(shown[next].id, next);
  tiles.node(selectedId)?.scrollIntoView({ block: "nearest" });
}

// Up and down stay in the selected tile's column; past its top or bottom, the page turns.
function vertical(delta) {
  const at = stacks.get(selectedId);
  if (!at) return move(delta);
  const [c, index] = at;
  const id = columnTiles[c][index + delta];
  if (id) {
    select(id, selectedIndex);
    return;
  }
  if (delta > 0) pageDown();
  else pageUp();
}

// The screen's key map; a station's screen has no cancel (see cancel()), so neither its key nor
// its line in the `?` list.
const keys = () => {
  const map = keyMap(screen.get("keys"));
  if (station) delete map.cancel;
  return map;
};
const dialog = keysDialog(keys, (map) => screen.set("keys", map), [
  sizeControl(screen, () => {
    geometry = null;
    draw();
  }),
  secondsControl(screen, "lateRepeatSeconds", t("kitchen.late_beep"), [0, 30, 60, 120, 300]),
  secondsControl(screen, "autoPageSeconds", t("kitchen.next_page_every"), [0, 10, 20, 30, 60]),
  // a kitchen TV has no address bar to type ?lang= into: its language is a screen setting too
  el("label", { class: "setting" }, t("common.language"), " ", languagePicker()),
]);
document.querySelector("main").append(dialog);
document.getElementById("keys-button").addEventListener("click", () => dialog.toggle());

const selected = () => list.find((o) => o.id === selectedId);
const HANDLERS = {
  left: () => move(-1),
  right: () => move(1),
  up: () => vertical(-1),
  down: () => vertical(1),
  bump: () => selected() && bump(selected()),
  recall: () => recallLast(),
  cancel: () => selected() && cancel(selected()),
  done: () => selected() && markNextItem(selected()),
  pageUp: () => pageUp(),
  pageDown: () => pageDown(),
  help: () => dialog.toggle(),
};
for (const [action] of ACTIONS) {
  const n = /^pos(\d)$/.exec(action);
  if (n) HANDLERS[action] = () => shown[Number(n[1]) - 1] && bump(shown[Number(n[1]) - 1]);
}
const STAFF_ONLY = new Set(["left", "right", "up", "down", "bump", "recall", "cancel", "done", ...ACTIONS.filter(([a]) => a.startsWith("pos")).map(([a]) => a)]);

document.addEventListener("keydown", (event) => {
  lastUse = Date.now();
  const action = actionFor(keys(), event);
  if (!action || (STAFF_ONLY.has(action) && !staff)) return;
  event.preventDefault();
  HANDLERS[action]();
});
document.addEventListener("pointerdown", () => (lastUse = Date.now()));
document.getElementById("page-up").addEventListener("click", pageUp);
document.getElementById("page-down").addEventListener("click", pageDown);
tilesBox.addEventListener("click", (event) => {
  const node = event.target.closest(".tile");
  if (node) select(node.dataset.order, selectedIndex);
});

// -- recall buttons: keyed too, so a focused one keeps its focus as the seconds count down -----
const recallsBox = document.getElementById("recalls");
const recallButtons = new KeyedList(recallsBox, {
  key: ([id]) => id,
  stamp: ([id, entry]) => `${entry.version}|${entry.group || ""}`,
  render: ([id, entry]) =>
    el("button", { type: "button", class: "recall", dataset: { order: id, focus: "recall" }, onclick: () => recall(id) },
      `${t("kitchen.recall", { number: String(entry.number) })} `, el("span", { class: "left" })),
});
function showRecalls() {
  const at = Date.now();
  for (const [id, entry] of recent) if (entry.until <= at) recent.delete(id);
  recallButtons.update([...recent]);
  for (const [id, entry] of recent) {
    setText(recallButtons.node(id).querySelector(".left"), t("kitchen.seconds_left", { seconds: Math.ceil((entry.until - at) / 1000) }));
  }
}

// Speed of service on screen, like a KDS's "average ticket time": the median time from order to
// ready over the last hours, from the stats report (best effort).
async function showTicketTime() {
  try {
    const from = new Date(Date.now() - 3 * 3600_000).toISOString();
    const s = await api(`/stats?from=${encodeURIComponent(from)}`);
    const median = s.created_to_ready_seconds && s.created_to_ready_seconds.median;
    document.getElementById("ticket-time").textContent =
      median === null || median === undefined ? "" : t("kitchen.ticket_time", { time: duration(median) });
  } catch {
    // no stats API or no permission: the screen works without it
  }
}

async function start() {
  ws = await loadWorkspace();
  const names = ws.workflow.statuses.map((s) => s.name);
  let statuses = KITCHEN.filter((s) => names.includes(s));
  if (!statuses.length) statuses = ws.workflow.statuses.filter((s) => !s.terminal).map((s) => s.name);
  kitchenStatuses = new Set(statuses);
  const seen = new Set();
  let first = true;
  const onUpdate = (current, events) => {
    orders = current;
    const changed = events.length ? events.map((e) => e.order) : current.values();
    for (const order of changed) versions.set(order.id, Math.max(order.version, versions.get(order.id) || 0));
    const fresh = [...current.keys()].filter((id) => !seen.has(id));
    fresh.forEach((id) => seen.add(id));
    // a station's screen chimes for its own new tickets only
    if (!first && events.length && fresh.some((id) => toMake(current.get(id)))) play("new");
    first = false;
    draw();
  };
  tick = tickAges(ws.settings, tilesBox, { every: 0 });
  onSettings(draw);
  setInterval(() => {
    tickFrame();
    showRecalls();
    checkLate();
    autoPage();
    if ([...armed.values()].some((until) => until <= Date.now())) {
      for (const [id, until] of armed) if (until <= Date.now()) armed.delete(id);
      draw();
    }
  }, 1000);
  showPending();
  showTicketTime();
  setInterval(showTicketTime, 60_000);
  watch({
    statuses,
    onUpdate,
    onState: (state) => {
      const was = live;
      live = state === "live";
      if (live !== was) draw(); // "Sending…" / "Queued" notes
      if (live) outbox.drain();
    },
  });
}

start().catch((exc) => showError(t("kitchen.cannot_start", { message: exc.message })));
