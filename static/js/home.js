// Sign-in: workspace id and a read key (plus an optional write key), kept in localStorage;
// a kiosk link's #key=...&workspace=... fragment signs in and leaves the address bar at once.
import { header, loadWorkspace, saveSession, session, signOut, takeFragment } from "./common.js";

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

showSignedIn();
