// sound: the alert tone (Web Audio, no sound file).
//
// Browsers refuse to play sound before the user has interacted with the
// page (autoplay policy): an AudioContext made earlier stays "suspended".
// So the tone starts "locked"; the first click or key anywhere on the page
// creates and resumes the context ("on"), and the header's button then
// mutes and unmutes ("muted"). The state is shown in the header at all
// times, so a commander knows whether a positive would be heard. It
// unlocks on click, not on pointerdown: the header's sound label changes
// width when it unlocks, and a change between press and release moved
// the header's buttons under the pointer and swallowed that first click.

const GAP = 1200; // ms: tones closer together than this merge into one

export class Sound {
  /** @param {(state: "locked"|"on"|"muted") => void} onState */
  constructor(onState) {
    this.onState = onState;
    this.ctx = null;
    this.state = "locked";
    this.muted = false;
    this.beeps = 0; // tones played (for the tests and the console)
    this.lastAt = -Infinity;
    this.unlock = () => this.enable();
    document.addEventListener("click", this.unlock, true);
    document.addEventListener("keydown", this.unlock, true);
  }

  /** Creates and resumes the audio context (inside a user gesture). */
  enable() {
    try {
      if (!this.ctx) {
        const AC = window.AudioContext || window.webkitAudioContext;
        if (!AC) return;
        this.ctx = new AC();
      }
      if (this.ctx.state === "suspended") this.ctx.resume();
    } catch (err) {
      console.warn("sound: cannot start audio", err);
      return;
    }
    document.removeEventListener("click", this.unlock, true);
    document.removeEventListener("keydown", this.unlock, true);
    this.set(this.muted ? "muted" : "on");
  }

  /** The header button: mute / unmute (and unlock on the first press). */
  toggle() {
    if (this.state === "locked") {
      this.enable();
      return;
    }
    this.muted = !this.muted;
    this.set(this.muted ? "muted" : "on");
    if (!this.muted) this.beep("info");
  }

  set(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState(s);
  }

  /**
   * Plays the alert tone: "alarm" (a positive: three rising pairs) or
   * "info" (one short tone). Returns whether it played.
   */
  beep(kind = "alarm") {
    if (this.state !== "on" || !this.ctx) return false;
    const now = performance.now();
    if (now - this.lastAt < GAP) return false;
    this.lastAt = now;
    this.beeps++;
    const ctx = this.ctx;
    const t0 = ctx.currentTime + 0.02;
    const tones = kind === "alarm" ? [880, 1320, 880, 1320, 880, 1320] : [990];
    tones.forEach((f, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = f;
      const at = t0 + i * 0.16;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.14);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.15);
    });
    return true;
  }
}
