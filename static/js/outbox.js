// The screen's outbox: every staff action (bump, cancel, recall, item done) leaves through one
// ordered queue, so an action taken while the link is down is kept on the screen and sent when
// it is back, in the order it was taken, exactly once.
//
// - Each action gets an Idempotency-Key when queued. Its request (path and body) is fixed at
//   the first attempt and every retry sends the same bytes with the same key, so a retry after
//   a lost reply gets the stored result instead of a second change.
// - Only a network failure, a timeout or a 429/502/503/504 keeps an action queued (it is retried
//   when the link is back, or after a short wait); any other refusal (409: the ticket changed on
//   another screen) is final and handed to `onResult` with the error.
// - The queue is kept in localStorage, so a reload during an outage does not lose it.
//
//   const outbox = new Outbox({
//     storageKey, build: (action) => ({path, body}), send: (request, action) => Promise,
//     canSend: () => live, onResult: (action, result, error) => {}, onChange: () => {},
//   });
//   outbox.add({kind: "bump", orderId, ...});  outbox.drain();  outbox.pending

const RETRY_AFTER_MS = 2000;
const TRANSIENT = new Set([429, 502, 503, 504]);

/** Whether a failed send may be retried later (the request may not have been applied). */
export function isTransient(error) {
  if (error && typeof error.status === "number") return TRANSIENT.has(error.status);
  return true; // fetch's TypeError, a timeout's AbortError/TimeoutError: nothing was answered
}

function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor({ storageKey, build, send, canSend, onResult = () => {}, onChange = () => {} }) {
    this.storageKey = storageKey;
    this.build = build;
    this.send = send;
    this.canSend = canSend;
    this.onResult = onResult;
    this.onChange = onChange;
    this.queue = this.load();
    this.draining = false;
    this.retryTimer = null;
    this.saving = false;
  }

  /** Actions not yet acknowledged by the server, oldest first. */
  get pending() {
    return this.queue;
  }

  pendingFor(orderId) {
    return this.queue.filter((a) => a.orderId === orderId);
  }

  /** Queue an action (a plain object: it is stored as JSON) and try to send it. */
  add(action) {
    const entry = { ...action, id: newKey(), idempotencyKey: newKey(), attempts: 0, request: null, queuedAt: Date.now() };
    this.queue.push(entry);
    this.changed();
    this.drain();
    return entry;
  }

  /** Take back an action that has not been sent yet; false once it has been tried. */
  remove(id) {
    const at = this.queue.findIndex((a) => a.id === id);
    if (at < 0 || this.queue[at].attempts > 0 || (at === 0 && this.draining)) return false;
    this.queue.splice(at, 1);
    this.changed();
    return true;
  }

  async drain() {
    if (this.draining) return;
    this.draining = true;
    clearTimeout(this.retryTimer);
    try {
      while (this.queue.length && this.canSend()) {
        const action = this.queue[0];
        if (!action.request) action.request = this.build(action);
        action.attempts++;
        this.save();
        let result;
        try {
          result = await this.send(action.request, action);
        } catch (error) {
          if (isTransient(error)) {
            this.retryTimer = setTimeout(() => this.drain(), RETRY_AFTER_MS);
            return;
          }
          this.queue.shift();
          this.changed();
          this.onResult(action, null, error);
          continue;
        }
        this.queue.shift();
        this.changed();
        this.onResult(action, result, null);
      }
    } finally {
      this.draining = false;
    }
  }

  changed() {
    this.save();
    this.onChange();
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch {
      return [];
    }
  }

  // One write per task however many changes it made (before any await of drain() yields).
  save() {
    if (this.saving) return;
    this.saving = true;
    queueMicrotask(() => {
      this.saving = false;
      if (this.queue.length) localStorage.setItem(this.storageKey, JSON.stringify(this.queue));
      else localStorage.removeItem(this.storageKey);
    });
  }
}
