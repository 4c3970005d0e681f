// What the live pages compute from open orders, kept pure (no DOM, no I/O) so a test can call it
// with any orders: the order tickets are shown in, and the all-day item counts.
//
// Besides its status, an order says its `priority` ("rush" sorts first) and each item whether
// it is `done` (a done item no longer counts).

export const isRush = (order) => order.priority === "rush";

// An order object's created_at in ms, parsed once (a live order object is never changed: a
// change arrives as a new object).
const parsed = new WeakMap();
export function createdAt(order) {
  let t = parsed.get(order);
  if (t === undefined) {
    t = Date.parse(order.created_at);
    parsed.set(order, t);
  }
  return t;
}

/** Rush tickets first, then oldest first (then by number, so equal times keep one order). */
export function byPriorityThenAge(a, b) {
  const rush = Number(isRush(b)) - Number(isRush(a));
  if (rush) return rush;
  return createdAt(a) - createdAt(b) || a.order_number - b.order_number;
}

export function sortTickets(orders) {
  return [...orders].sort(byPriorityThenAge);
}

// An order object's items as [key, name, quantity, item], prepared once (a screen counts them
// on every change, and string work over every item of 200 tickets adds up on a slow tablet).
const prepared = new WeakMap();
function countable(order) {
  let rows = prepared.get(order);
  if (rows === undefined) {
    rows = (order.items || []).map((item) => {
      const name = String(item.name).trim();
      return [name.toLowerCase(), name, Number(item.quantity) || 1, item];
    });
    prepared.set(order, rows);
  }
  return rows;
}

/** The quantity of each item still to make across `orders`, largest first:
 * [{name, quantity}]. Names are matched ignoring case and surrounding spaces (the first spelling
 * seen is shown); `include(item, order)` narrows the items counted (a station's, say). */
export function allDayCounts(orders, include = () => true) {
  const counts = new Map();
  for (const order of orders) {
    for (const [key, name, quantity, item] of countable(order)) {
      if (item.done === true || !include(item, order)) continue;
      const entry = counts.get(key);
      if (entry) entry.quantity += quantity;
      else counts.set(key, { name, quantity });
    }
  }
  return [...counts.values()].sort((a, b) => b.quantity - a.quantity || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// -- stations and allergens: the workspace's settings applied to items ---------------------------

const fold = (text) => String(text).trim().replace(/\s+/g, " ").toLowerCase();
/** Station names compare without case (screens are paired with them as typed). */
export const sameStation = (a, b) => fold(a) === fold(b);

// A station map ({default, items: {station: [name or pattern]}}) compiled once per settings
// object: exact names in a Map, patterns ("*" any text) as anchored regular expressions, the
// longest (most characters besides "*") first, then by station name; and each item name's
// answer kept, as the same names come back on every ticket.
const compiled = new WeakMap();
function matcher(stations) {
  let m = compiled.get(stations);
  if (m) return m;
  const exact = new Map();
  const patterns = [];
  for (const [station, names] of Object.entries(stations.items || {})) {
    for (const raw of names) {
      const name = fold(raw);
      if (!name.includes("*")) {
        if (!exact.has(name) || station < exact.get(name)) exact.set(name, station);
        continue;
      }
      const body = name.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
      patterns.push({ re: new RegExp(`^${body}$`, "su"), weight: name.replaceAll("*", "").length, station });
    }
  }
  patterns.sort((a, b) => b.weight - a.weight || (a.station < b.station ? -1 : a.station > b.station ? 1 : 0));
  m = { exact, patterns, fallback: stations.default || "kitchen", answers: new Map() };
  compiled.set(stations, m);
  return m;
}

/** The station that makes an item named `name` (see the stations setting): an exact name
 * (without case) first, then the pattern with the most characters besides "*", then the station
 * first in alphabetical order; else the default station. */
export function stationOf(name, stations) {
  if (!stations) return "kitchen";
  const m = matcher(stations);
  const key = fold(name);
  let station = m.answers.get(key);
  if (station === undefined) {
    station = m.exact.get(key) ?? m.patterns.find((p) => p.re.test(key))?.station ?? m.fallback;
    m.answers.set(key, station);
  }
  return station;
}

/** Whether the workspace maps items to more than one station (else there is nothing to show). */
export const hasStations = (stations) => Boolean(stations && Object.keys(stations.items || {}).length);

/** The stations an order's items go to, in the order of their first item, each with whether
 * every one of its items is done: [{station, done}]. */
export function orderStations(order, stations) {
  const out = new Map();
  for (const item of order.items || []) {
    const station = stationOf(item.name, stations);
    const key = fold(station);
    const entry = out.get(key);
    if (entry) entry.done &&= item.done === true;
    else out.set(key, { station, done: item.done === true });
  }
  return [...out.values()];
}

// The allergen words compiled once per settings array: whole words or phrases, without case,
// plurals too ("nuts", "peanuts"), never inside another word ("nutmeg" is not "nut").
const allergenRes = new WeakMap();
function allergenRe(words) {
  let re = allergenRes.get(words);
  if (re === undefined) {
    const parts = words.map((w) => fold(w).replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/ /g, "\\s+")).filter(Boolean);
    re = parts.length ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${parts.join("|")})(?:e?s)?(?![\\p{L}\\p{N}])`, "iu") : null;
    allergenRes.set(words, re);
  }
  return re;
}

/** The items of `order` whose notes mention one of the allergen `words` (and that `include`
 * accepts: the screen's station), as [index, item]. */
export function allergenItems(order, words, include = () => true) {
  const re = Array.isArray(words) ? allergenRe(words) : null;
  if (!re) return [];
  const out = [];
  (order.items || []).forEach((item, index) => {
    if (item.notes && re.test(item.notes) && include(item, order)) out.push([index, item]);
  });
  return out;
}
