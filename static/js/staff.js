// Staff: the stats report as a leaderboard (people only: tills and kiosks are listed apart),
// speed-of-service figures, orders per hour (inline SVG drawn at the chart's own width, so its
// labels keep their size on a phone) and abuse flags linking to the orders that raised them.
import { api, clear, duration, el, header, requireSession, showError } from "./common.js";
import { formatDateTime, formatNumber, formatPercent, formatTime, t, translatePage } from "./i18n.js";

requireSession();
header();
translatePage();

const form = document.getElementById("range");
const root = document.getElementById("stats");
const SVG = "http://www.w3.org/2000/svg";
const LABEL_SPACE = 56; // px an hour label needs on the axis, at the chart's real size

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

/** The chart drawn in CSS pixels (viewBox = the box's size): text is never scaled down. */
function drawChart(box, perHour) {
  const width = Math.max(240, Math.round(box.clientWidth));
  const height = 220;
  const pad = { l: 40, r: 8, t: 12, b: 28 };
  const max = Math.max(1, ...perHour.map((h) => h.orders));
  const w = Math.min(48, (width - pad.l - pad.r) / Math.max(1, perHour.length));
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / max);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": t("staff.chart_label") });
  chart.append(svg("line", { class: "axis", x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b }));
  chart.append(svg("text", { x: pad.l - 6, y: y(max) + 4, "text-anchor": "end" }, formatNumber(max)));
  chart.append(svg("text", { x: pad.l - 6, y: height - pad.b, "text-anchor": "end" }, formatNumber(0)));
  const every = Math.max(1, Math.ceil(LABEL_SPACE / w));
  perHour.forEach((h, i) => {
    const x = pad.l + i * w;
    const bar = svg("rect", { class: "bar", x: x + w * 0.1, y: y(h.orders), width: w * 0.8, height: height - pad.b - y(h.orders) });
    bar.append(svg("title", {}, t("staff.bar_title", { when: formatDateTime(h.hour), count: h.orders })));
    chart.append(bar);
    if (i % every === 0) chart.append(svg("text", { x: x + w / 2, y: height - 9, "text-anchor": "middle" }, formatTime(h.hour)));
  });
  clear(box, chart);
}

function chart(perHour) {
  const box = el("div", { class: "chart" });
  const data = hours(perHour);
  // Drawn once the box is in the page (its width is known), and again when the width changes.
  new ResizeObserver(() => drawChart(box, data)).observe(box);
  return box;
}

function orderLinks(orders) {
  return el("span", { class: "order-links" }, orders.map((o) => el("a", { href: `/order.html?id=${o.id}` }, `#${o.order_number}`)));
}

function flags(abuse) {
  const items = [];
  for (const f of abuse.customer_is_staff || [])
    items.push(el("li", {}, t("staff.flag_self", { customer: f.customer_id, roles: f.roles.map((r) => t(`orders.role_${r}`)).join(" + ") }), " ", orderLinks([f])));
  for (const f of abuse.completed_too_fast || [])
    items.push(el("li", {}, t("staff.flag_fast", { seconds: f.seconds }), " ", orderLinks([f])));
  for (const f of abuse.cashier_bursts || [])
    items.push(el("li", {}, t("staff.flag_burst", { name: f.username, count: f.orders.length }), " ", orderLinks(f.orders)));
  for (const f of abuse.repeat_customers || [])
    items.push(el("li", {}, t("staff.flag_repeat", { name: f.username, count: f.orders.length }), " ", orderLinks(f.orders)));
  return items.length ? el("ul", { class: "flags" }, items) : el("p", { class: "muted" }, t("staff.no_flags"));
}

function table(id, rows, { ranked }) {
  const heads = [ranked ? "#" : null, t("staff.col_staff"), t("staff.col_taken"), t("staff.col_prepared"), t("staff.col_handed"), t("staff.col_prep_time")].filter(Boolean);
  return el(
    "table",
    { id },
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      rows.map((r, i) =>
        el(
          "tr",
          {},
          ranked ? el("td", {}, formatNumber(i + 1)) : null,
          el("td", {}, el("a", { href: `/orders.html?staff_id=${encodeURIComponent(r.staff_id)}` }, r.username || r.staff_id)),
          el("td", {}, formatNumber(r.taken)),
          el("td", {}, formatNumber(r.prepared)),
          el("td", {}, formatNumber(r.handed_over)),
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
    const system = s.system_actors || [];
    clear(
      root,
      el(
        "section",
        { class: "panel" },
        el("div", { class: "figures" },
          figure(t("staff.orders"), formatNumber(s.orders)),
          figure(t("staff.median_ready"), secs(ready.median)),
          figure(t("staff.p90_ready"), secs(ready.p90)),
          figure(t("staff.median_completed"), secs(done.median)),
          figure(t("staff.cancel_rate"), s.cancel_rate === null ? "–" : formatPercent(s.cancel_rate))
        ),
        s.range ? el("p", { class: "muted" }, t("staff.range", { from: formatDateTime(s.range.from), to: formatDateTime(s.range.to) })) : null
      ),
      el("section", { class: "panel" }, el("h2", {}, t("staff.per_hour")), chart(s.orders_per_hour || [])),
      el(
        "div",
        { class: "grid2" },
        el(
          "section",
          { class: "panel" },
          el("h2", {}, t("staff.leaderboard")),
          el("div", { class: "table-wrap" }, table("leaderboard", s.leaderboard || [], { ranked: true })),
          system.length
            ? [el("h3", {}, t("staff.system_actors")), el("div", { class: "table-wrap" }, table("system-actors", system, { ranked: false }))]
            : null
        ),
        el("section", { class: "panel", id: "flags" }, el("h2", {}, t("staff.flags")), flags(s.abuse || {}))
      )
    );
    showError("");
  } catch (exc) {
    clear(root);
    showError(t("staff.cannot_load", { message: exc.message }));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  show();
});
show();
