// venue-map: the Leaflet map of the command centre.
//
// No tile server: the base map is the venue plan drawn from the zones
// (GeoJSON polygons) on a plain background. Stalls, kitchens and banquet
// sites are circle markers on one shared canvas renderer, so that ten
// thousand of them stay smooth; a stall's colour is its latest verdict.
// Kiosks are few and drawn as small DOM markers.
//
// Coordinates are WGS-84 as stored; converting to GCJ-02 / BD-09 only
// matters once a street tile layer is added (issue 6).

import { t, featureName, verdictLabel } from "./i18n.js";

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
const OUTLINE = "#4a5562";

/** The verdict groups the header counts, in display order. */
export const VERDICT_ORDER = ["negative", "suspicious", "positive", "invalid", "pass", "caution", "fail", "na", "none"];

/**
 * Marker size by zoom: full size when stalls are metres apart on screen,
 * smaller in the city-wide view so that thousands of them do not merge
 * into one blot.
 */
function sizeFor(kind, zoom) {
  const big = kind === "kitchen" || kind === "banquet";
  const scale = zoom >= 17 ? 1 : zoom >= 16 ? 0.75 : zoom >= 15 ? 0.55 : 0.4;
  return { radius: Math.max(2.5, (big ? 9 : 7) * scale), weight: scale < 0.6 ? 1 : big ? 2.5 : 1.5 };
}

function styleFor(kind, verdict, zoom) {
  const fill = verdict ? VERDICT_COLOURS[verdict] || VERDICT_COLOURS.invalid : NONE_FILL;
  return { ...sizeFor(kind, zoom), color: OUTLINE, opacity: 1, fillColor: fill, fillOpacity: 1 };
}

export class VenueMap {
  /**
   * @param {HTMLElement} el the map container
   * @param {object} hooks
   * @param {(id: string) => void} hooks.onStallClick
   */
  constructor(el, hooks) {
    this.hooks = hooks;
    this.map = L.map(el, {
      zoomControl: true,
      attributionControl: false,
      preferCanvas: true,
      zoomSnap: 0.25,
      minZoom: 3,
      maxZoom: 22,
    });
    this.renderer = L.canvas({ padding: 0.5, tolerance: 4 });
    this.zoneLayer = L.featureGroup().addTo(this.map);
    this.stallLayer = L.featureGroup().addTo(this.map);
    this.kioskLayer = L.featureGroup().addTo(this.map);
    this.haloLayer = L.featureGroup().addTo(this.map);
    this.zones = new Map(); // id → {feature, layer}
    this.stalls = new Map(); // id → {feature, marker, state, halo}
    this.kiosks = new Map(); // id → {state, marker}
    this.layerControl = null;
    this.fitted = false;
    this.popupStallId = null; // the site whose popup is open
    this.moving = false; // a pan or zoom is under way
    this.map.on("movestart zoomstart", () => (this.moving = true));
    this.map.on("moveend zoomend", () => (this.moving = false));
    this.sizedAt = null; // the zoom the markers were sized for
    this.map.on("zoomend", () => this.resize());
    this.map.on("popupclose", () => (this.popupStallId = null));

    this.stallLayer.on("click", (e) => {
      const id = e.layer && e.layer.options && e.layer.options.stallId;
      if (id) this.hooks.onStallClick(id);
    });
    this.homeControl = null;
    this.map.setView([31.98, 120.89], 14); // Nantong, until the zones arrive
    // Leaflet only watches the window; the header can change height (a
    // language switch wraps the counts), so watch the container itself.
    if (window.ResizeObserver) new ResizeObserver(() => this.map.invalidateSize({ pan: false })).observe(el);
    this.buildLayerControl();
  }

  /** Resizes every site marker for the current zoom (only when the size class changes). */
  resize() {
    const z = this.map.getZoom();
    const key = JSON.stringify(sizeFor("stall", z));
    if (key === this.sizedAt) return;
    this.sizedAt = key;
    for (const s of this.stalls.values()) {
      const size = sizeFor(s.feature.properties.kind, z);
      s.marker.setStyle({ weight: size.weight });
      s.marker.setRadius(size.radius);
    }
  }

  /** Shows the whole venue. */
  home() {
    const b = this.zoneLayer.getLayers().length ? this.zoneLayer.getBounds() : this.stallLayer.getBounds();
    if (b && b.isValid()) this.map.fitBounds(b, { padding: [24, 24] });
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
    this.layerControl = L.control
      .layers(
        null,
        {
          [t("layer.zones")]: this.zoneLayer,
          [t("layer.stalls")]: this.stallLayer,
          [t("layer.kiosks")]: this.kioskLayer,
        },
        // Open on a wall screen, a button on a phone.
        { collapsed: window.matchMedia("(max-width: 760px)").matches, position: "topright" },
      )
      .addTo(this.map);
  }

  /** Draws the venue plan from a GeoJSON FeatureCollection of zones and venues. */
  setZones(fc) {
    this.zoneLayer.clearLayers();
    this.zones.clear();
    const features = (fc && fc.features) || [];
    // Venues first so that zones draw on top of them.
    features.sort((a, b) => (a.properties.kind === "venue" ? 0 : 1) - (b.properties.kind === "venue" ? 0 : 1));
    for (const f of features) {
      const venue = f.properties.kind === "venue";
      const layer = L.geoJSON(f, {
        renderer: this.renderer,
        interactive: false,
        style: venue
          ? { color: "#7d8896", weight: 2, dashArray: "6 4", fillColor: "#eef1f4", fillOpacity: 1 }
          : { color: "#5c7fa3", weight: 1.5, fillColor: "#dbe7f3", fillOpacity: 0.9 },
      });
      layer.addTo(this.zoneLayer);
      this.zones.set(String(f.id), { feature: f, layer });
    }
    this.labelZones();
    this.fit();
  }

  /** Puts each zone's name at its centre, in the current language. */
  labelZones() {
    for (const { feature, layer } of this.zones.values()) {
      layer.unbindTooltip();
      if (feature.properties.kind === "venue") continue;
      layer.bindTooltip(featureName(feature.properties), {
        permanent: true,
        direction: "center",
        className: "zone-label",
        interactive: false,
      });
    }
  }

  /** Returns the zone feature with this id, if any. */
  zone(id) {
    const z = this.zones.get(String(id));
    return z ? z.feature : null;
  }

  /** Replaces every site from a GeoJSON FeatureCollection of points. */
  setStalls(fc) {
    this.stallLayer.clearLayers();
    this.haloLayer.clearLayers();
    this.stalls.clear();
    for (const f of (fc && fc.features) || []) {
      if (!f.geometry || f.geometry.type !== "Point") continue;
      const id = String(f.id);
      const p = f.properties;
      const state = p.verdict
        ? { stall_id: id, verdict: p.verdict, value: p.value, unit: p.unit, method: p.method, analyte: p.analyte, measured_at: p.measured_at, result_id: p.result_id }
        : null;
      const [lon, lat] = f.geometry.coordinates;
      const marker = L.circleMarker([lat, lon], { renderer: this.renderer, stallId: id, ...styleFor(p.kind, state && state.verdict, this.map.getZoom()) });
      marker.addTo(this.stallLayer);
      this.stalls.set(id, { feature: f, marker, state, halo: null });
      this.updateHalo(id);
    }
    this.fit();
  }

  /** Fits the view to the venue once, when there is something to show. */
  fit() {
    if (this.fitted) return;
    const b = this.zoneLayer.getLayers().length ? this.zoneLayer.getBounds() : this.stallLayer.getBounds();
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

  /** The site entry {feature, marker, state}. */
  stall(id) {
    return this.stalls.get(String(id)) || null;
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
    s.marker.setStyle(styleFor(s.feature.properties.kind, st.verdict, this.map.getZoom()));
    this.updateHalo(st.stall_id);
    return prev;
  }

  /** Clears every site's state (before a snapshot is applied). */
  clearStates() {
    for (const [id, s] of this.stalls) {
      if (!s.state) continue;
      s.state = null;
      s.marker.setStyle(styleFor(s.feature.properties.kind, "", this.map.getZoom()));
      this.updateHalo(id);
    }
  }

  /**
   * A pulsing ring around positive (and failed) sites, so they stand out
   * among thousands of markers. Positives are few, so DOM markers are fine.
   */
  updateHalo(id) {
    const s = this.stalls.get(String(id));
    if (!s) return;
    const alarming = s.state && (s.state.verdict === "positive" || s.state.verdict === "fail");
    if (alarming && !s.halo) {
      s.halo = L.marker(s.marker.getLatLng(), {
        icon: L.divIcon({ className: "halo", html: "", iconSize: [30, 30] }),
        interactive: false,
        keyboard: false,
      }).addTo(this.haloLayer);
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
  }

  /** Counts sites by their latest verdict ("none" for not tested). */
  counts() {
    const c = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0]));
    for (const s of this.stalls.values()) {
      const v = s.state ? s.state.verdict : "none";
      c[v in c ? v : "invalid"]++;
    }
    return c;
  }

  /** Opens a popup on a site. content is a DOM node. */
  openPopup(id, content) {
    const s = this.stalls.get(String(id));
    if (!s) return;
    if (this.popupStallId === String(id) && this.popup && this.popup.isOpen()) {
      this.popup.setContent(content); // refresh in place (a live update, a language switch)
      return;
    }
    this.popup = L.popup({ maxWidth: 320, minWidth: 220, autoPanPadding: [40, 40], className: "stall-popup" })
      .setLatLng(s.marker.getLatLng())
      .setContent(content)
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

  /** Sets or updates a kiosk (a kiosk state from the snapshot or a delta). */
  setKiosk(k) {
    let entry = this.kiosks.get(k.kiosk_id);
    if (!entry) {
      entry = { state: k, marker: null };
      this.kiosks.set(k.kiosk_id, entry);
    }
    entry.state = { ...entry.state, ...k };
    const ll = this.kioskLatLng(entry.state);
    if (!ll) {
      if (entry.marker) entry.marker.remove();
      entry.marker = null;
      return;
    }
    const cls = `kiosk-marker ${entry.state.online ? "online" : "offline"}`;
    if (!entry.marker) {
      entry.marker = L.marker(ll, {
        icon: L.divIcon({ className: cls, html: "", iconSize: [14, 14] }),
        keyboard: false,
        zIndexOffset: -100,
      }).addTo(this.kioskLayer);
    } else {
      entry.marker.setLatLng(ll);
      entry.marker.setIcon(L.divIcon({ className: cls, html: "", iconSize: [14, 14] }));
    }
    entry.marker.unbindTooltip();
    entry.marker.bindTooltip(this.kioskTooltip(entry.state), { direction: "top", offset: [0, -8] });
  }

  kioskLatLng(k) {
    if (k.lat || k.lon) return L.latLng(k.lat, k.lon);
    const s = k.site_id && this.stalls.get(k.site_id);
    if (s) {
      // Beside the site it serves, so the two markers do not overlap.
      const p = this.map.project(s.marker.getLatLng(), 18).add([14, -14]);
      return this.map.unproject(p, 18);
    }
    return null;
  }

  kioskTooltip(k) {
    const state = k.online ? t("kiosk.online") : t("kiosk.offline");
    return `${t("kind.kiosk")} ${escapeHTML(k.name || k.kiosk_id)} · ${state}`;
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
  }

  /** The verdict label of a site, for tests and tooltips. */
  verdictLabelOf(id) {
    const s = this.stalls.get(String(id));
    return verdictLabel(s && s.state ? s.state.verdict : "");
  }
}

/** Escapes text for the few places Leaflet takes an HTML string. */
export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
