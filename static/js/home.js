// Sign-in and owner tools.
//
// Sign-in: a workspace id and a read key (plus an optional write key) are checked with the server
// (GET /v1/me) before anything is kept; a wrong key gets a message saying what is wrong and
// nothing is stored. A kiosk link's #key=...&workspace=... fragment still signs in.
//
// Owner tools: an admin key, checked the same way and kept in this page's memory only, unlocks
// pairing a screen (the code it shows), the list of paired screens (revoke), the webhooks (with
// their health: add, disable, test, remove) and the workspace settings, the kitchen's allergen
// words and stations included.
import { clear, el, header, loadWorkspace, saveSession, session, signOut, takeFragment } from "./common.js";
import { formatDateTime, languagePicker, statusLabel, t, translatePage } from "./i18n.js";

takeFragment();
header();
translatePage();
document.getElementById("language").append(languagePicker());

const params = new URLSearchParams(location.search);
const next = params.get("next");
const form = document.getElementById("signin");

function status(id, text, ok = false) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.classList.toggle("bad", Boolean(text) && !ok);
  node.classList.toggle("good", Boolean(text) && ok);
}

/** What a key is (GET /v1/me), or a message saying why it cannot be used. */
async function whatIs(key) {
  let resp;
  try {
    resp = await fetch("/v1/me", { headers: { Authorization: `Bearer ${key}` }, cache: "no-store" });
  } catch {
    return { problem: t("home.unreachable") };
  }
  if (resp.status === 401) return { problem: t("home.key_invalid") };
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    return { problem: body.message || `${resp.status}` };
  }
  return { me: await resp.json() };
}

// -- sign-in ---------------------------------------------------------------------------------------
async function showSignedIn() {
  const s = session();
  if (!s.workspace || !s.readKey) return;
  form.workspace.value = s.workspace;
  const who = document.getElementById("who");
  document.getElementById("signed-in").hidden = false;
  try {
    const ws = await loadWorkspace();
    who.textContent = t(s.writeKey ? "home.signed_in_write" : "home.signed_in_read", { name: ws.name, id: ws.id });
    if (next && next.startsWith("/") && !next.startsWith("//")) location.replace(next);
  } catch (exc) {
    who.textContent = t("home.cannot_open", { message: exc.message });
  }
}

/** Check a key for one use: null when it fits, else the message to show. */
function mismatch(me, workspace, allowed, role) {
  if (me.workspace_id !== workspace) return t("home.key_other_workspace", { role, id: me.workspace_id });
  if (!allowed.includes(me.scope)) return t("home.key_wrong_scope", { role, scope: me.scope });
  return null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const workspace = form.workspace.value.trim();
  const readKey = form.readKey.value.trim();
  const writeKey = form.writeKey.value.trim();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  status("signin-status", t("home.checking"), true);
  try {
    const read = await whatIs(readKey);
    let problem = read.problem || mismatch(read.me, workspace, ["read", "admin"], t("home.read_key_word"));
    if (!problem && writeKey) {
      const write = await whatIs(writeKey);
      problem = write.problem
        ? `${t("home.write_key_word")}: ${write.problem}`
        : mismatch(write.me, workspace, ["write", "admin"], t("home.write_key_word"));
    }
    if (problem) {
      status("signin-status", problem);
      return; // nothing is kept
    }
    saveSession({ workspace, readKey, writeKey });
    form.readKey.value = "";
    form.writeKey.value = "";
    status("signin-status", t("home.signed_in"), true);
    await showSignedIn();
  } finally {
    button.disabled = false;
  }
});

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.reload();
});

// -- owner tools -----------------------------------------------------------------------------------
const owner = { key: "", workspace: "" };

async function ownerApi(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${owner.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(`/v1/workspaces/${encodeURIComponent(owner.workspace)}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const error = new Error(data.message || `${resp.status} ${resp.statusText}`);
    error.status = resp.status;
    error.field = data.field;
    throw error;
  }
  return data;
}

const unlock = document.getElementById("unlock");
unlock.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = unlock.adminKey.value.trim();
  unlock.adminKey.value = "";
  const { me, problem } = await whatIs(key);
  if (problem) return status("unlock-status", problem);
  if (me.scope !== "admin") return status("unlock-status", t("home.need_admin", { scope: me.scope }));
  owner.key = key;
  owner.workspace = me.workspace_id;
  try {
    const ws = await ownerApi("");
    document.getElementById("owner-who").textContent = t("home.owner_for", { name: ws.name, id: ws.id });
    fillSettings(ws.settings);
    document.getElementById("owner-tools").hidden = false;
    unlock.hidden = true;
    status("unlock-status", "");
    // focus moves as the tools appear, never after the list's round trip (that would pull the
    // cursor out of a field the owner has started typing in)
    document.getElementById("pair-form").code.focus();
    await listScreens();
    await offerWebhooks();
  } catch (exc) {
    status("unlock-status", exc.message);
  }
});

// -- pairing ---------------------------------------------------------------------------------------
const pairForm = document.getElementById("pair-form");
if (params.get("pair")) {
  // The QR code a screen shows leads here with its code: the owner only unlocks and confirms.
  pairForm.code.value = params.get("pair");
  document.getElementById("owner").scrollIntoView();
  unlock.adminKey.focus();
}

function roleChanged() {
  const kitchen = pairForm.role.value === "kitchen";
  for (const node of pairForm.querySelectorAll(".kitchen-only")) node.hidden = !kitchen;
}
pairForm.role.addEventListener("change", roleChanged);
roleChanged();

pairForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const kitchen = pairForm.role.value === "kitchen";
  const body = {
    code: pairForm.code.value,
    role: pairForm.role.value,
    station: kitchen ? pairForm.station.value.trim() || null : null,
    can_bump: kitchen && pairForm.can_bump.checked,
    label: pairForm.label.value.trim() || null,
  };
  try {
    const { screen } = await ownerApi("/screens", { method: "POST", body });
    status("pair-status", t("home.paired", { label: screen.label }), true);
    pairForm.code.value = "";
    pairForm.label.value = "";
    await listScreens();
  } catch (exc) {
    status("pair-status", exc.status === 404 ? t("home.pair_unknown") : exc.message);
  }
});

function roleText(screen) {
  const role = t(`role.${screen.role}`);
  return screen.station ? `${role} · ${screen.station}` : role;
}

async function listScreens() {
  const { screens } = await ownerApi("/screens");
  const tbody = document.querySelector("#screens tbody");
  clear(
    tbody,
    screens.map((screen) =>
      el(
        "tr",
        { dataset: { screen: screen.screen_id } },
        el("td", {}, screen.label),
        el("td", {}, roleText(screen)),
        el("td", {}, screen.can_bump ? t("common.yes") : t("common.no")),
        el("td", {}, screen.last_seen ? formatDateTime(screen.last_seen) : t(screen.paired ? "home.never" : "home.waiting_screen")),
        el(
          "td",
          {},
          el("button", { type: "button", class: "danger revoke", onclick: () => revoke(screen) }, t("home.revoke"))
        )
      )
    )
  );
  document.getElementById("screens-empty").hidden = screens.length > 0;
}

async function revoke(screen) {
  try {
    await ownerApi(`/screens/${encodeURIComponent(screen.screen_id)}`, { method: "DELETE" });
    status("pair-status", t("home.revoked", { label: screen.label }), true);
  } catch (exc) {
    status("pair-status", exc.message);
  }
  await listScreens();
}

// -- webhooks --------------------------------------------------------------------------------------
const hookForm = document.getElementById("webhook-add");

const eventLabel = (name) => t(`hooks.event.${name}`);

async function offerWebhooks() {
  const workflow = await ownerApi("/workflow");
  clear(
    document.getElementById("webhook-statuses"),
    el("legend", {}, t("hooks.statuses")),
    workflow.statuses.map((s) => el("label", {}, el("input", { type: "checkbox", name: "statuses", value: s.name }), statusLabel(s)))
  );
  // The events the server offers; the ones a webhook gets by default are ticked (an attribute,
  // so the form's reset ticks them again).
  const { events, default_events: defaults } = await listWebhooks();
  clear(
    document.getElementById("webhook-events"),
    el("legend", {}, t("hooks.events")),
    events.map((name) =>
      el("label", {}, el("input", { type: "checkbox", name: "events", value: name, checked: defaults.includes(name) }), " ", eventLabel(name))
    )
  );
}

function healthCell(w) {
  const h = w.health;
  const lines = [];
  if (w.disabled_reason) lines.push(w.disabled_reason);
  else if (h.state === "failing" && h.last_error) lines.push(t("hooks.last_error", { error: h.last_error }));
  if (h.undelivered) lines.push(t("hooks.waiting", { count: h.undelivered, seconds: Math.round(h.lag_seconds) }));
  if (h.dead_letters) lines.push(t("hooks.dead", { count: h.dead_letters }));
  if (h.last_success_at) lines.push(t("hooks.last_ok", { time: formatDateTime(h.last_success_at) }));
  return el("td", {}, el("span", { class: `health ${h.state}` }, t(`hooks.state_${h.state}`)), lines.map((line) => el("div", { class: "muted" }, line)));
}

function webhookRow(w) {
  const name = w.label || w.url;
  const act = (text, run, cls) => el("button", { type: "button", class: cls, onclick: () => hookAction(run) }, text);
  return el(
    "tr",
    { dataset: { webhook: w.id } },
    el("td", {}, name, w.label ? el("div", { class: "muted" }, w.url) : null),
    el("td", {}, t(w.format === "discord" ? "hooks.discord" : "hooks.json")),
    el("td", {}, w.events.map(eventLabel).join(", "), w.statuses.length ? el("div", { class: "muted" }, t("hooks.to", { statuses: w.statuses.join(", ") })) : null),
    healthCell(w),
    el(
      "td",
      { class: "row-actions" },
      act(t(w.enabled ? "hooks.disable" : "hooks.enable"), () => ownerApi(`/webhooks/${w.id}`, { method: "PATCH", body: { enabled: !w.enabled } })),
      act(t("hooks.test"), async () => {
        const r = await ownerApi(`/webhooks/${w.id}/test`, { method: "POST" });
        const ok = r.outcome === "delivered";
        status("webhooks-status", ok ? t("hooks.tested", { status: r.status_code, ms: r.latency_ms }) : t("hooks.test_failed", { error: r.error }), ok);
      }),
      act(t("hooks.remove"), async () => {
        await ownerApi(`/webhooks/${w.id}`, { method: "DELETE" });
        status("webhooks-status", t("hooks.removed", { name }), true);
      }, "danger")
    )
  );
}

async function listWebhooks() {
  const listing = await ownerApi("/webhooks");
  clear(document.querySelector("#webhooks-table tbody"), listing.webhooks.map(webhookRow));
  document.getElementById("webhooks-empty").hidden = listing.webhooks.length > 0;
  return listing;
}

async function hookAction(run) {
  try {
    await run();
  } catch (exc) {
    status("webhooks-status", exc.message);
  }
  await listWebhooks();
}

hookForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const ticked = (name) => [...hookForm.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  const body = { url: hookForm.url.value.trim(), format: hookForm.format.value, events: ticked("events"), label: hookForm.label.value.trim() };
  if (ticked("statuses").length) body.statuses = ticked("statuses");
  await hookAction(async () => {
    const made = await ownerApi("/webhooks", { method: "POST", body });
    const secret = document.getElementById("webhook-secret");
    secret.hidden = !made.secret;
    secret.textContent = made.secret ? t("hooks.secret", { name: made.label || made.url, secret: made.secret }) : "";
    status("webhooks-status", t("hooks.added"), true);
    hookForm.reset();
  });
});

// -- settings --------------------------------------------------------------------------------------
const settingsForm = document.getElementById("settings");
const SETTINGS = [
  "age_warn_seconds",
  "age_late_seconds",
  "pickup_linger_seconds",
  "recall_window_seconds",
  "abuse_burst_count",
  "abuse_burst_seconds",
  "abuse_repeat_count",
  "abuse_repeat_seconds",
  "abuse_fast_seconds",
];

// Settings that are one of a few named values (a <select>), sent as they are.
const CHOICES = ["pickup_names"];

function fillSettings(settings) {
  for (const name of [...SETTINGS, ...CHOICES]) settingsForm[name].value = settings[name];
  settingsForm.allergen_words.value = settings.allergen_words.join(", ");
  fillStations(settings.stations);
}

/** The entries of a text field separated by `separator`, trimmed, without empty ones. */
const entries = (text, separator) => text.split(separator).map((s) => s.trim()).filter(Boolean);

// The stations setting ({"default": station, "items": {station: [name or pattern]}}) as rows: a
// station's name and its items and patterns, comma separated; then the default station.
const stationRows = document.getElementById("station-rows");

function stationRow(name = "", items = []) {
  const input = (cls, value, max) =>
    el("input", { class: cls, value, maxlength: max, autocomplete: "off", spellcheck: "false", "aria-describedby": "stations-error" });
  const row = el(
    "tr",
    { class: "station-row" },
    el("td", {}, input("station-name", name, 32)),
    el("td", {}, input("station-items", items.join(", "))),
    el("td", {}, el("button", { type: "button", class: "station-remove", onclick: () => removeStation(row) }, t("settings.station_remove")))
  );
  return row;
}

/** Each row's fields and button are named by its position ("Station 2: items"). */
function nameRows() {
  [...stationRows.rows].forEach((row, i) => {
    const n = i + 1;
    row.querySelector(".station-name").setAttribute("aria-label", t("settings.station_row_name", { n }));
    row.querySelector(".station-items").setAttribute("aria-label", t("settings.station_row_items", { n }));
    row.querySelector(".station-remove").setAttribute("aria-label", t("settings.station_remove_n", { n }));
  });
}

function fillStations(stations) {
  const rows = Object.entries(stations.items).map(([name, items]) => stationRow(name, items));
  clear(stationRows, rows.length ? rows : stationRow());
  settingsForm.stations_default.value = stations.default;
  nameRows();
}

function removeStation(row) {
  const next = row.nextElementSibling || row.previousElementSibling;
  row.remove();
  if (!stationRows.rows.length) stationRows.append(stationRow());
  nameRows();
  (next || stationRows.rows[0]).querySelector(".station-name").focus();
}

document.getElementById("station-add").addEventListener("click", () => {
  const row = stationRow();
  stationRows.append(row);
  nameRows();
  row.querySelector(".station-name").focus();
});

/** The stations setting the rows say, or [field, message] when a row cannot be sent (two rows
 * of one station would be one JSON key: the second would silently win). Empty rows are left
 * out; a blank default leaves the server's default station. */
function stationsValue() {
  const items = {};
  const seen = new Set();
  for (const row of stationRows.rows) {
    const field = row.querySelector(".station-name");
    const name = field.value.trim();
    const list = entries(row.querySelector(".station-items").value, ",");
    if (!name && !list.length) continue;
    if (!name) return { problem: [field, t("settings.station_unnamed")] };
    if (seen.has(name.toLowerCase())) return { problem: [field, t("settings.station_twice", { station: name })] };
    seen.add(name.toLowerCase());
    items[name] = list;
  }
  const fallback = settingsForm.stations_default.value.trim();
  return { value: fallback ? { default: fallback, items } : { items } };
}

/** The form field a refusal names: a setting's name, or the server's path into one
 * ("stations.items.drinks[2]": that station's items; "allergen_words[3]"). */
function fieldFor(path) {
  if (!path) return null;
  if (path.startsWith("allergen_words")) return settingsForm.allergen_words;
  if (path === "stations.default") return settingsForm.stations_default;
  const station = /^stations\.items\.(.*?)(\[\d+\])?$/.exec(path);
  const row = station && [...stationRows.rows].find((r) => r.querySelector(".station-name").value.trim() === station[1]);
  if (row) return row.querySelector(station[2] ? ".station-items" : ".station-name");
  if (path.startsWith("stations")) return stationRows.querySelector("input");
  return settingsForm[path] || null;
}

/** What is wrong with the form, in words, before asking the server (which checks it again). */
function invalid(body) {
  for (const name of SETTINGS) {
    if (!Number.isInteger(body[name]) || body[name] < 1) return [settingsForm[name], t("settings.whole_number")];
  }
  if (body.age_warn_seconds >= body.age_late_seconds) return [settingsForm.age_warn_seconds, t("settings.warn_before_late")];
  return null;
}

/** Show why the settings were not saved: on the status line, and on the field (marked invalid,
 * focused; its own message under it where it has a place for one). */
function refuse(field, message) {
  status("settings-status", t("settings.not_saved", { message }));
  if (!field) return;
  field.setAttribute("aria-invalid", "true");
  field.focus();
  for (const id of (field.getAttribute("aria-describedby") || "").split(" ")) {
    const box = document.getElementById(id);
    if (box && box.classList.contains("field-error")) {
      box.textContent = message;
      box.hidden = false;
    }
  }
}

settingsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const node of settingsForm.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of settingsForm.querySelectorAll(".field-error")) node.hidden = true;
  const stations = stationsValue();
  const body = Object.fromEntries([
    ...SETTINGS.map((n) => [n, Number(settingsForm[n].value)]),
    ...CHOICES.map((n) => [n, settingsForm[n].value]),
    ["allergen_words", entries(settingsForm.allergen_words.value, /[,\n]/)],
    ["stations", stations.value],
  ]);
  const problem = invalid(body) || stations.problem;
  if (problem) return refuse(...problem);
  try {
    const ws = await ownerApi("/settings", { method: "PATCH", body });
    fillSettings(ws.settings);
    status("settings-status", t("settings.saved"), true);
  } catch (exc) {
    refuse(fieldFor(exc.field), exc.message);
  }
});

showSignedIn();
