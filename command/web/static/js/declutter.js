// declutter: collision-aware placement of the map's labels and badges
// (issue 14, decision 0033). After every pan, zoom, resize or marker
// change (debounced), it places, in priority order,
//
//   1. incident tags (预警, 已派员 …),
//   2. test kiosks (beside the site they serve),
//   3. team tags (the dot and the team's name),
//   4. kitchens' readiness badges,
//   5. zone names,
//
// each at the first of a few candidate offsets where its box overlaps
// neither a fixed symbol (the stalls' dots on the canvas, kitchens,
// banquets) nor a label already placed. A label with no free place
// gives way: an incident tag folds into the nearest placed incident tag
// (drawn as a stack, data-more = how many it holds), a team tag shrinks to
// its dot, a zone name or a badge is hidden until there is room (zooming
// in). Nothing is lost: every hidden label's site stays drawn and is
// listed in the side panel. Offsets use the CSS `translate` property,
// which adds to the `transform` Leaflet positions markers with.
//
// The cost is one getBoundingClientRect per label and a grid lookup per
// candidate; fixed symbols come from marker positions, not the DOM, so ten
// thousand stalls cost a projection each (only those in view).

const CELL = 48; // grid cell, px
const PAD = 1; // px kept free around every box

/** A rectangle in map-container pixels. */
function box(left, top, right, bottom) {
  return { left, top, right, bottom };
}

function shift(b, dx, dy) {
  return box(b.left + dx, b.top + dy, b.right + dx, b.bottom + dy);
}

function hits(a, b) {
  return a.left < b.right + PAD && b.left < a.right + PAD && a.top < b.bottom + PAD && b.top < a.bottom + PAD;
}

/** A uniform grid of boxes, for overlap queries. */
class Grid {
  constructor() {
    this.cells = new Map();
  }
  keys(b, fn) {
    for (let x = Math.floor(b.left / CELL); x <= Math.floor(b.right / CELL); x++)
      for (let y = Math.floor(b.top / CELL); y <= Math.floor(b.bottom / CELL); y++) fn(`${x},${y}`);
  }
  add(b) {
    this.keys(b, (k) => {
      let c = this.cells.get(k);
      if (!c) this.cells.set(k, (c = []));
      c.push(b);
    });
  }
  free(b) {
    let ok = true;
    this.keys(b, (k) => {
      if (ok) for (const o of this.cells.get(k) || []) if (hits(b, o)) return (ok = false);
    });
    return ok;
  }
}

/** The offsets of a ring of n places at distance d around a point (first: up-right). */
function ring(d, n = 8) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const a = -Math.PI / 4 + (2 * Math.PI * i) / n;
    out.push([Math.round(d * Math.cos(a)), Math.round(d * Math.sin(a))]);
  }
  return out;
}

export class Declutter {
  /** @param {import("./venue-map.js").VenueMap} vm */
  constructor(vm) {
    this.vm = vm;
    this.timer = 0;
    this.pending = false;
    this.runs = 0;
    this.stats = { placed: 0, moved: 0, hidden: 0, folded: 0, compact: 0 };
    const m = vm.map;
    m.on("moveend zoomend resize overlayadd overlayremove", () => this.soon());
  }

  /** Places the labels shortly (many changes make one pass). */
  soon(ms = 40) {
    this.pending = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), ms);
  }

  run() {
    const vm = this.vm;
    const m = vm.map;
    if (vm.moving) return this.soon(120); // moveend runs it again
    this.pending = false;
    this.runs++;
    const cr = m.getContainer().getBoundingClientRect();
    const size = m.getSize();
    const view = box(-40, -40, size.x + 40, size.y + 40);
    const inView = (b) => b.right > view.left && b.left < view.right && b.bottom > view.top && b.top < view.bottom;
    const rel = (r) => box(r.left - cr.left, r.top - cr.top, r.right - cr.left, r.bottom - cr.top);
    const taken = new Grid();

    // Fixed symbols: stalls' dots, kitchens and banquets.
    if (m.hasLayer(vm.stallLayer) || m.hasLayer(vm.kitchenLayer) || m.hasLayer(vm.banquetLayer)) {
      for (const s of vm.stalls.values()) {
        if (!s.shown || !m.hasLayer(vm.layerOf(s.kind))) continue;
        const p = m.latLngToContainerPoint(s.marker.getLatLng());
        if (p.x < view.left || p.x > view.right || p.y < view.top || p.y > view.bottom) continue;
        const r = s.kind === "stall" ? s.marker.getRadius() + (s.marker.options.weight || 0) / 2 : 12;
        taken.add(box(p.x - r, p.y - r, p.x + r, p.y + r));
      }
    }
    if (m.hasLayer(vm.banquetLayer)) {
      for (const e of vm.banquetOnly.values()) {
        const p = m.latLngToContainerPoint(e.marker.getLatLng());
        taken.add(box(p.x - 12, p.y - 12, p.x + 12, p.y + 12));
      }
    }

    // The labels, in priority order: reset, then measure (one layout), then place.
    const labels = [];
    const add = (kind, target, measure, candidates, extra) => labels.push({ kind, target, measure, candidates, ...extra });
    if (m.hasLayer(vm.incidentLayer))
      for (const e of vm.incidents.values()) {
        const root = e.shown && e.marker.getElement();
        const tag = root && root.querySelector(".inc");
        if (tag) add("incident", root, [tag], (w) => [[0, 0], [0, -16], [-(w + 16), 0], [0, 40], [-(w + 16), 40], [14, -8], [0, 18]], { inner: tag });
      }
    if (m.hasLayer(vm.kioskLayer))
      for (const e of vm.kiosks.values()) {
        const root = e.marker && e.marker.getElement();
        if (!root) continue;
        const q = root.querySelector(".queue");
        const beside = !!e.beside;
        add("kiosk", root, q ? [root, q] : [root], () => (beside ? [...ring(15), ...ring(24, 12)] : [[0, 0], ...ring(12), ...ring(22, 12)]));
      }
    if (m.hasLayer(vm.teamLayer))
      for (const e of vm.teams.values()) {
        const root = e.marker.getElement();
        const tag = root && root.querySelector(".team");
        if (tag) add("team", root, [tag], (w) => [0, -14, 14, -28, 28].flatMap((dy) => [[0, dy], [-(w - 16), dy]]), { inner: tag });
      }
    if (m.hasLayer(vm.kitchenLayer))
      for (const s of vm.stalls.values()) {
        if (s.kind !== "kitchen" || !s.shown) continue;
        const root = s.marker.getElement();
        const rd = root && root.querySelector(".rd");
        if (rd) add("badge", rd, [rd], (w) => [[0, 0], [-(w + 18), 0], [0, 28], [-(w + 18), 28]]);
      }
    if (m.hasLayer(vm.zoneLayer))
      for (const z of vm.zones.values()) {
        const tip = z.layer.getTooltip && z.layer.getTooltip();
        const t = tip && tip.getElement && tip.getElement();
        if (t && t.isConnected) add("zone", t, [t], () => [0, -16, 16, -32, 32, -48, 48].flatMap((dy) => [[0, dy], [-40, dy], [40, dy]]));
      }
    for (const l of labels) {
      l.target.style.translate = "";
      l.target.classList.remove("declutter-hidden");
      if (l.inner) {
        l.inner.classList.remove("compact", "stacked");
        delete l.inner.dataset.more;
      }
    }
    for (const l of labels) {
      const rs = l.measure.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0 || r.height > 0);
      l.box = rs.length ? rel({ left: Math.min(...rs.map((r) => r.left)), top: Math.min(...rs.map((r) => r.top)), right: Math.max(...rs.map((r) => r.right)), bottom: Math.max(...rs.map((r) => r.bottom)) }) : null;
      if (l.kind === "team") {
        const dot = l.inner.querySelector("i");
        const d = dot && dot.getBoundingClientRect();
        if (d && d.width) l.compactBox = rel({ left: d.left - 5, top: d.top - 5, right: d.right + 5, bottom: d.bottom + 5 });
      }
    }

    const st = { placed: 0, moved: 0, hidden: 0, folded: 0, compact: 0 };
    const placedIncidents = [];
    const place = (l, b) => {
      for (const [dx, dy] of l.candidates(b.right - b.left)) {
        const c = shift(b, dx, dy);
        // A moved label stays wholly inside the map (not cut at its edge).
        const inside = c.left >= 0 && c.top >= 0 && c.right <= size.x && c.bottom <= size.y;
        if ((inside || (!dx && !dy)) && taken.free(c)) {
          taken.add(c);
          if (dx || dy) {
            l.target.style.translate = `${dx}px ${dy}px`;
            st.moved++;
          }
          st.placed++;
          l.at = c;
          return true;
        }
      }
      return false;
    };
    for (const l of labels) {
      if (!l.box || !inView(l.box)) continue;
      if (place(l, l.box)) {
        if (l.kind === "incident") placedIncidents.push(l);
        continue;
      }
      if (l.kind === "incident" && placedIncidents.length) {
        // Fold into the nearest placed tag: a stack, not a pile.
        const cx = (l.box.left + l.box.right) / 2;
        const cy = (l.box.top + l.box.bottom) / 2;
        const d = (o) => Math.hypot((o.at.left + o.at.right) / 2 - cx, (o.at.top + o.at.bottom) / 2 - cy);
        const host = placedIncidents.reduce((a, o) => (d(o) < d(a) ? o : a));
        host.inner.classList.add("stacked");
        host.inner.dataset.more = String(Number(host.inner.dataset.more || 0) + 1);
        st.folded++;
      } else if (l.kind === "team" && l.compactBox) {
        l.inner.classList.add("compact");
        const saved = l.candidates;
        l.candidates = () => [[0, 0], ...ring(12), ...ring(22, 12)]; // the dot stays near its place
        const ok = place(l, l.compactBox);
        l.candidates = saved;
        if (ok) {
          st.compact++;
          continue;
        }
        l.inner.classList.remove("compact");
      }
      if (l.kind !== "incident" || !placedIncidents.length) st.hidden++;
      l.target.classList.add("declutter-hidden");
    }
    this.stats = st;
  }
}
