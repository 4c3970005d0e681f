// Staff: the stats report as a leaderboard, speed-of-service figures, orders per hour (inline
// SVG, no library) and abuse flags linking to the orders that raised them.
import { api, clear, duration, el, header, requireSession, showError } from "./common.js";

requireSession();
header();

const form = document.getElementById("range");
const root = document.getElementById("stats");
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function figure(label, value) {
  return el("div", { class: "figure" }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

const secs = (v) => (v === null || v === undefined ? "–" : duration(v));

/** Every hour from the first to the last with orders (the report lists only hours with some). */
function hours(perHour) {
  if (!perHour.length) return [];
  const counts = new Map(perHour.map((h) => [Date.parse(h.hour), h.orders]));
  const first = Math.min(...counts.keys());
  const last = Math.max(...counts.keys());
  const out = [];
  for (let t = first; t <= last && out.length < 24 * 31; t += 3600_000) out.push({ hour: new Date(t).toISOString(), orders: counts.get(t) || 0 });
  return out;
}

function chart(perHour) {
  perHour = hours(perHour);
  const width = 800;
  const height = 220;
  const pad = { l: 34, r: 8, t: 10, b: 26 };
  const max = Math.max(1, ...perHour.map((h) => h.orders));
  const w = Math.min(48, (width - pad.l - pad.r) / Math.max(1, perHour.length));
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Orders per hour" });
  root.append(svg("line", { class: "axis", x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b }));
  root.append(svg("text", { x: pad.l - 6, y: y(max) + 4, "text-anchor": "end" }, max));
  root.append(svg("text", { x: pad.l - 6, y: height - pad.b, "text-anchor": "end" }, 0));
  const every = Math.ceil(perHour.length / 12);
  perHour.forEach((h, i) => {
    const x = pad.l + i * w;
    const bar = svg("rect", { class: "bar", x: x + w * 0.1, y: y(h.orders), width: w * 0.8, height: height - pad.b - y(h.orders) });
    bar.append(svg("title", {}, `${new Date(h.hour).toLocaleString()}: ${h.orders} orders`));
    root.append(bar);
    if (i % every === 0) {
      const label = new Date(h.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      root.append(svg("text", { x: x + w / 2, y: height - 8, "text-anchor": "middle" }, label));
    }
  });
  return el("div", { class: "chart" }, root);
}

function orderLinks(orders) {
  return orders.map((o) => el("a", { href: `/order.html?id=${o.id}` }, `#${o.order_number}`));
}

function flags(abuse) {
  const items = [];
  for (const f of abuse.customer_is_staff || [])
    items.push(el("li", {}, `Customer ${f.customer_id} was also the ${f.roles.join(" and ")}: `, orderLinks([f])));
  for (const f of abuse.completed_too_fast || [])
    items.push(el("li", {}, `Completed in ${f.seconds} s: `, orderLinks([f])));
  for (const f of abuse.cashier_bursts || [])
    items.push(el("li", {}, `Burst by cashier ${f.username} (${f.orders.length} orders): `, orderLinks(f.orders)));
  for (const f of abuse.repeat_customers || [])
    items.push(el("li", {}, `Repeat customer ${f.username} (${f.orders.length} orders): `, orderLinks(f.orders)));
  return items.length ? el("ul", { class: "flags" }, items) : el("p", { class: "muted" }, "No flags.");
}

function leaderboard(rows) {
  return el(
    "table",
    { id: "leaderboard" },
    el("thead", {}, el("tr", {}, ["#", "Staff", "Taken", "Prepared", "Handed over", "Median prep"].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      rows.map((r, i) =>
        el(
          "tr",
          {},
          el("td", {}, i + 1),
          el("td", {}, el("a", { href: `/orders.html?staff_id=${encodeURIComponent(r.staff_id)}` }, r.username || r.staff_id)),
          el("td", {}, r.taken),
          el("td", {}, r.prepared),
          el("td", {}, r.handed_over),
          el("td", {}, secs(r.median_preparation_seconds))
        )
      )
    )
  );
}

async function show() {
  const params = new URLSearchParams();
  for (const name of ["from", "to"]) if (form[name].value) params.set(name, new Date(form[name].value).toISOString());
  try {
    const s = await api(`/stats?${params}`);
    const ready = s.created_to_ready_seconds || {};
    const done = s.created_to_completed_seconds || {};
    clear(
      root,
      el(
        "section",
        { class: "panel" },
        el("div", { class: "figures" },
          figure("orders", s.orders),
          figure("median to ready", secs(ready.median)),
          figure("p90 to ready", secs(ready.p90)),
          figure("median to completed", secs(done.median)),
          figure("cancel rate", s.cancel_rate === null ? "–" : `${(s.cancel_rate * 100).toFixed(1)} %`)
        ),
        s.range ? el("p", { class: "muted" }, `From ${new Date(s.range.from).toLocaleString()} to ${new Date(s.range.to).toLocaleString()}`) : null
      ),
      el("section", { class: "panel" }, el("h2", {}, "Orders per hour"), chart(s.orders_per_hour || [])),
      el(
        "div",
        { class: "grid2" },
        el("section", { class: "panel" }, el("h2", {}, "Leaderboard"), el("div", { class: "table-wrap" }, leaderboard(s.leaderboard || []))),
        el("section", { class: "panel", id: "flags" }, el("h2", {}, "Abuse flags"), flags(s.abuse || {}))
      )
    );
    showError("");
  } catch (exc) {
    showError(`Cannot load the stats: ${exc.message}`);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  show();
});
show();
