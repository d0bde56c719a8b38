// app: the command centre page. It decides between the login form and the
// live map, wires the live link to the map and the side panel, and keeps
// the header (link state, counts by verdict, user, language) current.
//
// Flow: GET /api/v1/me → 401: login form; else load zones and stalls over
// REST, draw them, open /ws/live (snapshot, then deltas). A small
// read-only window.shian object describes what the page shows, for
// debugging in the console and for the browser tests.

import * as api from "./api.js";
import { t, both, getLang, setLang, applyI18n, featureName, verdictLabel } from "./i18n.js";
import { LiveLink, liveURL } from "./live.js";
import { VenueMap } from "./venue-map.js";
import { Panels, renderCounts, stallPopup, effective } from "./panels.js";

const $ = (sel) => document.querySelector(sel);

/** Shows a message instead of the page (the page cannot work). */
function bootError(msg) {
  const box = $("#boot-error");
  box.textContent = msg;
  box.hidden = false;
  $("#login").hidden = true;
  $("#app").hidden = true;
  document.body.dataset.state = "error";
}

class App {
  constructor() {
    this.user = null;
    this.map = null;
    this.panels = null;
    this.link = null;
    this.linkState = "offline";
    this.countsTimer = 0;
    this.refetching = null;
  }

  async start() {
    applyI18n(document);
    $("#lang").addEventListener("click", () => this.toggleLang());
    $("#lang-login").addEventListener("click", () => this.toggleLang());
    $("#login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.login();
    });
    $("#logout").addEventListener("click", () => this.logout());
    try {
      this.user = await api.me();
    } catch (err) {
      if (err.status === 401) return this.showLogin();
      return bootError(t("boot.failed", { msg: err.message }));
    }
    await this.showApp();
  }

  toggleLang() {
    setLang(getLang() === "zh" ? "en" : "zh");
    if (this.map) {
      this.map.relabel();
      this.refreshPopup();
    }
    if (this.panels) this.panels.relabel();
    this.renderHeader();
  }

  // --- login / logout ---

  showLogin(message) {
    $("#app").hidden = true;
    $("#login").hidden = false;
    const err = $("#login-error");
    err.textContent = message || "";
    err.hidden = !message;
    document.body.dataset.state = "login";
    $("#login-user").focus();
  }

  async login() {
    const user = $("#login-user").value.trim();
    const password = $("#login-password").value;
    const btn = $("#login-submit");
    const err = $("#login-error");
    btn.disabled = true;
    btn.textContent = t("login.busy");
    err.hidden = true;
    try {
      this.user = await api.login(user, password);
    } catch (e) {
      err.textContent = e.status === 401 ? t("login.bad") : e.status === 429 ? t("login.throttled") : t("login.error", { msg: e.message });
      err.hidden = false;
      return;
    } finally {
      btn.disabled = false;
      btn.textContent = t("login.submit");
    }
    $("#login-password").value = "";
    await this.showApp();
  }

  async logout() {
    if (this.link) this.link.stop();
    try {
      await api.logout();
    } catch (e) {
      console.warn("logout:", e);
    }
    this.user = null;
    this.showLogin();
  }

  /** The session ended while the map was open (expired, or logged out elsewhere). */
  sessionLost() {
    if (this.link) this.link.stop();
    this.user = null;
    this.showLogin(t("login.expired"));
  }

  // --- the live map ---

  async showApp() {
    $("#login").hidden = true;
    $("#app").hidden = false;
    document.body.dataset.state = "app";
    if (!this.map) {
      this.map = new VenueMap($("#map"), { onStallClick: (id) => this.openStall(id) });
      this.panels = new Panels($("#side"), {
        siteName: (id) => this.siteName(id),
        zoneName: (id) => this.zoneName(id),
        onPick: (id) => {
          this.map.panTo(id);
          this.openStall(id);
        },
      });
      this.panels.relabel();
    } else {
      // Shown again after a new login: Leaflet must measure the container again.
      this.map.map.invalidateSize();
    }
    this.renderHeader();
    try {
      await this.loadSites();
    } catch (err) {
      if (err.status === 401) return this.sessionLost();
      console.error("loading the venue failed", err);
    }
    this.loadAlerts();
    if (!this.link) {
      this.link = new LiveLink({
        url: liveURL(),
        onSnapshot: (s) => this.applySnapshot(s),
        onDelta: (kind, data) => this.applyDelta(kind, data),
        onState: (s) => {
          this.linkState = s;
          this.renderHeader();
        },
        onClosed: () => this.checkSession(),
        onAuthLost: () => this.sessionLost(),
      });
    }
    this.link.start();
    $("#app").dataset.ready = "1";
  }

  /** Loads zones and sites over REST and draws them. */
  async loadSites() {
    const [zones, stalls] = await Promise.all([api.zones(), api.stalls()]);
    this.map.setZones(zones);
    this.map.setStalls(stalls);
    $("#no-sites").hidden = (zones.features || []).length + (stalls.features || []).length > 0;
    this.scheduleCounts();
  }

  async loadAlerts() {
    try {
      this.panels.setAlerts(await api.alarms(50));
    } catch (err) {
      console.warn("loading alerts failed", err);
    }
  }

  /**
   * After a dropped link: a websocket handshake refused for want of a
   * session shows only as a close, so ask /me whether we are still in.
   */
  async checkSession() {
    try {
      await api.me();
    } catch (err) {
      if (err.status === 401) this.sessionLost();
    }
  }

  applySnapshot(s) {
    this.map.clearStates();
    let unknown = false;
    for (const st of s.stalls || []) {
      if (this.map.setStallState(st) === undefined) unknown = true;
    }
    this.map.setKiosks(s.kiosks);
    this.panels.setKiosks(s.kiosks);
    this.panels.setResults(s.results);
    if (s.extra && s.extra.alerts) this.panels.setAlerts(s.extra.alerts);
    // A site we do not know was imported while we were away: reload them
    // (Traccar's "refetch over REST after a reconnect").
    if (unknown) this.refetchSites(s);
    this.scheduleCounts();
  }

  refetchSites(snapshot) {
    if (this.refetching) return;
    this.refetching = this.loadSites()
      .then(() => {
        for (const st of snapshot.stalls || []) this.map.setStallState(st);
        this.scheduleCounts();
      })
      .catch((err) => console.warn("reloading sites failed", err))
      .finally(() => (this.refetching = null));
  }

  applyDelta(kind, data) {
    switch (kind) {
      case "stall": {
        const prev = this.map.setStallState(data);
        if (prev === undefined) {
          this.refetchSites({ stalls: [data] });
          break;
        }
        if ((data.verdict === "positive" || data.verdict === "fail") && prev !== data.verdict) this.map.flash(data.stall_id);
        if (this.map.popupStallId === String(data.stall_id)) this.refreshPopup();
        this.scheduleCounts();
        break;
      }
      case "result":
        this.panels.addResult(data);
        break;
      case "kiosk":
        this.map.setKiosk(data);
        this.panels.upsertKiosk(data);
        break;
      case "alert":
        this.panels.upsertAlert(data);
        break;
      default:
      // incident, team, event, banquet: shown by later screens (issue 6).
    }
  }

  /** Recounts at most once per frame, however many deltas arrive. */
  scheduleCounts() {
    if (this.countsTimer) return;
    this.countsTimer = requestAnimationFrame(() => {
      this.countsTimer = 0;
      renderCounts($("#counts"), this.map.counts());
    });
  }

  renderHeader() {
    const link = $("#link");
    link.dataset.state = this.linkState;
    $("#link-text").textContent = t(`link.${this.linkState}`);
    if (this.user) {
      const u = $("#user");
      u.textContent = this.user.display_name ? t("header.userName", { display: this.user.display_name, name: this.user.name }) : this.user.name;
      u.title = `${t("header.user")}: ${this.user.name} (${this.user.role})`;
    }
    if (this.map) renderCounts($("#counts"), this.map.counts());
  }

  // --- names and the stall popup ---

  siteName(id) {
    const s = this.map && this.map.stall(id);
    return s ? featureName(s.feature.properties) : "";
  }

  zoneName(id) {
    const z = this.map && id ? this.map.zone(id) : null;
    return z ? featureName(z.properties) : "";
  }

  /** Rebuilds the open popup (its site changed, or the language did). */
  refreshPopup() {
    if (this.map.popupStallId) this.openStall(this.map.popupStallId);
  }

  openStall(id) {
    const s = this.map.stall(id);
    if (!s) return;
    const node = stallPopup(s.feature, s.state, (z) => this.zoneName(z), () => this.panels.openStall(id, () => api.stall(id)));
    this.map.openPopup(id, node);
  }
}

const app = new App();

// The read-only test and console surface.
window.shian = {
  app,
  /** Number of site markers on the map. */
  stallCount: () => (app.map ? app.map.stallLayer.getLayers().length : 0),
  /** A site's latest verdict ("" when not tested, null when unknown). */
  stallVerdict: (id) => {
    const s = app.map && app.map.stall(id);
    return s ? (s.state ? s.state.verdict : "") : null;
  },
  /** A site's marker fill colour. */
  stallColour: (id) => {
    const s = app.map && app.map.stall(id);
    return s ? s.marker.options.fillColor : null;
  },
  /** A site marker's position in page pixels {x, y}. */
  stallPoint: (id) => {
    const s = app.map && app.map.stall(id);
    if (!s) return null;
    const p = app.map.map.latLngToContainerPoint(s.marker.getLatLng());
    const r = app.map.map.getContainer().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  },
  verdictLabel,
  linkState: () => app.linkState,
  /** True when no pan or zoom animation is under way (for screenshots). */
  mapIdle: () => !!app.map && !app.map.moving,
  lastSeq: () => (app.link ? app.link.lastSeq : 0),
  linkStats: () => (app.link ? { ...app.link.stats } : null),
  effective,
};

if (typeof window.L === "undefined") {
  // lib/leaflet/leaflet.js did not load: the binary was built without `make web`.
  applyI18n(document);
  bootError(both("boot.noLeaflet"));
} else {
  app.start().catch((err) => {
    console.error(err);
    bootError(t("boot.failed", { msg: err.message }));
  });
}
