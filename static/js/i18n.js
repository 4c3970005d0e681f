// Text in one place per language (i18n/<lang>.js), chosen per screen, and numbers and times
// written the way that language writes them (Intl).
//
//   import { t, formatTime, translatePage } from "./i18n.js";
//   t("orders.count", { count: 3 })     // "3 orders shown" / "3 pedidos exibidos"
//   <span data-i18n="orders.title">Orders</span>     // translatePage() rewrites the text
//   <input data-i18n-placeholder="home.pair_code_hint">  // ... and these attributes
//
// The language: `?lang=` in the address (handy for a kiosk link), else what this screen chose
// before (localStorage), else the browser's language when a catalog has it, else English. A
// message missing from a catalog falls back to English, then to its key (the catalog test
// keeps them complete).
import en from "../i18n/en.js";
import ptBR from "../i18n/pt-BR.js";

export const LANGUAGES = [
  { code: "en", name: "English", messages: en },
  { code: "pt-BR", name: "Português (Brasil)", messages: ptBR },
];
const STORE = "orderlog.lang";
const byCode = new Map(LANGUAGES.map((l) => [l.code, l]));

function pick() {
  const asked = new URLSearchParams(globalThis.location?.search || "").get("lang");
  if (asked && byCode.has(asked)) {
    localStorage.setItem(STORE, asked);
    return asked;
  }
  const kept = localStorage.getItem(STORE);
  if (kept && byCode.has(kept)) return kept;
  for (const wanted of navigator.languages || [navigator.language || "en"]) {
    const exact = LANGUAGES.find((l) => l.code.toLowerCase() === wanted.toLowerCase());
    const base = LANGUAGES.find((l) => l.code.split("-")[0] === wanted.split("-")[0].toLowerCase());
    if (exact || base) return (exact || base).code;
  }
  return "en";
}

const current = pick();
document.documentElement.lang = current;

/** This screen's language code ("en", "pt-BR"). */
export function language() {
  return current;
}

/** Choose this screen's language (kept in localStorage) and reload the page in it (without the
 * address's ?lang=, which would choose again on the reload). */
export function setLanguage(code) {
  if (!byCode.has(code) || code === current) return;
  localStorage.setItem(STORE, code);
  const url = new URL(location.href);
  url.searchParams.delete("lang");
  history.replaceState(history.state, "", url);
  location.reload();
}

const plurals = new Intl.PluralRules(current);

/** The message `key` in this screen's language, `{name}` filled from `params`. A message may be
 * {one, other, ...} by `params.count` (Intl.PluralRules); numbers are formatted for the locale. */
export function t(key, params = {}) {
  let message = byCode.get(current).messages[key] ?? en[key] ?? key;
  if (typeof message === "object") {
    message = message[plurals.select(params.count ?? 0)] ?? message.other;
  }
  return message.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return typeof value === "number" ? formatNumber(value) : String(value);
  });
}

/** A workflow status's label in this language: a status of the default workflow that still has
 * its default label is a catalog message (`status.<name>`); a label the owner wrote is shown as
 * written. */
export function statusLabel({ name, label }) {
  const key = `status.${name}`;
  return en[key] === label ? t(key) : label;
}

/** Whether `key` has a message (in English, the reference catalog). */
export function has(key) {
  return key in en;
}

// Formatters are made once per set of options: making an Intl.NumberFormat costs far more than
// using one, and a kitchen formats every quantity and count of every change.
const numberFormats = new Map();
export function formatNumber(value, options = {}) {
  const key = JSON.stringify(options);
  let format = numberFormats.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(current, options);
    numberFormats.set(key, format);
  }
  return format.format(value);
}

const listFormat = new Intl.ListFormat(current, { type: "conjunction" });
/** A list in this language's words: ["41", "42", "43"] -> "41, 42, and 43" / "41, 42 e 43". */
export function formatList(items) {
  return listFormat.format(items);
}

/** A percentage from a ratio: 0.125 -> "12.5%" / "12,5%". */
export function formatPercent(ratio) {
  return formatNumber(ratio, { style: "percent", maximumFractionDigits: 1 });
}

const dateTime = () => new Intl.DateTimeFormat(current, { dateStyle: "short", timeStyle: "medium" });
const timeOnly = () => new Intl.DateTimeFormat(current, { hour: "2-digit", minute: "2-digit" });

/** An instant (ISO 8601 string, Date or ms) as a local date and time. */
export function formatDateTime(value) {
  return dateTime().format(new Date(value));
}

/** An instant's local hour and minute (chart labels). */
export function formatTime(value) {
  return timeOnly().format(new Date(value));
}

/** Rewrite every element with data-i18n (its text) or data-i18n-<attribute> (that attribute)
 * under `root` into this screen's language. */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("*")) {
    for (const [name, key] of Object.entries(node.dataset)) {
      if (!name.startsWith("i18n") || name === "i18n") continue;
      const attribute = name.slice(4).replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()).slice(1);
      node.setAttribute(attribute, t(key));
    }
  }
}

/** A <select> of the languages, changing this screen's language when used. */
export function languagePicker() {
  const select = document.createElement("select");
  select.className = "language";
  select.setAttribute("aria-label", t("common.language"));
  for (const { code, name } of LANGUAGES) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    option.lang = code;
    option.selected = code === current;
    select.append(option);
  }
  select.addEventListener("change", () => setLanguage(select.value));
  return select;
}
