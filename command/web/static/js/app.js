// app: the command centre page. It decides between the login form and the
// live map, wires the live link to the map and the side panel, and keeps
// the header (link state, sound, counts by verdict, user, language), the
// KPIs and the filters current.
//
// Flow: GET /api/v1/me → 401: login form; else GET /api/v1/ui-config
// (base map, incident machine, labels), build the map, load zones, sites
// and the alert history over REST, open /ws/live (snapshot with its extra
// collections — incidents, teams, alerts, events, banquets — then deltas).
// A small read-only window.shian object describes what the page shows,
// for debugging in the console and for the browser tests.

import { StallSearch } from "./stallsearch.js";
import { loadPeople, forgetPeople, personName } from "./people.js";
import { formatRange, setUTCOffset } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import * as api from "./api.js";
import { t, both, getLang, setLang, applyI18n, featureName, verdictLabel, setServerLabels, label } from "./i18n.js";
import { LiveLink, liveURL } from "./live.js";
import { VenueMap, ALARMING, teamName } from "./venue-map.js";
import { Panels, renderCounts, renderKPIs, stallPopup, effective, el } from "./panels.js";
import { IncidentView } from "./incident.js";
import { Sound } from "./sound.js";
import { Filters } from "./filters.js";
import { Triage } from "./triage.js";
import { localiseLeaflet } from "./words.js";
import { PatrolView } from "./patrol.js";
import { MenuView } from "./menus.js";
import { BanquetView } from "./banquets.js";
import { TeamView, leastLoadedHint } from "./teams.js";
import { ChefView } from "./chefs.js";
import { addLegend } from "./legend.js";
import { EventView, phaseLine, beijingToday } from "./events.js";
import { CreditView } from "./credit.js";
import { Exports } from "./exports.js";

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

/** Alert codes that call for the tone (a positive, an overdue incident, a cluster). */
const LOUD_ALERTS = new Set(["incident_warned", "incident_overdue", "cluster_warning", "no_team_available", "repeat_overdue", "repeat_not_reproduced"]);

class App {
  constructor() {
    this.user = null;
    this.cfg = null;
    this.map = null;
    this.panels = null;
    this.incidentView = null;
    this.link = null;
    this.linkState = "offline";
    this.countsTimer = 0;
    this.kpiTimer = 0;
    this.refetching = null;
    this.events = [];
    this.detail = null; // what the detail tab shows: {kind: "site"|"incident"|"banquet", id}
    this.sound = new Sound((s) => this.renderSound(s));
  }

  async start() {
    applyI18n(document);
    $("#lang").addEventListener("click", () => this.toggleLang());
    $("#lang-login").addEventListener("click", () => this.toggleLang());
    $("#sound").addEventListener("click", () => this.sound.toggle());
    $("#login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.login();
    });
    $("#logout").addEventListener("click", () => this.logout());
    this.renderSound(this.sound.state);
    window.addEventListener("hashchange", () => this.followHash());
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
    if (this.filters) this.filters.relabel();
    if (this.incidentView) this.incidentView.relabel();
    if (this.triage) this.triage.render();
    if (this.patrol) this.patrol.relabel();
    if (this.menus) this.menus.relabel();
    if (this.banquetView) this.banquetView.relabel();
    if (this.teamView) this.teamView.relabel();
    if (this.chefView) this.chefView.relabel();
    if (this.eventView) this.eventView.relabel();
    if (this.credit) this.credit.relabel();
    if (this.exports) this.exports.relabel();
    if (this.relabelLegend) this.relabelLegend();
    localiseLeaflet(document);
    this.renderHeader();
    this.renderSound(this.sound.state);
    this.renderEventLine();
    this.loadKPIs();
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
      err.textContent = e.status === 401 ? t("login.bad") : e.status === 429 ? t("login.throttled", { s: (e.body && e.body.retry_after) || 60 }) : t("login.error", { msg: e.message });
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
    forgetPeople();
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
    document.body.dataset.role = this.user.role;
    if (!this.cfg) {
      try {
        this.cfg = await api.uiConfig();
      } catch (err) {
        if (err.status === 401) return this.sessionLost();
        console.warn("ui-config unavailable; the venue plan only", err);
        this.cfg = { tiles: null, incident: { states: [], next: {}, roles: {}, team: [], controls: [] }, labels: {} };
      }
      setServerLabels(this.cfg.labels || {});
      if (this.cfg.utc_offset_s !== undefined) setUTCOffset(this.cfg.utc_offset_s);
    }
    await loadPeople(true); // names instead of user ids in every view (a failure keeps the ids)
    if (!this.map) this.build();
    else this.map.map.invalidateSize(); // shown again after a new login: Leaflet must measure again
    this.applyRoleLayout();
    this.renderHeader();
    try {
      await this.loadSites();
    } catch (err) {
      if (err.status === 401) return this.sessionLost();
      console.error("loading the venue failed", err);
    }
    this.loadAlerts();
    this.loadKPIs();
    this.credit.load(); // the popups' credit lines
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
    this.followHash();
  }

  build() {
    this.map = new VenueMap(
      $("#map"),
      {
        onStallClick: (id) => this.openStall(id),
        onIncidentClick: (id) => this.openIncident(id),
        onTeamClick: (id) => this.openTeam(id),
        onBanquetClick: (id) => this.openBanquet(id),
      },
      this.cfg,
    );
    this.filters = new Filters($("#filters"), {
      onChange: () => this.applyFilters(),
      zoneName: (id) => this.zoneName(id),
      search: new StallSearch({ sites: () => this.map.stalls, onPick: (id) => this.showSite(id) }),
    });
    this.panels = new Panels($("#side"), {
      siteName: (id) => this.siteName(id),
      zoneName: (id) => this.zoneName(id),
      teamName: (id) => this.teamName(id),
      onPick: (id) => {
        this.map.panTo(id);
        this.openStall(id);
      },
      onIncident: (id) => this.openIncident(id),
      onAck: (a) => this.ack(a),
      onLocateAlert: (a) => this.locateAlert(a),
      canAck: () => this.user && ["admin", "commander"].includes(this.user.role),
      me: () => this.user,
      resultFilter: (r) => this.filters.matchResult(r, this.siteOf(r.stall_id)),
      incidentFilter: (inc) => this.filters.matchIncident(inc, this.siteOf(inc.trigger && inc.trigger.subject_id)),
      siteExtras: (id) => this.siteExtras(id),
    });
    this.incidentView = new IncidentView($("#incident-detail"), {
      me: () => this.user,
      cfg: () => this.cfg,
      siteName: (id) => this.siteName(id),
      teamName: (id) => this.teamName(id),
      onChanged: (inc) => this.incidentChanged(inc),
      onLocate: (inc) => this.locateIncident(inc),
      teamHint: (inc) => leastLoadedHint(inc),
    });
    this.triage = new Triage($("#tab-triage"), {
      incidents: () => this.panels.incidents,
      alerts: () => this.panels.alerts,
      siteName: (id) => this.siteName(id),
      teamName: (id) => this.teamName(id),
      onIncident: (id) => this.openIncident(id),
      onAcked: (list) => {
        for (const a of list) this.panels.upsertAlert(a);
        this.triage.schedule();
      },
      canAck: () => this.user && ["admin", "commander"].includes(this.user.role),
    });
    this.patrol = new PatrolView($("#tab-patrol"), { me: () => this.user, map: () => this.map, siteName: (id) => this.siteName(id) });
    // The route is on the map while its tab is open.
    for (const tab of document.querySelectorAll("#side [role=tab]")) tab.addEventListener("click", () => (tab.dataset.tab === "patrol" ? this.patrol.load() : this.patrol.hide()));
    this.menus = new MenuView($("#tab-menus"), {
      me: () => this.user,
      kitchens: () => this.kitchens(),
    });
    $("[data-tab=menus]").addEventListener("click", () => this.menus.open());
    this.banquetView = new BanquetView($("#tab-banquets"), { me: () => this.user, teamName: (id) => this.teamName(id), onChanged: (b) => this.map.setBanquet(b) });
    $("[data-tab=banquets]").addEventListener("click", () => this.banquetView.load());
    this.teamView = new TeamView($("#tab-teams"), {
      me: () => this.user,
      kitchens: () => this.kitchens(),
      siteName: (id) => this.siteName(id),
      onIncident: (id) => this.openIncident(id),
      onChanged: (tm) => this.map.setTeam && this.map.setTeam(tm),
    });
    $("[data-tab=teams]").addEventListener("click", () => this.teamView.load());
    this.chefView = new ChefView($("#tab-chefs"), { me: () => this.user, openBanquet: (id) => this.showBanquet(id) });
    $("[data-tab=chefs]").addEventListener("click", () => this.chefView.load());
    this.eventView = new EventView($("#tab-events"), {
      me: () => this.user,
      kitchens: () => this.kitchens(),
      kiosks: () => [...this.map.kiosks.values()].map((k) => ({ id: k.state.kiosk_id, name: k.state.name || "" })),
      userName: (id) => this.userName(id),
      openMenu: (kitchen) => {
        this.panels.show("menus");
        this.menus.open(kitchen);
      },
      onChanged: (ev) => this.setEvents([...this.events.filter((e) => e.id !== ev.id), ev]),
    });
    $("[data-tab=events]").addEventListener("click", () => this.eventView.load());
    this.credit = new CreditView($("#tab-credit"), {
      me: () => this.user,
      siteName: (id) => this.siteName(id),
      siteGrade: (id) => {
        const st = this.map.stall(id);
        return (st && st.feature.properties.grade) || "";
      },
      userName: (id) => this.userName(id),
      openIncident: (id) => this.openIncident(id),
      show: () => this.panels.show("credit"),
      changed: () => {
        this.applyCreditGrades();
        if (this.map.popupStallId) this.refreshPopup();
      },
    });
    $("[data-tab=credit]").addEventListener("click", () => this.credit.load());
    this.exports = new Exports({ me: () => this.user, events: () => this.events });
    this.exports.mount($("#to-emergency"));
    this.relabelLegend = addLegend(this.map.map);
    this.panels.relabel();
    this.filters.relabel();
    localiseLeaflet(document);
  }

  /** The map's kitchens: id, name and where (WGS-84, as imported). */
  kitchens() {
    return [...this.map.stalls.entries()]
      .filter(([, s]) => s.kind === "kitchen")
      .map(([id, s]) => {
        const c = s.feature.geometry && s.feature.geometry.type === "Point" ? s.feature.geometry.coordinates : null;
        return { id, name: featureName(s.feature.properties) || id, point: c ? { lon: c[0], lat: c[1] } : null };
      });
  }

  /** A user's name for people: the display name (people.js), else the id. */
  userName(id) {
    if (this.user && id === this.user.name && this.user.display_name) return this.user.display_name;
    return personName(id);
  }

  /** An inspector (a team member, usually on a phone) sees their team's tasks first. */
  applyRoleLayout() {
    const tasks = !!(this.user && this.user.team_id);
    const triage = !!(this.user && ["admin", "commander"].includes(this.user.role));
    $("[data-tab=tasks]").hidden = !tasks;
    $("[data-tab=patrol]").hidden = !tasks;
    $("[data-tab=events]").hidden = !(this.user && ["admin", "commander", "inspector", "viewer"].includes(this.user.role));
    $("[data-tab=menus]").hidden = !(this.user && ["admin", "commander", "inspector"].includes(this.user.role));
    $("[data-tab=banquets]").hidden = !(this.user && ["admin", "commander", "inspector", "operator"].includes(this.user.role));
    $("[data-tab=teams]").hidden = !this.user;
    $("[data-tab=chefs]").hidden = !(this.user && ["admin", "commander", "inspector", "operator", "viewer"].includes(this.user.role));
    if (tasks) this.patrol.load();
    $("[data-tab=triage]").hidden = !triage;
    if (tasks && !this.detail) this.panels.show("tasks");
    else if (triage && !this.detail) this.panels.show("triage");
  }

  /** Loads zones and sites over REST and draws them. */
  async loadSites() {
    const [zones, stalls] = await Promise.all([api.zones(), api.stalls()]);
    this.map.setZones(zones);
    this.map.setStalls(stalls);
    if (this.credit) this.applyCreditGrades();
    this.filters.setSites(zones, stalls);
    this.applyFilters(true);
    $("#no-sites").hidden = (zones.features || []).length + (stalls.features || []).length > 0;
    this.scheduleCounts();
  }

  /** The alert history, acknowledged ones included (a snapshot has only the open ones). */
  async loadAlerts() {
    try {
      this.panels.mergeAlerts(await api.alarmHistory(200));
      this.triage.schedule();
    } catch (err) {
      console.warn("loading alerts failed", err);
    }
  }

  /** Refreshes the KPIs soon (many deltas make one request). */
  loadKPIs(delay = 0) {
    clearTimeout(this.kpiTimer);
    this.kpiTimer = setTimeout(async () => {
      try {
        const k = await api.kpis(this.filters ? this.filters.value.event : "");
        this.kpiReport = k.report || {};
        this.renderKPIStrip();
        $("#kpis").dataset.loaded = String(Date.now());
      } catch (err) {
        if (err.status !== 401) console.warn("loading KPIs failed", err);
      }
    }, delay);
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
    this.filters.addResults(s.results);
    this.panels.setResults(s.results);
    const x = s.extra || {};
    if (x.alerts) this.panels.mergeAlerts(x.alerts);
    if (x.events) this.setEvents(x.events);
    if (x.banquets) this.map.setBanquets(x.banquets);
    if (x.incidents) {
      this.map.setIncidents(x.incidents);
      this.panels.setIncidents(x.incidents);
    }
    if (x.teams) this.map.setTeams(x.teams);
    // A site we do not know was imported while we were away: reload them
    // (Traccar's "refetch over REST after a reconnect").
    if (unknown) this.refetchSites(s);
    this.triage.schedule();
    this.applyFilters();
    this.scheduleCounts();
    this.loadKPIs(200);
    if (this.detail && this.detail.kind === "incident" && x.incidents) {
      const inc = x.incidents.find((i) => i.id === this.detail.id);
      if (inc) this.incidentView.update(inc);
    }
  }

  setEvents(list) {
    this.events = list || [];
    this.map.setReadiness(this.events);
    this.filters.setEvents(this.events);
    if (this.eventView) for (const e of this.events) this.eventView.update(e);
    this.loadMeals();
  }

  /** Today's meals of the events (Beijing day), for the header line; at most one request per second. */
  loadMeals() {
    clearTimeout(this.mealsTimer);
    this.mealsTimer = setTimeout(async () => {
      const live = this.events.filter((e) => e.phase !== "closed");
      let meals = [];
      if (live.length) {
        try {
          meals = (await api.meals("", beijingToday())) || [];
        } catch (err) {
          if (err.status !== 401) console.warn("loading meals failed", err);
        }
      }
      this.meals = meals;
      this.renderEventLine();
    }, 300);
  }

  renderEventLine() {
    const line = phaseLine(this.events, this.meals || []);
    const box = $("#event-line");
    box.hidden = !line;
    if (!line) return;
    box.dataset.event = line.event.id;
    box.dataset.phase = line.phase;
    const chip = $("#event-phase");
    chip.className = `phase-chip ph-${line.phase}`;
    chip.textContent = line.text;
    $("#event-meals").textContent = line.meals;
    box.title = `${line.text}\n${line.meals}`; // the whole line where the header cuts it
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
        if (ALARMING.has(data.verdict) && prev !== data.verdict) {
          this.map.flash(data.stall_id);
          this.sound.beep("alarm");
        }
        if (this.map.popupStallId === String(data.stall_id)) this.refreshPopup();
        this.scheduleCounts();
        break;
      }
      case "result":
        this.filters.addResults([data]);
        this.panels.addResult(data);
        this.loadKPIs(600);
        break;
      case "kiosk":
        this.map.setKiosk(data);
        this.panels.upsertKiosk(data);
        break;
      case "alert": {
        const fresh = this.panels.upsertAlert(data);
        if (fresh && !data.acked_at && LOUD_ALERTS.has(data.code)) this.sound.beep("alarm");
        this.triage.schedule();
        break;
      }
      case "incident":
        this.map.setIncident(data);
        this.panels.upsertIncident(data);
        if (this.detail && this.detail.kind === "incident" && this.detail.id === data.id) this.incidentView.update(data);
        this.triage.schedule();
        this.loadKPIs(400);
        if (this.teamView) this.teamView.changed();
        break;
      case "team":
        this.map.setTeam(data);
        if (this.teamView) this.teamView.changed();
        break;
      case "event":
        this.setEvents([...this.events.filter((e) => e.id !== data.id), data]);
        this.loadKPIs(1000);
        break;
      case "banquet":
        this.map.setBanquet(data);
        if (this.banquetView) this.banquetView.update(data);
        break;
      default:
      // Unknown kinds are ignored (a newer server may add some).
    }
  }

  /** An incident came back from the API after a step. */
  incidentChanged(inc) {
    this.map.setIncident(inc);
    this.panels.upsertIncident(inc);
    this.triage.schedule();
    this.loadKPIs(500);
  }

  async ack(a) {
    try {
      this.panels.upsertAlert(await api.ackAlarm(a.seq));
      this.triage.schedule();
    } catch (err) {
      this.panels.acking.delete(a.seq);
      this.panels.renderAlerts();
      window.alert(t("alert.ackFailed", { msg: err.message }));
    }
  }

  locateAlert(a) {
    if (a.incident_id) {
      const e = this.map.incidents.get(a.incident_id);
      if (e && e.incident.trigger && e.incident.trigger.where) return this.map.panToPoint(e.incident.trigger.where);
    }
    if (a.loc && a.loc.length === 2) return this.map.panToPoint({ lon: a.loc[0], lat: a.loc[1] });
    const k = a.kiosk_id && this.map.kiosks.get(a.kiosk_id);
    if (k && k.marker) this.map.map.panTo(k.marker.getLatLng());
  }

  locateIncident(inc) {
    const id = inc.trigger && inc.trigger.subject_id;
    if (id && this.map.hasStall(id)) this.map.panTo(id);
    else if (inc.trigger && inc.trigger.where) this.map.panToPoint(inc.trigger.where);
  }

  // --- filters ---

  applyFilters(quiet) {
    const f = this.filters;
    this.map.setFilter(f.active() ? (s) => f.matchSite(s) : null);
    this.panels.renderResults();
    this.panels.renderIncidents();
    this.scheduleCounts();
    $("#app").dataset.filtered = f.active() ? "1" : "";
    if (!quiet) this.loadKPIs(100);
  }

  siteOf(id) {
    return id ? this.map.stall(id) : null;
  }

  /**
   * Draws the KPI strip from the last report, with the stalls tested
   * beside the tests: sites whose latest rapid result is a conclusion
   * (negative, suspicious, positive), as the header counts them.
   */
  renderKPIStrip() {
    const k = this.kpiReport;
    if (!k) return;
    const c = this.map ? this.map.counts() : null;
    const stalls = c ? c.negative + c.suspicious + c.positive : null;
    renderKPIs($("#kpis"), k.total, k.by_tier, k.targets, stalls);
  }

  /** Recounts at most once per frame, however many deltas arrive. */
  scheduleCounts() {
    if (this.countsTimer) return;
    this.countsTimer = requestAnimationFrame(() => {
      this.countsTimer = 0;
      renderCounts($("#counts"), this.map.counts());
      this.renderKPIStrip();
    });
  }

  renderHeader() {
    const link = $("#link");
    link.dataset.state = this.linkState;
    $("#link-text").textContent = t(`link.${this.linkState}`);
    if (this.user) {
      const u = $("#user");
      u.textContent = this.user.display_name ? t("header.userName", { display: this.user.display_name, name: this.user.name }) : this.user.name;
      u.title = `${t("header.user")}: ${this.user.name} (${label(this.user.role)})${this.user.team_id ? ` · ${this.teamName(this.user.team_id)}` : ""}`;
    }
    if (this.map) renderCounts($("#counts"), this.map.counts());
  }

  renderSound(state) {
    const b = $("#sound");
    b.dataset.state = state;
    b.textContent = t(`sound.${state}`);
    b.title = t(`sound.${state}Title`);
  }

  // --- names, the popup and the detail tab ---

  siteName(id) {
    const s = this.map && this.map.stall(id);
    return s ? featureName(s.feature.properties) : "";
  }

  zoneName(id) {
    const z = this.map && id ? this.map.zone(id) : null;
    return z ? featureName(z.properties) : "";
  }

  teamName(id) {
    const tm = this.map && this.map.team(id);
    return tm ? teamName(tm) : id;
  }

  /** Rebuilds the open popup (its site changed, or the language did). */
  refreshPopup() {
    if (this.map.popupStallId) this.openStall(this.map.popupStallId);
  }

  /** A site found by the stall search: centred on the map, its popup and its detail open. */
  showSite(id) {
    const s = this.map.stall(id);
    if (!s) return;
    this.map.map.setView(s.marker.getLatLng(), Math.max(this.map.map.getZoom(), 18), { animate: false });
    this.openStall(id);
    this.openSiteDetail(id);
  }

  openStall(id) {
    const s = this.map.stall(id);
    if (!s) return;
    const node = stallPopup(s.feature, s.state, (z) => this.zoneName(z), () => this.openSiteDetail(id), this.popupExtras(id));
    this.map.openPopup(id, node);
    localiseLeaflet(document);
  }

  /** Lines under a site's facts: readiness, banquet state, open incidents. */
  popupExtras(id) {
    const out = [];
    const s = this.map.stall(id);
    if (s && s.kind === "kitchen") {
      const r = this.map.readiness.get(id);
      out.push(el("div", { class: "readiness", dataset: { ready: r ? (r.ready ? "1" : "0") : "" } }, r ? t("kitchen.readiness", { done: r.done, total: r.total }) : t("kitchen.noReadiness")));
    }
    const b = this.map.banquet(id);
    if (b) out.push(el("div", { class: "banquet-state" }, `${t("banquet.state")}：${label(b.state)}`));
    if (s && (s.kind === "stall" || s.kind === "kitchen")) out.push(...this.creditExtras(id));
    const open = [...this.panels.incidents.values()].filter((i) => i.trigger && i.trigger.subject_id === id && i.state !== "closed");
    for (const inc of open) {
      out.push(el("button", { type: "button", class: "popup-incident", dataset: { incident: inc.id }, onclick: () => this.openIncident(inc.id) }, t("stall.openIncident", { id: inc.id, state: label(inc.state) })));
    }
    return out;
  }

  /** The detail tab's extra lines for a site (kitchen checklist, banquet, QR label). */
  siteExtras(id) {
    const out = [];
    const s = this.map.stall(id);
    const r = s && s.kind === "kitchen" ? this.map.readiness.get(id) : null;
    if (r) {
      out.push(el("div", { class: "label" }, t("kitchen.readiness", { done: r.done, total: r.total })));
      if (r.open.length) out.push(el("ul", { class: "open-items" }, ...r.open.map((o) => el("li", {}, pick(o.label), o.detail && o.detail.zh ? el("small", {}, " · ", pick(o.detail)) : null))));
    }
    const b = this.map.banquet(id);
    if (b) out.push(...banquetFacts(b));
    if (s && (s.kind === "stall" || s.kind === "kitchen")) {
      out.push(...this.creditExtras(id));
      out.push(el("a", { class: "qr-link", href: `labels.html?site=${encodeURIComponent(id)}`, target: "_blank", rel: "noopener" }, t("stall.qr")));
      if (s.feature.properties.zone) out.push(el("a", { class: "qr-link", href: `labels.html?zone=${encodeURIComponent(s.feature.properties.zone)}`, target: "_blank", rel: "noopener" }, t("stall.qrZone")));
    }
    return out;
  }

  /**
   * The map and popups show each site's risk grade as its credit account
   * has it now; the site register's grade is only where the account opened.
   */
  applyCreditGrades() {
    if (!this.credit.list) return;
    for (const [id, s] of this.map.stalls) {
      const acct = this.credit.account(s.feature.properties.business || id);
      if (acct) this.map.setGrade(id, acct.grade);
    }
  }

  /** A site's credit line (grade and score, when it has an account) and the button to its ledger. */
  creditExtras(id) {
    const business = this.map.stall(id).feature.properties.business || id;
    return [
      this.credit.accountLine(business),
      el("button", { type: "button", class: "credit-link", dataset: { business }, onclick: () => this.credit.openFor(business) }, t("cr.open")),
    ].filter(Boolean);
  }

  openSiteDetail(id) {
    this.detail = { kind: "site", id };
    this.showDetail("site");
    this.panels.openStall(id, () => api.stall(id));
  }

  async openIncident(id) {
    this.detail = { kind: "incident", id };
    this.showDetail("incident");
    this.incidentView.open(id, this.panels.incidents.get(id));
  }

  openTeam(id) {
    const tm = this.map.team(id);
    if (tm && tm.incident_id) this.openIncident(tm.incident_id);
  }

  /** Opens a banquet's card in the banquet screen (from the chef register). */
  async showBanquet(id) {
    this.panels.show("banquets");
    await this.banquetView.load();
    const b = this.banquetView.list.find((x) => x.id === id);
    if (b) {
      this.banquetView.open = b;
      this.banquetView.render();
    }
  }

  openBanquet(id) {
    const b = this.map.banquet(id);
    if (!b) return;
    this.detail = { kind: "banquet", id };
    this.showDetail("site");
    const box = $("#stall-detail");
    this.panels.stallDetail = null;
    box.replaceChildren(el("h3", {}, `${t("kind.banquet")} · ${b.filing && b.filing.host ? b.filing.host.name : b.id}`), ...banquetFacts(b));
  }

  /** Shows the detail tab with the site or the incident pane. */
  showDetail(which) {
    $("#stall-detail").hidden = which !== "site";
    $("#incident-detail").hidden = which !== "incident";
    this.panels.show("stall");
  }

  /** /#site=S-012 (a scanned QR label) and /#incident=INC-… open that record. */
  followHash() {
    if (!this.map || !this.map.stalls.size) return;
    const h = new URLSearchParams(location.hash.replace(/^#/, ""));
    const site = h.get("site");
    const inc = h.get("incident");
    if (site && this.map.hasStall(site)) {
      this.map.map.setView(this.map.stall(site).marker.getLatLng(), Math.max(this.map.map.getZoom(), 18), { animate: false });
      this.openStall(site);
      this.openSiteDetail(site);
    } else if (inc) this.openIncident(inc);
  }
}

function pick(l) {
  return l ? (getLang() === "en" ? l.en : l.zh) : "";
}

/** A banquet's facts: host, headcount, sittings window, state, 四到位. */
function banquetFacts(b) {
  const facts = el("dl", { class: "facts" });
  const fact = (k, v) => v && facts.append(el("dt", {}, t(k)), el("dd", {}, v));
  const f = b.filing || {};
  fact("banquet.state", label(b.state));
  fact("banquet.host", f.host && f.host.name);
  fact("banquet.place", [f.town, f.village, f.place].filter(Boolean).join(" "));
  fact("banquet.headcount", f.headcount ? String(f.headcount) : "");
  fact("banquet.window", formatRange(b.window_start, b.window_end));
  fact("banquet.guidance", b.guidance_required ? t("banquet.guidanceRequired") : "");
  const pillars = (b.four_in_place || []).map((p) => el("li", { dataset: { done: p.in_place ? "1" : "0" } }, p.in_place ? "✓ " : "○ ", pick(p.label) || label(p.pillar)));
  return [facts, pillars.length ? el("ul", { class: "pillars" }, ...pillars) : null].filter(Boolean);
}

const app = new App();

// The read-only test and console surface.
window.shian = {
  app,
  /** Number of site markers on the map (after the filters). */
  stallCount: () => (app.map ? app.map.shownCount() : 0),
  /** A site's latest verdict ("" when not tested, null when unknown). */
  stallVerdict: (id) => {
    const s = app.map && app.map.stall(id);
    return s ? (s.state ? s.state.verdict : "") : null;
  },
  /** A site's marker fill colour. */
  stallColour: (id) => {
    const s = app.map && app.map.stall(id);
    return s ? s.colour : null;
  },
  /** Whether a site's marker is on the map (not filtered out). */
  stallShown: (id) => {
    const s = app.map && app.map.stall(id);
    return s ? s.shown : null;
  },
  /** A site marker's position in page pixels {x, y}. */
  stallPoint: (id) => {
    const s = app.map && app.map.stall(id);
    if (!s) return null;
    const p = app.map.map.latLngToContainerPoint(s.marker.getLatLng());
    const r = app.map.map.getContainer().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  },
  /** A site marker's displayed [lon, lat] (in the base map's datum). */
  stallDisplayed: (id) => {
    const s = app.map && app.map.stall(id);
    if (!s) return null;
    const ll = s.marker.getLatLng();
    return [ll.lng, ll.lat];
  },
  verdictLabel,
  linkState: () => app.linkState,
  /** True when no pan or zoom animation is under way (for screenshots). */
  mapIdle: () => !!app.map && !app.map.moving && !app.map.declutter.pending,
  /** What the last label placement did: {placed, moved, hidden, folded, compact}. */
  declutter: () => (app.map ? { ...app.map.declutter.stats, runs: app.map.declutter.runs } : null),
  lastSeq: () => (app.link ? app.link.lastSeq : 0),
  linkStats: () => (app.link ? { ...app.link.stats } : null),
  sound: () => ({ state: app.sound.state, beeps: app.sound.beeps, context: app.sound.ctx ? app.sound.ctx.state : "" }),
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
