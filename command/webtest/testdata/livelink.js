// Drives js/live.js (the page's live-link client) with a fake WebSocket and
// reports what it applied and sent. Evaluated by TestLiveLinkProtocol on a
// page of the command service, so the module loads from the real handler.
(async () => {
  const { LiveLink } = await import("/js/live.js");
  const sockets = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = FakeWS.CONNECTING;
      sockets.push(this);
    }
    send(s) {
      this.sent.push(JSON.parse(s));
    }
    close() {
      this.readyState = FakeWS.CLOSED;
    }
    open() {
      this.readyState = FakeWS.OPEN;
      this.onopen();
    }
    msg(m) {
      this.onmessage({ data: JSON.stringify(m) });
    }
    drop(code) {
      this.readyState = FakeWS.CLOSED;
      this.onclose({ code });
    }
  }
  Object.assign(FakeWS, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  const until = (cond, ms) =>
    new Promise((resolve) => {
      const t0 = Date.now();
      const iv = setInterval(() => {
        if (cond() || Date.now() - t0 > ms) {
          clearInterval(iv);
          resolve();
        }
      }, 10);
    });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const delta = (seq, stream = "s1") => ({ v: 1, type: "delta", stream, seq, kind: "result", data: { seq } });
  const snapshot = (seq, stream = "s1") => ({ v: 1, type: "snapshot", stream, seq, results: [], stalls: [], kiosks: [] });

  const realWS = window.WebSocket;
  window.WebSocket = FakeWS;
  try {
    const applied = [];
    const snaps = [];
    const states = [];
    const link = new LiveLink({
      url: "ws://example.invalid/ws/live",
      onSnapshot: (s) => snaps.push(s.seq),
      onDelta: (kind, data, seq) => applied.push(seq),
      onState: (s) => states.push(s),
      onClosed: () => {},
      onAuthLost: (code) => states.push(`auth-lost:${code}`),
    });
    link.start();

    // First connection: snapshot, deltas, a duplicate, a gap, the replay.
    const ws1 = sockets[0];
    ws1.open();
    ws1.msg(delta(4)); // before any snapshot: ignored
    ws1.msg(snapshot(5));
    ws1.msg(delta(6));
    ws1.msg(delta(6)); // already applied
    ws1.msg(delta(8)); // gap: subscribe since 6
    ws1.msg(delta(9)); // still the same gap: no second subscribe
    ws1.msg(delta(7)); // the replay
    ws1.msg(delta(8));
    ws1.msg(delta(9));
    const sent1 = ws1.sent.slice();

    // A drop: reconnect with backoff, naming the last seq and stream in the URL.
    const t0 = Date.now();
    ws1.drop(1006);
    await until(() => sockets.length > 1, 3000);
    const reconnectMs = Date.now() - t0;
    const ws2 = sockets[1];
    ws2.open();
    const sent2 = ws2.sent.slice();
    const url2 = ws2.url;
    ws2.msg(snapshot(2, "s2")); // a restarted server: a new stream, numbered from zero again
    ws2.msg(delta(3, "s2"));

    // The server ends the session: no more reconnects.
    ws2.drop(4003);
    await sleep(1500);
    return { applied, snaps, states, sent1, sent2, url2, sockets: sockets.length, lastSeq: link.lastSeq, reconnectMs };
  } finally {
    window.WebSocket = realWS;
  }
})();
