// venue-map: the Leaflet map of the command centre.
//
// Base maps: the venue plan drawn from the zones (GeoJSON polygons) on a
// plain background, always available offline and the default; and, when
// configured (GET /api/v1/ui-config), a street tile layer in its own
// coordinate system. Every stored position is WGS-84; it is converted to
// the tile layer's datum (GCJ-02 for AMap/Tencent, BD-09 for Baidu) for
// display only (coords.js), the plan included, so that the plan and the
// streets agree.
//
// Layers (each can be switched off in the layer control):
//   - vendor zones and venues;
//   - stalls: circle markers on one shared canvas renderer, so that ten
//     thousand stay smooth; the fill is the latest verdict, the outline's
//     weight and the letter drawn inside (when zoomed in) the risk grade;
//   - kitchens: square markers, fill by verdict, a badge with the
//     event's readiness (done/total checklist items) and its colour;
//   - rural banquets: by state (filed, guidance assigned, checked, …);
//   - assurance teams: moving live (team deltas), coloured by status, a
//     dashed line to the incident a busy team is on;
//   - open incidents: a tag with the state above the site;
//   - test kiosks: online/offline, with the queue of results waiting.
//
// Symbols, one per kind (the legend shows each, legend.js): a stall is a
// circle (the grade's letter inside when zoomed in), a kitchen a square
// (厨 / K), a banquet a diamond (宴 / Bq — never a lone letter, which would
// read as a grade), a kiosk a small landscape screen, a team a pill with a
// dot, an incident a tag, a patrol a dashed route with numbered stops
// (patrol.js), a vendor zone a blue polygon with its name. Labels and
// badges are placed by declutter.js so that none covers another.
// Positives pulse (a DOM ring); a new positive flashes.

import { t, featureName, verdictLabel, label } from "./i18n.js";
import { displayDatum, baiduCRS, baiduTileLayer, BD09 } from "./coords.js";
import { el, escapeHTML } from "./dom.js";
import { Declutter } from "./declutter.js";

/** Fill colour by verdict; pass/caution/fail share the rapid-test colours. */
export const VERDICT_COLOURS = {
  negative: "#2e9d4a",
  pass: "#2e9d4a",
  suspicious: "#f0a500",
  caution: "#f0a500",
  positive: "#d7263d",
  fail: "#d7263d",
  invalid: "#8a8f98",
  na: "#b9c0ca",
};
const NONE_FILL = "#ffffff";
/** Where the layer list's open/closed choice is kept. */
const LAYERS_KEY = "shian.map.layers";
const OUTLINE = "#4a5562";
/** Outline colour and extra weight by risk grade (D is the highest risk). */
const GRADE_OUTLINE = { A: OUTLINE, B: OUTLINE, C: "#6a3d9a", D: "#4a0e63" };
const GRADE_WEIGHT = { A: 0, B: 0, C: 0.8, D: 1.6 };

/** The verdict groups the header counts, in display order. */
export const VERDICT_ORDER = ["negative", "suspicious", "positive", "invalid", "pass", "caution", "fail", "na", "none"];

/** The alarming verdicts: a halo, a flash and a tone. */
export const ALARMING = new Set(["positive", "fail"]);

/**
 * Marker size by zoom: full size when stalls are metres apart on screen,
 * smaller in the city-wide view so that thousands of them do not merge
 * into one blot.
 */
function sizeFor(kind, zoom) {
  const big = kind === "kitchen" || kind === "banquet";
  const scale = zoom >= 17 ? 1 : zoom >= 16 ? 0.75 : zoom >= 15 ? 0.55 : 0.4;
  return { radius: Math.max(2.5, (big ? 9 : 7) * scale), weight: scale < 0.6 ? 1 : big ? 2.5 : 1.5, scale };
}

function fillOf(verdict) {
  return verdict ? VERDICT_COLOURS[verdict] || VERDICT_COLOURS.invalid : NONE_FILL;
}

/**
 * The verdict a site is drawn with: its latest result's, unless an open
 * incident keeps it alarming (state.open_incident, until the incident is
 * closed) — a negative after a positive does not turn it green.
 */
export function shownVerdict(state) {
  if (!state) return "";
  const inc = state.open_incident;
  if (inc && state.verdict !== "positive") return inc.verdict || "positive";
  return state.verdict || "";
}

function styleFor(kind, verdict, zoom, grade) {
  const size = sizeFor(kind, zoom);
  return {
    radius: size.radius,
    weight: size.weight + (GRADE_WEIGHT[grade] || 0) * (size.scale < 0.6 ? 0.6 : 1),
    color: GRADE_OUTLINE[grade] || OUTLINE,
    opacity: 1,
    fillColor: fillOf(verdict),
    fillOpacity: 1,
    showGrade: zoom >= 17 && !!grade,
  };
}

/**
 * A stall on the canvas: Leaflet's circle, plus the risk grade's letter
 * drawn inside when the map is zoomed in far enough to read it.
 */
let SiteMarkerClass = null;
function SiteMarker() {
  SiteMarkerClass ||= L.CircleMarker.extend(siteMarkerMethods); // built on first use: L loads after this module may
  return SiteMarkerClass;
}
const siteMarkerMethods = {
  _updatePath() {
    const r = this._renderer;
    r._updateCircle(this);
    if (!this.options.showGrade || !r._drawing || !r._ctx || this._empty()) return;
    const ctx = r._ctx;
    const p = this._point;
    ctx.save();
    ctx.font = `bold ${Math.round(this._radius * 1.3)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const fill = this.options.fillColor;
    ctx.fillStyle = fill === NONE_FILL || fill === VERDICT_COLOURS.suspicious || fill === VERDICT_COLOURS.na ? "#1d2733" : "#ffffff";
    ctx.fillText(this.options.grade, p.x, p.y + 0.5);
    ctx.restore();
  },
};

export class VenueMap {
  /**
   * @param {HTMLElement} el the map container
   * @param {object} hooks
   * @param {(id: string) => void} hooks.onStallClick a site (stall, kitchen, banquet)
   * @param {(id: string) => void} hooks.onIncidentClick
   * @param {(id: string) => void} hooks.onTeamClick
   * @param {(id: string) => void} hooks.onBanquetClick a banquet with no site
   * @param {object} cfg the page configuration (GET /api/v1/ui-config)
   */
  constructor(el, hooks, cfg) {
    this.hooks = hooks;
    const tiles = cfg && cfg.tiles;
    this.tilesCfg = tiles || null;
    this.dd = displayDatum(tiles ? tiles.datum : "wgs84");
    const opts = { zoomControl: true, attributionControl: !!tiles, preferCanvas: true, zoomSnap: 0.25, minZoom: 3, maxZoom: 22 };
    if (tiles && tiles.datum === BD09) opts.crs = baiduCRS();
    this.map = L.map(el, opts);
    if (this.map.attributionControl) this.map.attributionControl.setPrefix(false); // the tile provider's text only
    this.renderer = L.canvas({ padding: 0.5, tolerance: 4 });
    this.planLayer = L.layerGroup(); // the offline base: the zones are drawn as an overlay on it
    this.tileLayer = null;
    if (tiles) {
      const to = { maxZoom: tiles.max_zoom || 18, maxNativeZoom: tiles.max_zoom || 18, subdomains: tiles.subdomains || "abc", attribution: escapeHTML(tiles.attribution || "") }; // Leaflet inserts it as HTML
      this.tileLayer = tiles.datum === BD09 ? baiduTileLayer(tiles.url, to) : L.tileLayer(tiles.url, to);
    }
    this.planLayer.addTo(this.map);
    this.base = "plan";
    this.zoneLayer = L.featureGroup().addTo(this.map);
    this.stallLayer = L.featureGroup().addTo(this.map);
    this.kitchenLayer = L.featureGroup().addTo(this.map);
    this.banquetLayer = L.featureGroup().addTo(this.map);
    this.teamLayer = L.featureGroup().addTo(this.map);
    this.incidentLayer = L.featureGroup().addTo(this.map);
    this.kioskLayer = L.featureGroup().addTo(this.map);
    this.haloLayer = L.featureGroup().addTo(this.map);
    this.zones = new Map(); // id → {feature, layer}
    this.stalls = new Map(); // site id → {id, kind, feature, marker, state, halo, shown, banquet}
    this.banquetOnly = new Map(); // banquet id → {record, marker} (banquets with no site)
    this.kiosks = new Map(); // id → {state, marker}
    this.teams = new Map(); // id → {team, marker, line}
    this.incidents = new Map(); // id → {incident, marker}
    this.readiness = new Map(); // kitchen id → {done, total, ready}
    this.filter = null; // (site entry) → bool
    this.layerControl = null;
    this.fitted = false;
    this.popupStallId = null; // the site whose popup is open
    this.moving = false; // a pan or zoom is under way
    this.map.on("movestart zoomstart", () => (this.moving = true));
    this.map.on("moveend zoomend", () => (this.moving = false));
    this.sizedAt = null; // the zoom the markers were sized for
    this.map.on("zoomend", () => this.resize());
    this.map.on("popupclose", () => (this.popupStallId = null));
    this.map.on("baselayerchange", (e) => {
      this.base = e.layer === this.tileLayer ? "tiles" : "plan";
      this.styleZones();
    });

    this.stallLayer.on("click", (e) => {
      const id = e.layer && e.layer.options && e.layer.options.stallId;
      if (id) this.hooks.onStallClick(id);
    });
    this.homeControl = null;
    this.map.setView(this.dd.toMap(120.89, 31.98), 14); // Nantong, until the zones arrive
    // Leaflet only watches the window; the header can change height (a
    // language switch wraps the counts), so watch the container itself.
    if (window.ResizeObserver) new ResizeObserver(() => this.map.invalidateSize({ pan: false })).observe(el);
    this.buildLayerControl();
    this.declutter = new Declutter(this); // labels and badges placed so that none overlaps another (decision 0033)
  }

  /** The display position of a stored WGS-84 [lon, lat]. */
  at(lon, lat) {
    return this.dd.toMap(lon, lat);
  }

  /** Switches the base map: "plan" or "tiles". */
  setBase(name) {
    if (name === "tiles" && this.tileLayer && this.base !== "tiles") {
      this.map.removeLayer(this.planLayer);
      this.tileLayer.addTo(this.map);
      this.map.fire("baselayerchange", { layer: this.tileLayer });
    } else if (name === "plan" && this.base !== "plan") {
      if (this.tileLayer) this.map.removeLayer(this.tileLayer);
      this.planLayer.addTo(this.map);
      this.map.fire("baselayerchange", { layer: this.planLayer });
    }
  }

  /** Resizes every site marker for the current zoom (only when the size class changes). */
  resize() {
    const z = this.map.getZoom();
    const key = JSON.stringify(sizeFor("stall", z)) + (z >= 17);
    if (key === this.sizedAt) return;
    this.sizedAt = key;
    for (const s of this.stalls.values()) if (s.kind === "stall") this.restyle(s);
  }

  /** Shows the whole venue. */
  home() {
    const b = this.bounds();
    if (b && b.isValid()) this.map.fitBounds(b, { padding: [24, 24] });
  }

  bounds() {
    if (this.zoneLayer.getLayers().length) return this.zoneLayer.getBounds();
    const b = L.latLngBounds([]);
    for (const s of this.stalls.values()) b.extend(s.marker.getLatLng());
    return b;
  }

  /** (Re)builds the map's controls with labels in the current language. */
  buildLayerControl() {
    if (this.homeControl) this.homeControl.remove();
    const HomeControl = L.Control.extend({
      onAdd: () => {
        const b = L.DomUtil.create("button", "leaflet-bar home-control");
        b.type = "button";
        b.textContent = t("map.home");
        b.title = t("map.homeTitle");
        L.DomEvent.disableClickPropagation(b);
        L.DomEvent.on(b, "click", () => this.home());
        return b;
      },
    });
    this.homeControl = new HomeControl({ position: "topleft" }).addTo(this.map);
    if (this.layerControl) this.layerControl.remove();
    const bases = { [t("base.plan")]: this.planLayer };
    if (this.tileLayer) {
      const n = this.tilesCfg.name ? pickName(this.tilesCfg.name) : t("base.tiles");
      bases[escapeHTML(`${n}（${t(`datum.${this.tilesCfg.datum}`)}）`)] = this.tileLayer; // Leaflet's layer control takes HTML names
    }
    this.layerControl = L.control
      .layers(
        bases,
        {
          [t("layer.zones")]: this.zoneLayer,
          [t("layer.stalls")]: this.stallLayer,
          [t("layer.kitchens")]: this.kitchenLayer,
          [t("layer.banquets")]: this.banquetLayer,
          [t("layer.teams")]: this.teamLayer,
          [t("layer.incidents")]: this.incidentLayer,
          [t("layer.kiosks")]: this.kioskLayer,
        },
        // Our own toggle below (Leaflet's collapsed mode opens on hover).
        { collapsed: false, position: "topright" },
      )
      .addTo(this.map);
    this.layerToggle();
    // Mark the inputs for tests and styling (the control has no ids).
    const inputs = this.layerControl.getContainer().querySelectorAll("input");
    const names = ["base-plan", ...(this.tileLayer ? ["base-tiles"] : []), "zones", "stalls", "kitchens", "banquets", "teams", "incidents", "kiosks"];
    inputs.forEach((inp, i) => (inp.dataset.layer = names[i] || ""));
  }

  /**
   * A button that opens and closes the layer list, so that it does not
   * cover the map: closed by default below 1600 px (a laptop, a phone),
   * open on a wall screen; the user's choice is remembered (localStorage).
   */
  layerToggle() {
    const box = this.layerControl.getContainer();
    box.classList.add("layers-switch");
    const stored = localStorage.getItem(LAYERS_KEY);
    let open = stored ? stored === "open" : window.matchMedia("(min-width: 1600px)").matches;
    const btn = el("button", { type: "button", class: "layers-toggle" });
    const show = () => {
      box.classList.toggle("layers-closed", !open);
      btn.textContent = t("layer.toggle");
      btn.title = t(open ? "layer.close" : "layer.open");
      btn.setAttribute("aria-expanded", open ? "true" : "false");
    };
    btn.addEventListener("click", () => {
      open = !open;
      localStorage.setItem(LAYERS_KEY, open ? "open" : "closed");
      show();
    });
    box.prepend(btn);
    show();
  }

  /** Draws the venue plan from a GeoJSON FeatureCollection of zones and venues. */
  setZones(fc) {
    this.zoneLayer.clearLayers();
    this.zones.clear();
    const features = (fc && fc.features) || [];
    // Venues first so that zones draw on top of them.
    features.sort((a, b) => (a.properties.kind === "venue" ? 0 : 1) - (b.properties.kind === "venue" ? 0 : 1));
    for (const f of features) {
      const layer = L.geoJSON({ ...f, geometry: this.dd.geometry(f.geometry) }, { renderer: this.renderer, interactive: false });
      layer.addTo(this.zoneLayer);
      this.zones.set(String(f.id), { feature: f, layer });
    }
    this.styleZones();
    this.labelZones();
    this.fit();
  }

  /** Zone styles: opaque on the plan, see-through over street tiles. */
  styleZones() {
    const streets = this.base === "tiles";
    for (const { feature, layer } of this.zones.values()) {
      const venue = feature.properties.kind === "venue";
      layer.setStyle(
        venue
          ? { color: "#7d8896", weight: 2, dashArray: "6 4", fillColor: "#eef1f4", fillOpacity: streets ? 0.15 : 1 }
          : { color: "#5c7fa3", weight: 1.5, fillColor: "#dbe7f3", fillOpacity: streets ? 0.35 : 0.9 },
      );
    }
  }

  /** Puts each zone's name at its centre, in the current language. */
  labelZones() {
    for (const { feature, layer } of this.zones.values()) {
      layer.unbindTooltip();
      if (feature.properties.kind === "venue") continue;
      layer.bindTooltip(el("span", {}, featureName(feature.properties)), { permanent: true, direction: "center", className: "zone-label", interactive: false });
    }
    if (this.declutter) this.declutter.soon();
  }

  /** Returns the zone feature with this id, if any. */
  zone(id) {
    const z = this.zones.get(String(id));
    return z ? z.feature : null;
  }

  /** Replaces every site from a GeoJSON FeatureCollection of points. */
  setStalls(fc) {
    for (const s of this.stalls.values()) this.dropMarker(s);
    this.stallLayer.clearLayers();
    this.kitchenLayer.clearLayers();
    this.haloLayer.clearLayers();
    const banquets = new Map([...this.stalls.values()].filter((s) => s.banquet).map((s) => [s.id, s.banquet]));
    this.stalls.clear();
    for (const f of (fc && fc.features) || []) {
      if (!f.geometry || f.geometry.type !== "Point") continue;
      const id = String(f.id);
      const p = f.properties;
      const state =
        p.verdict || p.open_incident
          ? {
              stall_id: id,
              verdict: p.verdict || "",
              value: p.value,
              unit: p.unit,
              method: p.method,
              analyte: p.analyte,
              measured_at: p.measured_at,
              result_id: p.result_id,
              open_incident: p.open_incident || undefined,
            }
          : null;
      const [lon, lat] = f.geometry.coordinates;
      const kind = p.kind || "stall";
      const s = { id, kind, feature: f, marker: null, state, halo: null, shown: false, banquet: banquets.get(id) || null, colour: "" };
      s.marker = this.makeMarker(s, this.at(lon, lat));
      this.stalls.set(id, s);
      if (kind === "banquet") this.dropBanquetOnly(id);
      this.place(s);
      this.updateHalo(id);
    }
    this.fit();
    this.declutter.soon();
  }

  makeMarker(s, ll) {
    if (s.kind === "stall") {
      const st = styleFor("stall", shownVerdict(s.state), this.map.getZoom(), s.feature.properties.grade);
      s.colour = st.fillColor;
      return new (SiteMarker())(ll, { renderer: this.renderer, stallId: s.id, grade: s.feature.properties.grade || "", ...st });
    }
    const m = L.marker(ll, { icon: this.siteIcon(s), keyboard: false, riseOnHover: true });
    m.on("click", () => this.hooks.onStallClick(s.id));
    return m;
  }

  /** The DOM icon of a kitchen (verdict fill, readiness badge) or a banquet site (state). */
  siteIcon(s) {
    const v = shownVerdict(s.state);
    s.colour = fillOf(v);
    if (s.kind === "kitchen") {
      const r = this.readiness.get(s.id);
      const ready = r ? (r.ready ? "ready" : "open") : "unknown";
      const badge = r && r.total ? `<i class="rd rd-${ready}">${Math.round((100 * r.done) / r.total)}%</i>` : "";
      return L.divIcon({
        className: "site-icon kitchen-icon",
        html: `<b class="sq v-${escapeHTML(v || "none")}" data-site="${escapeHTML(s.id)}" data-readiness="${ready}">${escapeHTML(t("map.kitchenGlyph"))}</b>${badge}`,
        iconSize: [22, 22],
      });
    }
    const b = s.banquet;
    const state = b ? b.state : "filed";
    return L.divIcon({
      className: "site-icon banquet-icon",
      html: `<b class="bq st-${escapeHTML(state)} v-${escapeHTML(v || "none")}" data-site="${escapeHTML(s.id)}" data-state="${escapeHTML(b ? state : "")}"><span>${escapeHTML(t("map.banquetGlyph"))}</span></b>`,
      iconSize: [22, 22],
    });
  }

  layerOf(kind) {
    return kind === "kitchen" ? this.kitchenLayer : kind === "banquet" ? this.banquetLayer : this.stallLayer;
  }

  /** Adds or removes a site's marker according to the filter. */
  place(s) {
    const show = !this.filter || this.filter(s);
    if (show === s.shown) return;
    s.shown = show;
    const layer = this.layerOf(s.kind);
    if (show) layer.addLayer(s.marker);
    else layer.removeLayer(s.marker);
    this.updateHalo(s.id);
    this.declutter.soon();
  }

  dropMarker(s) {
    if (s.halo) s.halo.remove();
    s.halo = null;
    this.layerOf(s.kind).removeLayer(s.marker);
    s.shown = false;
  }

  /** Sets the site filter (null: show everything) and applies it. */
  setFilter(fn) {
    this.filter = fn;
    for (const s of this.stalls.values()) this.place(s);
    for (const e of this.incidents.values()) this.placeIncident(e);
  }

  /** Restyles a site's marker from its state. */
  restyle(s) {
    if (s.kind === "stall") {
      const st = styleFor("stall", shownVerdict(s.state), this.map.getZoom(), s.feature.properties.grade);
      s.colour = st.fillColor;
      Object.assign(s.marker.options, { showGrade: st.showGrade });
      s.marker.setStyle(st);
      s.marker.setRadius(st.radius);
    } else {
      s.marker.setIcon(this.siteIcon(s));
      this.declutter.soon();
    }
  }

  /**
   * Draws a site with the risk grade its credit account has now (the
   * register's grade is where the account opened; js/credit.js).
   */
  setGrade(id, grade) {
    const s = this.stalls.get(id);
    if (!s || !grade || s.feature.properties.grade === grade) return;
    s.feature.properties.grade = grade;
    if (s.marker && s.marker.options) s.marker.options.grade = grade;
    this.restyle(s);
  }

  /** Fits the view to the venue once, when there is something to show. */
  fit() {
    if (this.fitted) return;
    const b = this.bounds();
    if (b && b.isValid()) {
      // No animation: snapshot updates would wait for the zoom to end.
      this.map.fitBounds(b, { padding: [24, 24], animate: false });
      this.fitted = true;
      this.resize();
    }
  }

  /** Reports whether a site with this id is on the map. */
  hasStall(id) {
    return this.stalls.has(String(id));
  }

  /** The site entry {id, kind, feature, marker, state}. */
  stall(id) {
    return this.stalls.get(String(id)) || null;
  }

  /** Number of site markers shown (after the filter). */
  shownCount() {
    let n = 0;
    for (const s of this.stalls.values()) if (s.shown) n++;
    return n;
  }

  /**
   * Sets a site's latest state (a stall state from the snapshot or a
   * delta) and recolours its marker. Returns the previous verdict
   * ("" when it had none), or undefined when the site is unknown.
   */
  setStallState(st) {
    const s = this.stalls.get(String(st.stall_id));
    if (!s) return undefined;
    const prev = s.state ? s.state.verdict : "";
    s.state = st;
    this.restyle(s);
    if (this.filter) this.place(s);
    this.updateHalo(s.id);
    return prev;
  }

  /** Clears every site's state (before a snapshot is applied). */
  clearStates() {
    for (const s of this.stalls.values()) {
      if (!s.state) continue;
      s.state = null;
      this.restyle(s);
      if (this.filter) this.place(s);
      this.updateHalo(s.id);
    }
  }

  /**
   * A pulsing ring around positive (and failed) sites, so they stand out
   * among thousands of markers. Positives are few, so DOM markers are fine.
   */
  updateHalo(id) {
    const s = this.stalls.get(String(id));
    if (!s) return;
    const alarming = s.shown && ALARMING.has(shownVerdict(s.state));
    if (alarming && !s.halo) {
      s.halo = L.marker(s.marker.getLatLng(), {
        icon: L.divIcon({ className: "halo", html: "", iconSize: [30, 30] }),
        interactive: false,
        keyboard: false,
      }).addTo(this.haloLayer);
      s.halo.getElement().dataset.site = s.id;
    } else if (!alarming && s.halo) {
      s.halo.remove();
      s.halo = null;
    }
  }

  /** Makes a site's halo flash for a few seconds (a new positive). */
  flash(id) {
    const s = this.stalls.get(String(id));
    if (!s || !s.halo) return;
    const el = s.halo.getElement();
    if (!el) return;
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
    clearTimeout(s.flashTimer);
    s.flashTimer = setTimeout(() => el.classList.remove("flash"), 6000);
  }

  /** Counts the shown sites by the verdict they are drawn with ("none" for not tested). */
  counts() {
    const c = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0]));
    for (const s of this.stalls.values()) {
      if (!s.shown) continue;
      const v = shownVerdict(s.state) || "none";
      c[v in c ? v : "invalid"]++;
    }
    return c;
  }

  /** Opens a popup on a site. content is a DOM node. */
  openPopup(id, content) {
    const s = this.stalls.get(String(id));
    if (!s) return;
    if (this.popupStallId === String(id) && this.popup && this.popup.isOpen()) {
      this.popup.setContent(content); // dom: node; refresh in place (a live update, a language switch)
      return;
    }
    this.popup = L.popup({ maxWidth: 320, minWidth: 220, autoPanPadding: [40, 40], className: "stall-popup", offset: s.kind === "stall" ? [0, 0] : [0, -6] })
      .setLatLng(s.marker.getLatLng())
      .setContent(content) // dom: node
      .openOn(this.map);
    this.popupStallId = String(id);
  }

  closePopup() {
    this.map.closePopup();
  }

  /** Centres the map on a site. */
  panTo(id) {
    const s = this.stalls.get(String(id));
    if (s) this.map.panTo(s.marker.getLatLng());
  }

  /** Centres the map on a stored WGS-84 point. */
  panToPoint(p) {
    if (p && (p.lon || p.lat)) this.map.panTo(this.at(p.lon, p.lat));
  }

  // --- kitchens' readiness ---

  /** Sets the readiness of kitchens from the events' readiness reports. */
  setReadiness(events) {
    this.readiness.clear();
    for (const ev of events || []) {
      for (const k of (ev.readiness && ev.readiness.kitchens) || []) {
        const id = k.kitchen_id;
        if (!id) continue;
        const open = k.open || [];
        this.readiness.set(id, { done: k.done || 0, total: k.total || 0, ready: open.length === 0, event: ev.id, open });
      }
    }
    for (const s of this.stalls.values()) if (s.kind === "kitchen") this.restyle(s);
  }

  // --- banquets ---

  setBanquets(list) {
    for (const s of this.stalls.values()) if (s.banquet) s.banquet = null;
    for (const e of this.banquetOnly.values()) e.marker.remove();
    this.banquetOnly.clear();
    for (const b of list || []) this.setBanquet(b, true);
    for (const s of this.stalls.values()) if (s.kind === "banquet") this.restyle(s);
  }

  /** Sets or updates a banquet (REST form). */
  setBanquet(b, quiet) {
    const s = this.stalls.get(b.id);
    if (s) {
      s.banquet = b;
      if (!quiet) this.restyle(s);
      return;
    }
    if (!b.point) return;
    let e = this.banquetOnly.get(b.id);
    const icon = L.divIcon({
      className: "site-icon banquet-icon",
      html: `<b class="bq st-${escapeHTML(b.state)}" data-banquet="${escapeHTML(b.id)}" data-state="${escapeHTML(b.state)}"><span>${escapeHTML(t("map.banquetGlyph"))}</span></b>`,
      iconSize: [22, 22],
    });
    if (!e) {
      e = { record: b, marker: L.marker(this.at(b.point.lon, b.point.lat), { icon, keyboard: false }) };
      e.marker.on("click", () => this.hooks.onBanquetClick(b.id));
      e.marker.addTo(this.banquetLayer);
      this.banquetOnly.set(b.id, e);
    } else {
      e.record = b;
      e.marker.setLatLng(this.at(b.point.lon, b.point.lat));
      e.marker.setIcon(icon);
    }
    e.marker.unbindTooltip();
    e.marker.bindTooltip(el("span", {}, `${t("kind.banquet")} · ${label(b.state)}`), { direction: "top", offset: [0, -10] });
    this.declutter.soon();
  }

  dropBanquetOnly(id) {
    const e = this.banquetOnly.get(id);
    if (e) {
      e.marker.remove();
      this.banquetOnly.delete(id);
    }
  }

  banquet(id) {
    const s = this.stalls.get(id);
    if (s && s.banquet) return s.banquet;
    const e = this.banquetOnly.get(id);
    return e ? e.record : null;
  }

  // --- teams ---

  setTeams(list) {
    for (const e of this.teams.values()) {
      e.marker.remove();
      if (e.line) e.line.remove();
    }
    this.teams.clear();
    for (const tm of list || []) this.setTeam(tm);
  }

  /** Sets or moves a team (a team delta). */
  setTeam(tm) {
    let e = this.teams.get(tm.id);
    const p = tm.position || tm.home;
    if (!p) {
      if (e) {
        e.marker.remove();
        if (e.line) e.line.remove();
        this.teams.delete(tm.id);
      }
      return;
    }
    const ll = this.at(p.lon, p.lat);
    const icon = L.divIcon({
      className: "team-icon",
      html: `<span class="team st-${escapeHTML(tm.status || "")}" data-team="${escapeHTML(tm.id)}" data-status="${escapeHTML(tm.status || "")}"><i></i>${escapeHTML(teamName(tm))}</span>`,
      iconSize: null,
      iconAnchor: [8, 8],
    });
    if (!e) {
      e = { team: tm, marker: L.marker(ll, { icon, keyboard: false, zIndexOffset: 500 }), line: null };
      e.marker.on("click", () => this.hooks.onTeamClick(tm.id));
      e.marker.addTo(this.teamLayer);
      this.teams.set(tm.id, e);
    } else {
      e.team = tm;
      e.marker.setLatLng(ll);
      e.marker.setIcon(icon);
    }
    e.marker.unbindTooltip();
    e.marker.bindTooltip(el("span", {}, `${t("kind.team")} ${teamName(tm)} · ${label(tm.status)}${tm.incident_id ? ` · ${tm.incident_id}` : ""}`), { direction: "top", offset: [0, -10] });
    this.teamLine(e);
    this.declutter.soon();
  }

  /** A dashed line from a busy team to its incident. */
  teamLine(e) {
    const inc = e.team.incident_id && this.incidents.get(e.team.incident_id);
    const w = inc && inc.incident.trigger && inc.incident.trigger.where;
    if (!w || e.team.status !== "busy") {
      if (e.line) e.line.remove();
      e.line = null;
      return;
    }
    const pts = [e.marker.getLatLng(), this.at(w.lon, w.lat)];
    if (!e.line) e.line = L.polyline(pts, { color: "#c45a00", weight: 2, dashArray: "5 5", interactive: false }).addTo(this.teamLayer);
    else e.line.setLatLngs(pts);
  }

  team(id) {
    const e = this.teams.get(id);
    return e ? e.team : null;
  }

  // --- incidents ---

  setIncidents(list) {
    for (const e of this.incidents.values()) e.marker.remove();
    this.incidents.clear();
    for (const inc of list || []) this.setIncident(inc);
  }

  /** Sets or updates an incident (an incident delta): a tag above its site while open. */
  setIncident(inc) {
    let e = this.incidents.get(inc.id);
    const w = inc.trigger && inc.trigger.where;
    if (inc.state === "closed" || !w) {
      if (e) e.marker.remove();
      if (e) e.shown = false;
      if (e) e.incident = inc;
      else this.incidents.set(inc.id, { incident: inc, marker: L.marker([0, 0]), shown: false });
      for (const te of this.teams.values()) this.teamLine(te);
      return;
    }
    const overdue = inc.due && new Date(inc.due) < new Date();
    const icon = L.divIcon({
      className: "incident-icon",
      html: `<span class="inc st-${escapeHTML(inc.state)}${overdue ? " overdue" : ""}" data-incident="${escapeHTML(inc.id)}" data-state="${escapeHTML(inc.state)}">${escapeHTML(label(inc.state))}</span>`,
      iconSize: null,
      iconAnchor: [-8, 26],
    });
    if (!e) {
      e = { incident: inc, marker: L.marker(this.at(w.lon, w.lat), { icon, keyboard: false, zIndexOffset: 800 }), shown: false };
      e.marker.on("click", () => this.hooks.onIncidentClick(e.incident.id));
      this.incidents.set(inc.id, e);
    } else {
      e.incident = inc;
      e.marker.setLatLng(this.at(w.lon, w.lat));
      e.marker.setIcon(icon);
    }
    this.placeIncident(e);
    for (const te of this.teams.values()) this.teamLine(te);
    this.declutter.soon();
  }

  placeIncident(e) {
    const inc = e.incident;
    const open = inc.state !== "closed" && inc.trigger && inc.trigger.where;
    const site = this.stalls.get(inc.trigger && inc.trigger.subject_id);
    const show = !!open && (!this.filter || !site || site.shown);
    if (show && !e.shown) e.marker.addTo(this.incidentLayer);
    if (!show && e.shown) e.marker.remove();
    if (show !== e.shown) this.declutter.soon();
    e.shown = show;
  }

  // --- kiosks ---

  /** Sets or updates a kiosk (a kiosk state from the snapshot or a delta). */
  setKiosk(k) {
    let entry = this.kiosks.get(k.kiosk_id);
    if (!entry) {
      entry = { state: k, marker: null };
      this.kiosks.set(k.kiosk_id, entry);
    }
    entry.state = { ...entry.state, ...k };
    const ll = this.kioskLatLng(entry.state);
    entry.beside = !(entry.state.lat || entry.state.lon); // drawn beside its site (declutter picks the side)
    if (!ll) {
      if (entry.marker) entry.marker.remove();
      entry.marker = null;
      return;
    }
    const st = entry.state;
    const icon = L.divIcon({
      className: `kiosk-marker ${st.online ? "online" : "offline"}`,
      html: st.pending ? `<i class="queue">${Number(st.pending) > 99 ? "99+" : Number(st.pending) || 0}</i>` : "",
      iconSize: [16, 11],
    });
    if (!entry.marker) {
      entry.marker = L.marker(ll, { icon, keyboard: false, zIndexOffset: -100 }).addTo(this.kioskLayer);
    } else {
      entry.marker.setLatLng(ll);
      entry.marker.setIcon(icon);
    }
    entry.marker.unbindTooltip();
    entry.marker.bindTooltip(this.kioskTooltip(st), { direction: "top", offset: [0, -8] }); // dom: node
    this.declutter.soon();
  }

  kioskLatLng(k) {
    if (k.lat || k.lon) return this.at(k.lon, k.lat);
    // At the site it serves; declutter draws it beside the site, on a
    // side where it covers nothing.
    const s = k.site_id && this.stalls.get(k.site_id);
    return s ? s.marker.getLatLng() : null;
  }

  kioskTooltip(k) {
    const state = k.online ? t("kiosk.online") : t("kiosk.offline");
    const queue = k.pending ? ` · ${t("kiosk.pending", { n: k.pending })}` : "";
    return el("span", {}, `${t("kind.kiosk")} ${k.name || k.kiosk_id} · ${state}${queue}`);
  }

  /** Replaces every kiosk (snapshot). */
  setKiosks(list) {
    this.kioskLayer.clearLayers();
    this.kiosks.clear();
    for (const k of list || []) this.setKiosk(k);
  }

  /** Redraws language-dependent map text. */
  relabel() {
    this.labelZones();
    this.buildLayerControl();
    for (const e of this.kiosks.values()) if (e.marker) this.setKiosk(e.state);
    for (const e of this.teams.values()) this.setTeam(e.team);
    for (const e of this.incidents.values()) this.setIncident(e.incident);
    for (const e of this.banquetOnly.values()) this.setBanquet(e.record);
    for (const s of this.stalls.values()) if (s.kind !== "stall") this.restyle(s);
  }

  /** The verdict label of a site, for tests and tooltips. */
  verdictLabelOf(id) {
    const s = this.stalls.get(String(id));
    return verdictLabel(s ? shownVerdict(s.state) : "");
  }
}

/** A team's name in the current language. */
export function teamName(tm) {
  return featureName({ name: tm.name, name_en: tm.name_en }) || tm.id;
}

/** "中文 / English" → the current language's half. */
function pickName(s) {
  return featureName({ name: s.split(" / ")[0], name_en: s.split(" / ")[1] });
}
