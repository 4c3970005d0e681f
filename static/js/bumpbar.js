// Bump-bar mode: a kitchen display driven by keys alone (a bump bar is a keyboard with a dozen
// big keys, and each brand sends its own key codes, so the map is a setting of the screen).
//
// The map is {action: key}, with `key` a KeyboardEvent.key ("Enter", "ArrowUp", "r", " ");
// letters match in either case. The help dialog (`?`) lists it and lets staff change it.
import { el } from "./common.js";
import { t } from "./i18n.js";

// [action, what it does (in the screen's language), its default key]
export const ACTIONS = [
  ["left", t("kitchen.key_left"), "ArrowLeft"],
  ["right", t("kitchen.key_right"), "ArrowRight"],
  ["up", t("kitchen.key_up"), "ArrowUp"],
  ["down", t("kitchen.key_down"), "ArrowDown"],
  ["bump", t("kitchen.key_bump"), "Enter"],
  ["recall", t("kitchen.key_recall"), "r"],
  ["cancel", t("kitchen.key_cancel"), "c"],
  ["done", t("kitchen.key_done"), " "],
  ["pageUp", t("kitchen.previous_page"), "PageUp"],
  ["pageDown", t("kitchen.next_page"), "PageDown"],
  ["help", t("kitchen.key_help"), "?"],
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [`pos${n}`, t("kitchen.key_bump_n", { n }), String(n)]),
];

export const DEFAULT_KEYS = Object.fromEntries(ACTIONS.map(([action, , key]) => [action, key]));

/** The full map: the saved one over the defaults (an action added later gets its default). */
export function keyMap(saved) {
  return { ...DEFAULT_KEYS, ...(saved && typeof saved === "object" ? saved : {}) };
}

const norm = (key) => (key.length === 1 ? key.toLowerCase() : key);

/** The action a key event asks for, or null. Keys typed into a field, with Ctrl/Alt/Meta, or
 * Enter/Space on a focused button or link (which activate it) are not bump-bar keys. A control
 * of a closed dialog is no target: the browser may leave focus there for a moment after the
 * dialog closes (Escape then Enter must bump). */
export function actionFor(map, event) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return null;
  const target = event.target?.closest?.("dialog:not([open])") ? null : event.target;
  if (target && target.closest?.("input, textarea, select, [contenteditable], dialog")) return null;
  if ((event.key === "Enter" || event.key === " ") && target?.closest?.("button, a[href], summary")) return null;
  const pressed = norm(event.key);
  for (const [action, key] of Object.entries(map)) if (norm(key) === pressed) return action;
  return null;
}

const NAMES = { " ": t("kitchen.key_space"), ArrowUp: "↑", ArrowDown: "↓", ArrowLeft: "←", ArrowRight: "→" };
export const keyLabel = (key) => NAMES[key] || (key.length === 1 ? key.toUpperCase() : key);

/** The screen's dialog: its settings (`settings`, form controls), then every action of the map
 * `getMap()` returns (a screen may leave some out) and its key, with a button to change it (the
 * next key pressed) and one to restore the defaults. `save(map)` stores a changed map. */
export function keysDialog(getMap, save, settings = []) {
  const body = el("tbody");
  const status = el("p", { class: "muted", role: "status" });
  const dialog = el(
    "dialog",
    { id: "keys", "aria-labelledby": "keys-title" },
    el("h2", { id: "keys-title" }, t("kitchen.this_screen")),
    el("p", {}, t("kitchen.kept_here")),
    settings.length ? el("div", { class: "screen-settings" }, settings) : null,
    el("h3", {}, t("kitchen.keys_title")),
    el("p", {}, t("kitchen.keys_intro")),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("kitchen.col_key")), el("th", { scope: "col" }, t("kitchen.col_does")), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, t("kitchen.key_change"))))), body),
    status,
    el("div", { class: "dialog-buttons" },
      el("button", { type: "button", onclick: () => { save({ ...DEFAULT_KEYS }); fill(); status.textContent = t("kitchen.keys_restored"); } }, t("kitchen.keys_restore")),
      el("button", { type: "button", class: "primary", onclick: () => dialog.close() }, t("kitchen.close")))
  );
  let listening = null; // the action waiting for its new key
  dialog.addEventListener("keydown", (event) => {
    if (!listening || event.key === "Tab") return;
    event.preventDefault();
    event.stopPropagation();
    if (event.key !== "Escape") {
      save({ ...getMap(), [listening]: event.key });
      status.textContent = t("kitchen.key_now", { key: keyLabel(event.key), action: ACTIONS.find((a) => a[0] === listening)[1] });
    }
    listening = null;
    fill();
  });
  function fill() {
    const map = getMap();
    body.replaceChildren(
      ...ACTIONS.filter(([action]) => action in map).map(([action, text]) =>
        el("tr", { dataset: { action } },
          el("td", {}, el("kbd", {}, keyLabel(map[action]))),
          el("td", {}, text),
          el("td", {}, el("button", {
            type: "button",
            class: "change-key",
            "aria-label": t("kitchen.key_change_for", { action: text }),
            onclick: (e) => {
              listening = action;
              e.currentTarget.textContent = t("kitchen.key_press");
              status.textContent = t("kitchen.key_press_new");
            },
          }, t("kitchen.key_change"))))
      )
    );
  }
  // Closed, the dialog may keep focus on the control used last (the size select) until the
  // browser's next focus fix-up (see actionFor): let it go.
  dialog.addEventListener("close", () => {
    if (dialog.contains(document.activeElement)) document.activeElement.blur();
  });
  dialog.toggle = () => {
    if (dialog.open) dialog.close();
    else {
      fill();
      status.textContent = "";
      dialog.showModal();
    }
  };
  return dialog;
}
