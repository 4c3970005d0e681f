// Kitchen display: waiting and preparing tickets as large tiles, oldest first; a sound on a new
// ticket and on a late one (mutable, remembered); with a write key: bump, recall and cancel.
import { ageBadge, api, clear, duration, el, header, itemList, loadWorkspace, now, requireSession, showError, tickAges, who } from "./common.js";
import { nextStatus } from "./flow.js";
import { watch } from "./watch.js";

const session = requireSession();
header({ live: true });

const KITCHEN = ["waiting_for_preparation", "preparing", "finding_new_colleague"];
const tiles = document.getElementById("tiles");
const recalls = document.getElementById("recalls");
const stats = document.getElementById("kitchen-stats");
const staff = Boolean(session.writeKey);

// -- sound -----------------------------------------------------------------------------------------
const MUTE = "orderlog.muted";
const soundButton = document.getElementById("sound");
let audio = null;
const muted = () => localStorage.getItem(MUTE) === "1";
function showSound() {
  soundButton.textContent = muted() ? "Sound: off" : "Sound: on";
  soundButton.setAttribute("aria-pressed", String(!muted()));
  // Browsers keep audio off until the page gets a tap or a key (a kiosk can start Chromium
  // with --autoplay-policy=no-user-gesture-required instead).
  document.getElementById("sound-hint").hidden = muted() || (audio !== null && audio.state === "running");
}
soundButton.addEventListener("click", () => {
  localStorage.setItem(MUTE, muted() ? "0" : "1");
  showSound();
  unlockAudio();
});
// Browsers start an AudioContext suspended until the page gets a gesture.
function unlockAudio() {
  if (!audio) {
    audio = new AudioContext();
    audio.addEventListener("statechange", showSound);
  }
  if (audio.state === "suspended") audio.resume().catch(() => {});
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

function play(notes) {
  if (muted()) return;
  unlockAudio();
  let t = audio.currentTime;
  for (const [freq, length] of notes) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.4, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + length);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + length);
    t += length + 0.05;
  }
  document.body.dataset.lastSound = notes === NEW_TICKET ? "new" : "late";
}
const NEW_TICKET = [[660, 0.15], [880, 0.25]];
const LATE_TICKET = [[330, 0.3], [330, 0.3], [330, 0.3]];
showSound();

// -- staff actions -----------------------------------------------------------------------------------
let ws = null;
const recent = new Map(); // order id -> {number, until}: bumps this screen may recall

// Tiles are redrawn on every change in the kitchen, so what a tile's buttons are doing lives
// here, by order id, not in the buttons: an action in flight keeps them disabled (no double
// bump), and a first tap on Cancel waits a few seconds for its confirmation.
const busy = new Set();
const armed = new Map(); // order id -> until when Cancel means "confirm"
let draw = () => {};

async function act(order, path, body) {
  busy.add(order.id);
  draw();
  try {
    return await api(`/orders/${order.id}${path}`, { method: "POST", body, write: true });
  } catch (exc) {
    showError(`#${order.order_number}: ${exc.message}`);
    return null;
  } finally {
    busy.delete(order.id);
    draw();
  }
}

// Who bumps: a cook may name themselves once on this screen (kept in localStorage), so the
// order records its preparer; without a name the change is recorded without an actor.
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

async function bump(order, target) {
  const body = { status: target, version: order.version, actor: cook() };
  const result = await act(order, "/status", body);
  if (result) recallable(result.order);
}

/** The order just changed from this screen: offer its recall while the window lasts. */
function recallable(order) {
  const until = Date.now() + ws.settings.recall_window_seconds * 1000;
  recent.set(order.id, { number: order.order_number, version: order.version, until });
  showRecalls();
}

async function recall(id) {
  const entry = recent.get(id);
  const body = { actor: cook(), version: entry.version }; // undo exactly this change, once
  const result = await act({ id, order_number: entry.number }, "/recall", body);
  if (result) {
    recent.delete(id);
    showRecalls();
  }
}

function showRecalls() {
  const t = Date.now();
  for (const [id, entry] of recent) if (entry.until <= t) recent.delete(id);
  clear(
    recalls,
    [...recent].map(([id, entry]) =>
      el("button", { type: "button", class: "recall", dataset: { order: id }, disabled: busy.has(id), onclick: () => recall(id) },
        `Recall #${entry.number} (${Math.ceil((entry.until - t) / 1000)} s)`)
    )
  );
}

function cancelButton(order) {
  const confirming = (armed.get(order.id) || 0) > Date.now();
  const click = () => {
    if ((armed.get(order.id) || 0) <= Date.now()) {
      armed.set(order.id, Date.now() + 4000);
      setTimeout(draw, 4100);
      draw();
      return;
    }
    armed.delete(order.id);
    const body = { status: "cancelled", reason: "cancelled at the kitchen display", actor: cook() };
    act(order, "/status", body).then((result) => result && recallable(result.order));
  };
  return el(
    "button",
    { type: "button", class: "danger cancel", disabled: busy.has(order.id), onclick: click },
    confirming ? "Confirm cancel" : "Cancel"
  );
}

// -- tiles -------------------------------------------------------------------------------------------
function tile(order) {
  const target = nextStatus(ws.workflow, order.status);
  return el(
    "article",
    { class: "card tile", dataset: { order: order.id, number: order.order_number, status: order.status } },
    el("div", { class: "head" }, el("span", { class: "num" }, `#${order.order_number}`), ageBadge(order.created_at)),
    el("div", { class: "status" }, ws.label(order.status)),
    itemList(order),
    el(
      "div",
      { class: "people" },
      el("span", {}, "For ", el("b", {}, who(order.customer))),
      order.preparer ? el("span", {}, "Preparer ", el("b", {}, who(order.preparer))) : null
    ),
    staff
      ? el(
          "div",
          { class: "actions" },
          target
            ? el("button", { type: "button", class: "primary bump", disabled: busy.has(order.id), onclick: () => bump(order, target) },
                `→ ${ws.label(target)}`)
            : null,
          cancelButton(order)
        )
      : null
  );
}

// Speed of service on screen, like a KDS's "average ticket time": the median time from order to
// ready over the last hours, from the stats report (best effort).
async function showTicketTime() {
  try {
    const from = new Date(Date.now() - 3 * 3600_000).toISOString();
    const s = await api(`/stats?from=${encodeURIComponent(from)}`);
    const median = s.created_to_ready_seconds && s.created_to_ready_seconds.median;
    document.getElementById("ticket-time").textContent =
      median === null || median === undefined ? "" : `median ticket time (3 h): ${duration(median)}`;
  } catch {
    // no stats API or no permission: the screen works without it
  }
}

async function start() {
  ws = await loadWorkspace();
  const names = ws.workflow.statuses.map((s) => s.name);
  let statuses = KITCHEN.filter((s) => names.includes(s));
  if (!statuses.length) statuses = ws.workflow.statuses.filter((s) => !s.terminal).map((s) => s.name);
  const seen = new Set();
  const late = new Set();
  let first = true;
  let current = new Map();
  let queued = false;
  draw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const list = [...current.values()].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      clear(tiles, list.length ? list.map(tile) : el("div", { class: "empty" }, "No open tickets"));
      stats.textContent = list.length
        ? `${list.length} open · oldest ${duration((now() - Date.parse(list[0].created_at)) / 1000)}`
        : "0 open";
      showRecalls();
      tick();
    });
  };
  const render = (orders, events) => {
    const fresh = [...orders.keys()].filter((id) => !seen.has(id));
    fresh.forEach((id) => seen.add(id));
    if (fresh.length && !first && events.length) play(NEW_TICKET);
    first = false;
    current = orders;
    draw();
  };
  const tick = tickAges(ws.settings, (id) => {
    if (late.has(id)) return;
    late.add(id);
    play(LATE_TICKET);
  });
  setInterval(showRecalls, 1000);
  showTicketTime();
  setInterval(showTicketTime, 60_000);
  watch({ statuses, onUpdate: render });
}

start().catch((exc) => showError(`Cannot start the kitchen display: ${exc.message}`));
