// Bump-bar mode: a kitchen display driven by keys alone (a bump bar is a keyboard with a dozen
// big keys, and each brand sends its own key codes, so the map is a setting of the screen).
//
// The map is {action: key}, with `key` a KeyboardEvent.key ("Enter", "ArrowUp", "r", " ");
// letters match in either case. The help dialog (`?`) lists it and lets staff change it.
import { el } from "./common.js";

export const ACTIONS = [
  ["left", "Select the ticket to the left", "ArrowLeft"],
  ["right", "Select the ticket to the right", "ArrowRight"],
  ["up", "Select the ticket above", "ArrowUp"],
  ["down", "Select the ticket below", "ArrowDown"],
  ["bump", "Bump the selected ticket", "Enter"],
  ["recall", "Recall the last bump or cancel", "r"],
  ["cancel", "Cancel the selected ticket (press twice)", "c"],
  ["done", "Mark the next item of the selected ticket done", " "],
  ["pageUp", "Previous page", "PageUp"],
  ["pageDown", "Next page", "PageDown"],
  ["help", "Show or hide this list", "?"],
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [`pos${n}`, `Bump the ticket in position ${n}`, String(n)]),
];

export const DEFAULT_KEYS = Object.fromEntries(ACTIONS.map(([action, , key]) => [action, key]));

/** The full map: the saved one over the defaults (an action added later gets its default). */
export function keyMap(saved) {
  return { ...DEFAULT_KEYS, ...(saved && typeof saved === "object" ? saved : {}) };
}

const norm = (key) => (key.length === 1 ? key.toLowerCase() : key);

/** The action a key event asks for, or null. Keys typed into a field, with Ctrl/Alt/Meta, or
 * Enter/Space on a focused button or link (which activate it) are not bump-bar keys. */
export function actionFor(map, event) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return null;
  const target = event.target;
  if (target && target.closest?.("input, textarea, select, [contenteditable], dialog")) return null;
  if ((event.key === "Enter" || event.key === " ") && target?.closest?.("button, a[href], summary")) return null;
  const pressed = norm(event.key);
  for (const [action, key] of Object.entries(map)) if (norm(key) === pressed) return action;
  return null;
}

const NAMES = { " ": "Space", ArrowUp: "↑", ArrowDown: "↓", ArrowLeft: "←", ArrowRight: "→" };
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
    el("h2", { id: "keys-title" }, "This screen"),
    el("p", {}, "Settings and keys are kept by this screen only."),
    settings.length ? el("div", { class: "screen-settings" }, settings) : null,
    el("h3", {}, "Keys"),
    el("p", {}, "A bump bar or a keyboard works the screen."),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Key"), el("th", { scope: "col" }, "Does"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Change")))), body),
    status,
    el("div", { class: "dialog-buttons" },
      el("button", { type: "button", onclick: () => { save({ ...DEFAULT_KEYS }); fill(); status.textContent = "Default keys restored."; } }, "Restore default keys"),
      el("button", { type: "button", class: "primary", onclick: () => dialog.close() }, "Close"))
  );
  let listening = null; // the action waiting for its new key
  dialog.addEventListener("keydown", (event) => {
    if (!listening || event.key === "Tab") return;
    event.preventDefault();
    event.stopPropagation();
    if (event.key !== "Escape") {
      save({ ...getMap(), [listening]: event.key });
      status.textContent = `${keyLabel(event.key)} now does: ${ACTIONS.find((a) => a[0] === listening)[1]}.`;
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
            "aria-label": `Change the key for: ${text}`,
            onclick: (e) => {
              listening = action;
              e.currentTarget.textContent = "Press a key…";
              status.textContent = "Press the new key (Escape keeps the old one).";
            },
          }, "Change")))
      )
    );
  }
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
