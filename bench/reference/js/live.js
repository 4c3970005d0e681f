/**
 * live.js: orderlog's live-order client for browsers. An ES module, no build step, no deps.
 * The wire protocol it speaks is docs/protocol.md.
 *
 *   import { LiveOrders } from "/js/live.js";
 *
 *   const live = new LiveOrders({
 *     workspace: "a1b2c3d4e5f60718",
 *     key: localStorage.getItem("orderlog.key"),  // a read key: used only to get tickets
 *     // or: getTicket: async () => "olt_...",     // bring your own ticket source
 *     statuses: ["waiting_for_preparation", "preparing"],  // optional server-side filter
 *     onChange(orders, change) {},  // orders: Map id -> order (the current board)
 *                                   // change: {type: "snapshot"} or
 *                                   //   {type: "event", event, order, previous_status, removed}
 *     onState(state, detail) {},    // "connecting" | "live" | "reconnecting" | "offline"
 *   });
 *   live.start();
 *   ...
 *   live.stop();
 *
 * Properties: `orders` (Map of order id -> order JSON, the non-terminal orders in the filter,
 * kept current), `state`, `cursor` (where a reconnect resumes).
 *
 * Options: `baseUrl` (default: this page's origin), `terminal` (statuses an order leaves the
 * board in; default ["completed", "cancelled"]), `maxDelay` (reconnect backoff cap in ms,
 * default 30000), `WebSocket` and `fetch` (for tests).
 *
 * What it does: gets a single-use ticket (POST /tickets with the key), opens the socket with
 * `?ticket=`, keeps the last cursor, and on any close reconnects forever with full-jitter
 * backoff, resuming from the cursor (the server replays what was missed, or sends `reset` and a
 * fresh snapshot). It pings every 25 s and reconnects if no pong comes within 10 s (a laptop
 * waking from sleep, a silent network drop), and reconnects at once when the browser comes
 * back online. A screen left open for days recovers by itself.
 */

const PING_EVERY = 25_000;
const PONG_WITHIN = 10_000;
const FATAL = new Set([4001, 4003]); // the key is wrong or revoked: keep trying, but slowly

export class LiveOrders {
  constructor(options) {
    if (!options || !options.workspace) throw new Error("LiveOrders: workspace is required");
    if (!options.key && !options.getTicket) throw new Error("LiveOrders: key or getTicket");
    this.options = options;
    this.workspace = options.workspace;
    this.baseUrl = (options.baseUrl ?? globalThis.location?.origin ?? "").replace(/\/$/, "");
    this.statuses = options.statuses ?? null;
    this.terminal = new Set(options.terminal ?? ["completed", "cancelled"]);
    this.maxDelay = options.maxDelay ?? 30_000;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.orders = new Map();
    this.cursor = null;
    this.state = "offline";
    this.socket = null;
    this.attempt = 0;
    this.running = false;
    this.timers = {};
    this.onOnline = () => this.running && this.state !== "live" && this.reconnectNow();
  }

  start() {
    if (this.running) return this;
    this.running = true;
    globalThis.addEventListener?.("online", this.onOnline);
    this.connect();
    return this;
  }

  stop() {
    this.running = false;
    globalThis.removeEventListener?.("online", this.onOnline);
    this.clearTimers();
    if (this.socket) this.socket.close(1000, "bye");
    this.socket = null;
    this.setState("offline");
  }

  // -- connection -------------------------------------------------------------------------
  async connect() {
    this.clearTimers();
    this.setState(this.attempt === 0 && this.cursor === null ? "connecting" : "reconnecting");
    let ticket;
    try {
      ticket = await this.ticket();
    } catch (err) {
      this.scheduleReconnect(err.fatal, String(err.message || err));
      return;
    }
    if (!this.running) return;
    const params = new URLSearchParams({ ticket });
    if (this.cursor) params.set("cursor", this.cursor);
    if (this.statuses && this.statuses.length) params.set("status", this.statuses.join(","));
    const url = this.baseUrl.replace(/^http/, "ws") +
      `/v1/workspaces/${encodeURIComponent(this.workspace)}/live?${params}`;
    const socket = new this.WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.setState("live");
      this.timers.ping = setInterval(() => this.ping(), PING_EVERY);
    };
    socket.onmessage = (msg) => socket === this.socket && this.receive(msg.data);
    socket.onclose = (ev) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (this.running) this.scheduleReconnect(FATAL.has(ev.code), ev.reason || `closed ${ev.code}`);
    };
    socket.onerror = () => {}; // a close event always follows
  }

  async ticket() {
    if (this.options.getTicket) return await this.options.getTicket();
    const resp = await this.fetch(
      `${this.baseUrl}/v1/workspaces/${encodeURIComponent(this.workspace)}/tickets`,
      { method: "POST", headers: { Authorization: `Bearer ${this.options.key}` } },
    );
    if (!resp.ok) {
      let message = `ticket: HTTP ${resp.status}`;
      try { message = (await resp.json()).message || message; } catch { /* not JSON */ }
      const err = new Error(message);
      err.fatal = resp.status === 401 || resp.status === 403;
      throw err;
    }
    return (await resp.json()).ticket;
  }

  scheduleReconnect(fatal, detail) {
    this.clearTimers();
    const offline = globalThis.navigator?.onLine === false;
    this.setState(offline || fatal ? "offline" : "reconnecting", detail);
    this.attempt += fatal ? 4 : 1;
    const ceiling = Math.min(this.maxDelay, 500 * 2 ** Math.min(this.attempt, 16));
    this.timers.retry = setTimeout(() => this.connect(), Math.random() * ceiling);
  }

  reconnectNow() {
    this.attempt = 0;
    if (this.socket) {
      const old = this.socket;
      this.socket = null;
      old.close(4000, "reconnecting");
    }
    this.connect();
  }

  ping() {
    if (!this.socket || this.socket.readyState !== 1) return;
    this.socket.send('{"type":"ping"}');
    clearTimeout(this.timers.pong);
    this.timers.pong = setTimeout(() => this.reconnectNow(), PONG_WITHIN);
  }

  clearTimers() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.retry);
    this.timers = {};
  }

  setState(state, detail) {
    if (state === this.state && detail === undefined) return;
    this.state = state;
    this.options.onState?.(state, detail);
  }

  // -- frames -----------------------------------------------------------------------------
  receive(data) {
    clearTimeout(this.timers.pong); // anything from the server proves the link is alive
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    switch (frame.type) {
      case "snapshot":
        this.orders = new Map(frame.orders.map((o) => [o.id, o]));
        this.cursor = frame.cursor;
        this.options.onChange?.(this.orders, { type: "snapshot" });
        break;
      case "event":
        this.apply(frame);
        break;
      case "batch":
        for (const ev of frame.events) this.apply(ev);
        break;
      case "reset": // a fresh snapshot follows: the cursor could not be resumed
        this.cursor = null;
        break;
      case "status":
        this.setState(frame.state === "live" ? "live" : "reconnecting", "server: store " + frame.state);
        break;
      default: // "pong" and frames of later versions
    }
  }

  apply(ev) {
    this.cursor = ev.cursor;
    const order = ev.order;
    const known = this.orders.get(order.id);
    if (known && known.version >= order.version) return; // never go back to an older version
    const removed = this.terminal.has(order.status) ||
      (this.statuses !== null && !this.statuses.includes(order.status));
    if (removed) this.orders.delete(order.id);
    else this.orders.set(order.id, order);
    this.options.onChange?.(this.orders, {
      type: "event",
      event: ev.event,
      order,
      previous_status: ev.previous_status,
      removed,
    });
  }
}

/** The same as `new LiveOrders(options).start()`. */
export function connect(options) {
  return new LiveOrders(options).start();
}
