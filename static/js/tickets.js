// What the live pages compute from open orders, kept pure (no DOM, no I/O) so a test can call it
// with any orders: the order tickets are shown in, and the all-day item counts.
//
// Fields a newer server may add are read when present and ignored when absent:
// `order.priority` ("rush" sorts first) and `item.done` (a done item no longer counts).

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
