// Sign-in: workspace id and a read key (plus an optional write key), kept in localStorage;
// a kiosk link's #key=...&workspace=... fragment signs in and leaves the address bar at once.
import { clear, el, header, loadWorkspace, saveSession, session, signOut, takeFragment } from "./common.js";

takeFragment();
header();

const form = document.getElementById("signin");
const params = new URLSearchParams(location.search);
const next = params.get("next");

async function showSignedIn() {
  const s = session();
  if (!s.workspace || !s.readKey) return;
  form.workspace.value = s.workspace;
  try {
    const ws = await loadWorkspace();
    document.getElementById("signed-in").hidden = false;
    document.getElementById("who").textContent =
      `Signed in to ${ws.name} (${ws.id})` + (s.writeKey ? " with a write key: staff actions on." : ", read only.");
    fillSettings(ws.settings);
    offerWebhooks(ws.workflow);
    if (next && next.startsWith("/") && !next.startsWith("//")) location.replace(next);
  } catch (exc) {
    document.getElementById("who").textContent = `Cannot open the workspace: ${exc.message}`;
    document.getElementById("signed-in").hidden = false;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  saveSession({
    workspace: form.workspace.value,
    readKey: form.readKey.value,
    writeKey: form.writeKey.value,
  });
  form.readKey.value = "";
  form.writeKey.value = "";
  await showSignedIn();
});

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.reload();
});

const settingsForm = document.getElementById("settings");
const SETTINGS = ["age_warn_seconds", "age_late_seconds", "pickup_linger_seconds", "recall_window_seconds"];

function fillSettings(settings) {
  document.getElementById("settings-panel").hidden = false;
  for (const name of SETTINGS) settingsForm[name].value = settings[name];
}

settingsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("settings-status");
  const body = Object.fromEntries(SETTINGS.map((n) => [n, Number(settingsForm[n].value)]));
  const { workspace } = session();
  try {
    const resp = await fetch(`/v1/workspaces/${encodeURIComponent(workspace)}/settings`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${settingsForm.adminKey.value.trim()}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await resp.json();
    if (!resp.ok) throw new Error(data.message);
    fillSettings(data.settings);
    status.textContent = "Saved.";
  } catch (exc) {
    status.textContent = `Not saved: ${exc.message}`;
  }
  settingsForm.adminKey.value = "";
});

// -- webhooks: the admin key stays in this page's memory (never stored), like the settings form's.
let adminKey = "";
const hooksList = document.getElementById("webhooks-list");
const hooksStatus = document.getElementById("webhooks-status");
const addForm = document.getElementById("webhook-add");

function offerWebhooks(workflow) {
  document.getElementById("webhooks-panel").hidden = false;
  const box = document.getElementById("webhook-statuses");
  for (const s of workflow.statuses) {
    box.append(el("label", {}, el("input", { type: "checkbox", name: "statuses", value: s.name }), s.label));
  }
}

async function hooksApi(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${adminKey}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(`/v1/workspaces/${encodeURIComponent(session().workspace)}/webhooks${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.message);
  return data;
}

function healthCell(w) {
  const h = w.health;
  const lines = [];
  if (w.disabled_reason) lines.push(w.disabled_reason);
  else if (h.last_error && h.state === "failing") lines.push(`Last error: ${h.last_error}`);
  if (h.undelivered) lines.push(`${h.undelivered} waiting, oldest ${Math.round(h.lag_seconds)} s`);
  if (h.dead_letters) lines.push(`${h.dead_letters} dead letter(s)`);
  if (h.last_success_at) lines.push(`Last delivered ${new Date(h.last_success_at).toLocaleString()}`);
  return el("td", {}, el("span", { class: `health ${h.state}` }, h.state), lines.map((t) => el("div", { class: "muted" }, t)));
}

function hookRow(w) {
  const act = (text, run, cls) => el("button", { type: "button", class: cls, onclick: () => guarded(run) }, text);
  return el(
    "tr",
    { dataset: { webhook: w.id } },
    el("td", {}, w.label || w.url, w.label ? el("div", { class: "muted" }, w.url) : null),
    el("td", {}, w.format === "discord" ? "Discord" : "Signed JSON"),
    el("td", {}, w.events.join(", "), w.statuses.length ? el("div", { class: "muted" }, `to ${w.statuses.join(", ")}`) : null),
    healthCell(w),
    el(
      "td",
      { class: "row-actions" },
      act(w.enabled ? "Disable" : "Enable", () => hooksApi(`/${w.id}`, { method: "PATCH", body: { enabled: !w.enabled } })),
      act("Send test", async () => {
        const r = await hooksApi(`/${w.id}/test`, { method: "POST" });
        hooksStatus.textContent = r.outcome === "delivered" ? `Test delivered (${r.status_code}, ${r.latency_ms} ms).` : `Test failed: ${r.error}`;
      }),
      act("Remove", async () => {
        if (confirm(`Remove the webhook ${w.label || w.url}?`)) await hooksApi(`/${w.id}`, { method: "DELETE" });
      }, "danger"),
    ),
  );
}

async function showWebhooks() {
  const { webhooks } = await hooksApi("");
  const head = el("tr", {}, ["Webhook", "Format", "Events", "Health", ""].map((t) => el("th", {}, t)));
  clear(hooksList, webhooks.length ? el("table", {}, el("thead", {}, head), el("tbody", {}, webhooks.map(hookRow))) : el("p", { class: "muted" }, "No webhooks yet."));
  addForm.hidden = false;
}

async function guarded(run) {
  try {
    await run();
    await showWebhooks();
  } catch (exc) {
    hooksStatus.textContent = exc.message;
  }
}

document.getElementById("webhooks-unlock").addEventListener("submit", async (event) => {
  event.preventDefault();
  adminKey = event.target.adminKey.value.trim();
  event.target.adminKey.value = "";
  hooksStatus.textContent = "";
  await guarded(async () => {});
});

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const ticked = (name) => [...addForm.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  const body = { url: addForm.url.value.trim(), format: addForm.format.value, events: ticked("events"), label: addForm.label.value };
  if (ticked("statuses").length) body.statuses = ticked("statuses");
  await guarded(async () => {
    const made = await hooksApi("", { method: "POST", body });
    const secret = document.getElementById("webhook-secret");
    secret.hidden = !made.secret;
    secret.textContent = made.secret ? `Signing secret of ${made.label || made.url} (shown once, copy it now): ${made.secret}` : "";
    hooksStatus.textContent = "Added.";
    addForm.reset();
  });
});

showSignedIn();
