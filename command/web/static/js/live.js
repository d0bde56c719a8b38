// live: the browser end of the live-map websocket (/ws/live), as
// protocols/wire/README.md describes it.
//
// On connect the server sends a snapshot, then deltas whose seq rises by
// exactly one. LiveLink keeps the seq of the last change it applied:
//   - a delta with seq ≤ last is already applied (a replay overlapping a
//     snapshot) and is skipped;
//   - seq = last + 1 is applied;
//   - a higher seq is a gap: it sends subscribe{since: last}, and the
//     server replays the missing deltas or sends a new snapshot.
// After a drop it reconnects with exponential backoff and jitter (no page
// reload), naming the last applied seq and the server's stream id in the
// URL (?since=&stream=): the server replays what was missed, or sends a
// snapshot when it no longer keeps it or has restarted (a new stream,
// numbered from zero again). A snapshot always replaces the state.

const BACKOFF_MIN = 500; // ms
const BACKOFF_MAX = 30000; // ms
const RESYNC_RETRY = 5000; // ms before a subscribe that got no answer is repeated

/** Close codes after which reconnecting cannot help without a new login. */
const AUTH_CLOSE_CODES = new Set([1008, 4003]);

export class LiveLink {
  /**
   * @param {object} o
   * @param {string} o.url ws:// or wss:// URL of /ws/live
   * @param {(snap: object) => void} o.onSnapshot
   * @param {(kind: string, data: object, seq: number) => void} o.onDelta
   * @param {(state: "connecting"|"online"|"offline") => void} o.onState
   * @param {(code: number) => void} o.onClosed called after every close, before the reconnect is scheduled
   * @param {(code: number) => void} o.onAuthLost the server ended the session (logout, 1008/4003)
   */
  constructor(o) {
    this.o = o;
    this.ws = null;
    this.lastSeq = 0; // seq of the last applied change (0: nothing yet)
    this.stream = ""; // the server's stream id that lastSeq belongs to
    this.synced = false; // a snapshot has been applied at least once
    this.attempt = 0;
    this.timer = null;
    this.resyncAt = 0; // when the pending subscribe was sent (0: none)
    this.stopped = true;
    this.state = "offline";
    this.stats = { snapshots: 0, deltas: 0, gaps: 0, reconnects: 0 };
    this.onNetworkBack = () => this.reconnectNow();
  }

  /** Opens the link (and keeps it open until stop). */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onNetworkBack);
    this.connect();
  }

  /** Closes the link for good (logout). */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onNetworkBack);
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, "logout");
      this.ws = null;
    }
    this.setState("offline");
  }

  /** Skips the backoff wait (the network came back). */
  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.connect();
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.o.onState(s);
  }

  connect() {
    this.setState("connecting");
    let ws;
    try {
      // A reconnect names what it has, so the server can replay instead of
      // sending a whole snapshot.
      const url = this.synced ? `${this.o.url}?since=${this.lastSeq}&stream=${encodeURIComponent(this.stream)}` : this.o.url;
      ws = new WebSocket(url);
    } catch (err) {
      console.error("live: cannot open websocket", err);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("online");
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = () => {
      // The close event follows with the code; nothing to do here.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.resyncAt = 0;
      this.setState("offline");
      if (this.o.onClosed) this.o.onClosed(ev.code);
      if (AUTH_CLOSE_CODES.has(ev.code)) {
        this.stop();
        this.o.onAuthLost(ev.code);
        return;
      }
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.attempt++;
    this.stats.reconnects++;
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (this.attempt - 1));
    const delay = base * (0.5 + Math.random()); // ±50 % jitter
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  subscribe(since) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.resyncAt = Date.now();
    this.ws.send(JSON.stringify({ v: 1, type: "subscribe", since, stream: this.stream }));
  }

  receive(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch (err) {
      console.error("live: message is not JSON", err);
      return;
    }
    switch (m.type) {
      case "snapshot":
        this.lastSeq = m.seq || 0;
        this.stream = m.stream || "";
        this.synced = true;
        this.resyncAt = 0;
        this.stats.snapshots++;
        this.o.onSnapshot(m);
        break;
      case "delta":
        this.delta(m);
        break;
      case "error":
        console.error(`live: server error ${m.code}: ${m.message}`);
        break;
      default:
      // Unknown types are ignored (a newer server may add some).
    }
  }

  delta(m) {
    if (this.synced && m.stream && m.stream !== this.stream) {
      // Another run of the server: our seq means nothing to it.
      this.subscribe(0);
      return;
    }
    if (!this.synced || m.seq <= this.lastSeq) return; // before the snapshot, or already applied
    if (m.seq !== this.lastSeq + 1) {
      // A gap: ask once for what is missing, and again if no answer came.
      if (!this.resyncAt || Date.now() - this.resyncAt > RESYNC_RETRY) {
        this.stats.gaps++;
        this.subscribe(this.lastSeq);
      }
      return;
    }
    this.lastSeq = m.seq;
    this.resyncAt = 0;
    this.stats.deltas++;
    this.o.onDelta(m.kind, m.data, m.seq);
  }
}

/** The /ws/live URL for this page's origin. */
export function liveURL() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws/live`;
}
