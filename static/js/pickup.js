// Pickup screen (customer-facing): "Preparing" and "Ready" order numbers in very large type.
// A ready number stays pickup_linger_seconds after its order completes, so a customer who looks
// up a moment late still sees it.
//
// Both columns are keyed lists (keyed.js): a number already on screen is never redrawn, so the
// "Ready" live region announces only the numbers that just became ready.
import { api, el, header, loadWorkspace, now, requireSession, showError } from "./common.js";
import { readyStatuses } from "./flow.js";
import { KeyedList } from "./keyed.js";
import { watch } from "./watch.js";

requireSession();
header({ live: true });

const preparingBox = document.getElementById("preparing");
const readyBox = document.getElementById("ready");
const lingering = new Map(); // order id -> {number, until (ms)}

async function recentlyCompleted(lingerMs) {
  // Orders completed just before this page opened: not in the live snapshot (terminal), so ask
  // the search API. Best effort: the screen works without it.
  const from = new Date(now() - lingerMs - 3600_000).toISOString();
  try {
    const found = await api(`/orders?status=completed&from=${encodeURIComponent(from)}&limit=200`);
    for (const order of found.orders) {
      const until = Date.parse(order.updated_at) + lingerMs;
      if (until > now()) lingering.set(order.id, { number: order.order_number, until });
    }
  } catch {
    // no search API, or no permission: nothing lingers from before the page opened
  }
}

async function start() {
  const ws = await loadWorkspace();
  const ready = new Set(readyStatuses(ws.workflow));
  const active = ws.workflow.statuses.filter((s) => !s.terminal).map((s) => s.name);
  const done = new Set(ws.workflow.statuses.filter((s) => s.terminal && !/cancel/.test(s.name)).map((s) => s.name));
  const lingerMs = ws.settings.pickup_linger_seconds * 1000;
  let current = new Map();
  const number = { key: (n) => n, stamp: () => "", render: (n) => el("span", { dataset: { number: n } }, n) };
  const preparingList = new KeyedList(preparingBox, number);
  const readyList = new KeyedList(readyBox, number);
  const render = () => {
    const t = now();
    for (const [id, entry] of lingering) if (entry.until <= t || current.has(id)) lingering.delete(id);
    const byNumber = (a, b) => a - b;
    const preparing = [...current.values()].filter((o) => !ready.has(o.status)).map((o) => o.order_number);
    const readyNow = [...current.values()].filter((o) => ready.has(o.status)).map((o) => o.order_number);
    const shown = [...readyNow, ...[...lingering.values()].map((e) => e.number)];
    preparingList.update(preparing.sort(byNumber));
    readyList.update(shown.sort(byNumber));
  };
  await recentlyCompleted(lingerMs);
  setInterval(render, 1000);
  watch({
    statuses: active,
    onUpdate: (orders, events) => {
      for (const frame of events) {
        const order = frame.order;
        if (done.has(order.status) && ready.has(frame.previous_status)) {
          lingering.set(order.id, { number: order.order_number, until: now() + lingerMs });
        }
      }
      current = orders;
      render();
    },
  });
}

start().catch((exc) => showError(`Cannot start the pickup screen: ${exc.message}`));
