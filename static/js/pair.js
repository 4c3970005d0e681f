// Pairing (RFC 8628's device flow): a screen without credentials shows a short code and a QR code
// of the page where an owner approves it, and asks the server every few seconds whether it was
// approved. Then it keeps its own screen token (common.js saveScreen) and opens the page the owner
// chose for it. A code that expires is replaced by a new one without anyone touching the screen.
//
// The device code (the screen's secret for this pairing) is kept in sessionStorage only until the
// pairing ends, so a reload shows the same code while an owner may be typing it.
import { pairedScreen, saveScreen, session } from "./common.js";
import { languagePicker, t, translatePage } from "./i18n.js";

const KEPT = "orderlog.pairing";
const codeNode = document.getElementById("code");
const statusNode = document.getElementById("status");
const qr = document.getElementById("qr");

translatePage();
document.getElementById("language").append(languagePicker());

let pairing = null; // {device_code, user_code, user_code_display, qr, verification_uri, interval, expiresAt}
let timer = null;

function show(text) {
  statusNode.textContent = text;
}

function remaining() {
  return Math.max(0, Math.round((pairing.expiresAt - Date.now()) / 1000));
}

function minutes(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function render() {
  codeNode.textContent = pairing.user_code_display;
  codeNode.setAttribute("aria-label", pairing.user_code.split("").join(" "));
  qr.src = pairing.qr;
  qr.hidden = false;
  document.getElementById("verify-url").textContent = pairing.verification_uri;
  document.getElementById("cli").textContent =
    `orderlog screen pair ${pairing.user_code} --workspace WORKSPACE --role kitchen`;
}

async function start(reason = "") {
  clearTimeout(timer);
  const kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
  if (kept && kept.expiresAt - Date.now() > 5000) {
    pairing = kept;
  } else {
    let resp;
    try {
      resp = await fetch("/v1/pairings", { method: "POST", cache: "no-store" });
    } catch {
      show(t("pair.offline"));
      timer = setTimeout(start, 3000);
      return;
    }
    if (!resp.ok) {
      const wait = Number(resp.headers.get("retry-after") || 5);
      show(t("pair.busy", { seconds: wait }));
      timer = setTimeout(start, wait * 1000);
      return;
    }
    const body = await resp.json();
    pairing = { ...body, expiresAt: Date.now() + body.expires_in * 1000 };
    sessionStorage.setItem(KEPT, JSON.stringify(pairing));
  }
  render();
  show(reason || t("pair.waiting", { time: minutes(remaining()) }));
  timer = setTimeout(poll, pairing.interval * 1000);
}

async function poll() {
  if (remaining() <= 0) return renew();
  let resp;
  try {
    resp = await fetch("/v1/pairings/poll", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ device_code: pairing.device_code }),
      cache: "no-store",
    });
  } catch {
    show(t("pair.offline"));
    timer = setTimeout(poll, 3000);
    return;
  }
  if (resp.status === 200) return paired(await resp.json());
  if (resp.status === 410) return renew();
  if (resp.status === 202) {
    show(t("pair.waiting", { time: minutes(remaining()) }));
  } else if (resp.status === 429) {
    show(t("pair.busy", { seconds: Number(resp.headers.get("retry-after") || 2) }));
  }
  const wait = resp.status === 429 ? Number(resp.headers.get("retry-after") || 2) : pairing.interval;
  timer = setTimeout(poll, wait * 1000);
}

function renew() {
  sessionStorage.removeItem(KEPT);
  start(t("pair.renewed"));
}

function paired(answer) {
  sessionStorage.removeItem(KEPT);
  saveScreen(answer);
  show(t("pair.done", { label: answer.screen.label }));
  location.replace(answer.screen.page);
}

// A screen already signed in (paired, or with a kiosk link's keys) goes where it was headed.
const s = session();
const next = new URLSearchParams(location.search).get("next");
if (s.workspace && s.readKey) {
  const screen = pairedScreen();
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : screen?.page || "/board.html";
  location.replace(target);
} else {
  start();
}
