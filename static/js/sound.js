// The kitchen's sounds: short WebAudio tunes played one after another, never on top of each other.
//
// Browsers keep an AudioContext suspended until the page gets a tap or a key (a kiosk can start
// Chromium with --autoplay-policy=no-user-gesture-required instead); `state` tells the truth:
// "off" (muted on this screen), "blocked" (the browser holds audio back) or "on" (running).
// A tune asked for while the same tune is still waiting its turn is played once: ten tickets
// turning late in the same second give one late alarm, not ten.

export const TUNES = {
  new: [[660, 0.15], [880, 0.25]],
  late: [[330, 0.3], [330, 0.3], [330, 0.3]],
};
const GAP = 0.05; // seconds between notes, and between tunes

export class Sounds {
  constructor({ muted, onState = () => {} }) {
    this.muted = muted;
    this.onState = onState;
    this.context = null;
    this.free = 0; // AudioContext time at which the last queued tune ends
    this.queued = new Map(); // tune name -> start time of its copy not yet started
    this.played = []; // [{name, start, end}] of the last tunes (newest last), for the page and tests
  }

  get state() {
    if (this.muted()) return "off";
    return this.context && this.context.state === "running" ? "on" : "blocked";
  }

  /** Create or resume the AudioContext; call from a user gesture to be let through. */
  unlock() {
    if (!this.context) {
      if (typeof AudioContext === "undefined") return;
      this.context = new AudioContext();
      this.context.addEventListener("statechange", () => this.onState(this.state));
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
  }

  /** Queue tune `name` after whatever is playing; returns its [start, end] in context time
   * (null when muted or when the same tune is already waiting). */
  play(name) {
    if (this.muted()) return null;
    this.unlock();
    // A suspended context would only pile tunes up for later: a blocked screen plays nothing.
    if (!this.context || this.context.state !== "running") return null;
    const now = this.context.currentTime;
    if ((this.queued.get(name) ?? -1) > now) return null;
    const start = Math.max(now, this.free);
    let t = start;
    for (const [freq, length] of TUNES[name]) {
      const osc = this.context.createOscillator();
      const gain = this.context.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.4, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + length);
      osc.connect(gain).connect(this.context.destination);
      osc.start(t);
      osc.stop(t + length);
      t += length + GAP;
    }
    this.free = t;
    this.queued.set(name, start);
    this.played.push({ name, start, end: t - GAP });
    if (this.played.length > 50) this.played.shift();
    return [start, t - GAP];
  }
}
