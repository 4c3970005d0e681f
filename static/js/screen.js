// Settings of one screen (this browser, this page), kept in localStorage: unlike workspace
// settings they differ between the grill's display and the drinks tablet. Text size, the
// bump-bar key map, how often a late ticket beeps again, automatic paging.
import { el } from "./common.js";
import { t } from "./i18n.js";

export const SIZES = ["S", "M", "L", "XL"];

const DEFAULTS = {
  size: "M",
  keys: null, // null: the default key map (bumpbar.js)
  lateRepeatSeconds: 60, // 0: a late ticket beeps once
  autoPageSeconds: 0, // 0: pages change only by key or button
};

export class ScreenSettings {
  constructor(page) {
    this.storageKey = `orderlog.screen.${page}`;
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(this.storageKey) || "{}") || {};
    } catch {
      // unreadable: start from the defaults
    }
    this.values = { ...DEFAULTS, ...saved };
  }

  get(name) {
    return this.values[name];
  }

  set(name, value) {
    this.values[name] = value;
    localStorage.setItem(this.storageKey, JSON.stringify(this.values));
  }
}

/** Apply the text size (every size in the stylesheet is in rem, so one root size scales all). */
export function applySize(size) {
  document.documentElement.dataset.size = SIZES.includes(size) ? size : DEFAULTS.size;
}

/** A labelled select that changes this screen's text size and remembers it. */
export function sizeControl(settings, onChange = () => {}, label = t("kitchen.text_size")) {
  applySize(settings.get("size"));
  const select = el(
    "select",
    { id: "size", name: "size" },
    SIZES.map((s) => el("option", { value: s, selected: s === settings.get("size") }, s))
  );
  select.addEventListener("change", () => {
    settings.set("size", select.value);
    applySize(select.value);
    onChange();
  });
  return el("label", { class: "setting" }, label, " ", select);
}

/** A labelled select of seconds ("off" = 0) bound to setting `name`. */
export function secondsControl(settings, name, label, choices, onChange = () => {}) {
  const select = el(
    "select",
    { id: name, name },
    choices.map((s) => el("option", { value: s, selected: s === settings.get(name) }, s ? t("screen.seconds", { seconds: s }) : t("screen.off")))
  );
  select.addEventListener("change", () => {
    settings.set(name, Number(select.value));
    onChange();
  });
  return el("label", { class: "setting" }, label, " ", select);
}
