// filters: what the map, the result list and the incident list show —
// by major event, vendor zone, latest verdict, analyte and time. A site
// matches on its latest result (a stall whose latest result is negative
// is not shown under "positive" even if it had one earlier); the time
// filter keeps the sites tested within the window.

import { eventDay } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import { t, featureName, verdictLabel, analyteLabel } from "./i18n.js";
import { el } from "./panels.js";

const VERDICTS = ["positive", "suspicious", "negative", "invalid", "fail", "none"];
const WINDOWS = { "1h": 3600e3, "4h": 4 * 3600e3, "24h": 24 * 3600e3 };

export class Filters {
  /**
   * @param {HTMLElement} root the filter bar
   * @param {object} o
   * @param {() => void} o.onChange
   * @param {(id: string) => string} o.zoneName
   * @param {{node: HTMLElement, relabel: () => void}} [o.search] the stall search, first in the bar
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.value = { event: "", zone: "", verdict: "", analyte: "", time: "" };
    this.zones = []; // zone features (not venues)
    this.zoneEvent = new Map(); // zone id → event id
    this.events = new Map(); // event id → name
    this.analytes = new Set();
    this.selects = {};
    for (const name of Object.keys(this.value)) {
      const s = el("select", { name, dataset: { filter: name }, onchange: () => this.set(name, s.value) });
      this.selects[name] = s;
    }
    this.clearBtn = el("button", { type: "button", class: "clear", onclick: () => this.clear() });
    this.toggleBtn = el("button", { type: "button", class: "filters-toggle", onclick: () => root.classList.toggle("open") });
  }

  set(name, v) {
    this.value[name] = v;
    this.renderState();
    this.o.onChange();
  }

  clear() {
    for (const k of Object.keys(this.value)) this.value[k] = "";
    this.relabel();
    this.o.onChange();
  }

  active() {
    return Object.values(this.value).some((v) => v !== "");
  }

  setSites(zones, stalls) {
    this.zones = ((zones && zones.features) || []).filter((f) => f.properties.kind !== "venue");
    this.zoneEvent.clear();
    for (const z of (zones && zones.features) || []) if (z.properties.event_id) this.zoneEvent.set(String(z.id), z.properties.event_id);
    for (const f of (stalls && stalls.features) || []) {
      const ev = f.properties.event_id;
      if (ev && !this.events.has(ev)) this.events.set(ev, ev);
      if (f.properties.analyte) this.analytes.add(f.properties.analyte);
    }
    for (const ev of this.zoneEvent.values()) if (!this.events.has(ev)) this.events.set(ev, ev);
    this.relabel();
  }

  setEvents(list) {
    for (const ev of list || []) this.events.set(ev.id, (ev.filing && ev.filing.name) || ev.id);
    this.relabel();
  }

  /** Remembers the analytes seen, for the analyte choice. */
  addResults(list) {
    let added = false;
    for (const r of list || []) {
      if (r.analyte && !this.analytes.has(r.analyte)) {
        this.analytes.add(r.analyte);
        added = true;
      }
    }
    if (added) this.renderOptions("analyte");
  }

  eventOfSite(s) {
    if (!s) return "";
    const p = s.feature.properties;
    return p.event_id || this.zoneEvent.get(p.zone) || "";
  }

  /** Whether a site entry (venue-map's) passes the filters. */
  matchSite(s) {
    const v = this.value;
    const p = s.feature.properties;
    const st = s.state;
    if (v.event && this.eventOfSite(s) !== v.event) return false;
    if (v.zone && p.zone !== v.zone) return false;
    if (v.verdict && (st ? st.verdict : "none") !== v.verdict) return false;
    if (v.analyte && (!st || st.analyte !== v.analyte)) return false;
    if (v.time && (!st || !within(st.measured_at, v.time))) return false;
    return true;
  }

  matchResult(r, site) {
    const v = this.value;
    if (v.event && (r.event_id || this.eventOfSite(site)) !== v.event) return false;
    if (v.zone && (!site || site.feature.properties.zone !== v.zone)) return false;
    const verdict = r.derived ? r.derived.verdict : r.verdict;
    if (v.verdict && v.verdict !== "none" && verdict !== v.verdict) return false;
    if (v.verdict === "none") return false;
    if (v.analyte && r.analyte !== v.analyte) return false;
    if (v.time && !within(r.measured_at, v.time)) return false;
    return true;
  }

  matchIncident(inc, site) {
    const v = this.value;
    const tr = inc.trigger || {};
    if (v.event && (tr.event_id || this.eventOfSite(site)) !== v.event) return false;
    if (v.zone && (!site || site.feature.properties.zone !== v.zone)) return false;
    if (v.analyte && inc.analyte && inc.analyte !== v.analyte) return false;
    if (v.time && !within(inc.opened_at, v.time)) return false;
    return true;
  }

  renderOptions(name) {
    const s = this.selects[name];
    const opts = [["", t(`filter.all.${name}`)]];
    if (name === "event") for (const [id, n] of this.events) opts.push([id, n]);
    if (name === "zone") for (const z of this.zones) opts.push([String(z.id), featureName(z.properties)]);
    if (name === "verdict") for (const v of VERDICTS) opts.push([v, verdictLabel(v === "none" ? "" : v)]);
    if (name === "analyte") for (const a of [...this.analytes].sort()) opts.push([a, analyteLabel(a)]);
    if (name === "time") for (const w of Object.keys(WINDOWS).concat("today")) opts.push([w, t(`filter.time.${w}`)]);
    s.replaceChildren(...opts.map(([v, text]) => el("option", { value: v }, text)));
    s.value = this.value[name];
    if (s.value !== this.value[name]) s.value = "";
  }

  renderState() {
    const n = Object.values(this.value).filter((v) => v !== "").length;
    this.root.dataset.active = n ? String(n) : "";
    this.clearBtn.hidden = !n;
    this.toggleBtn.textContent = n ? t("filter.toggleN", { n }) : t("filter.toggle");
  }

  relabel() {
    for (const name of Object.keys(this.selects)) this.renderOptions(name);
    this.clearBtn.textContent = t("filter.clear");
    const fields = Object.entries(this.selects).map(([name, s]) => el("label", { class: `f-${name}` }, el("span", {}, t(`filter.${name}`)), s));
    if (this.o.search) this.o.search.relabel();
    this.root.replaceChildren(...(this.o.search ? [this.o.search.node] : []), this.toggleBtn, el("div", { class: "filter-fields" }, ...fields, this.clearBtn));
    this.renderState();
  }
}

function within(iso, w) {
  if (!iso) return false;
  const at = new Date(iso).getTime();
  if (w === "today") return eventDay(at) === eventDay(); // the event's day, not the browser's
  return Date.now() - at <= WINDOWS[w];
}
