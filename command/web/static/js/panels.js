// panels: the side panel (recent results, alerts, kiosks, stall detail),
// the header counts and the stall popup. Everything is built with DOM
// calls (dom.js's el) and textContent, never innerHTML, so that names and
// messages from the field cannot inject markup.

import { personName } from "./people.js";
import { t, has, verdictLabel, methodLabel, formatTime, featureName, pickBilingual, label, formatPercent, formatDuration } from "./i18n.js";
import { VERDICT_ORDER } from "./venue-map.js";
import { el } from "./dom.js";

const MAX_RESULTS = 200; // rows kept in the recent-results list
const MAX_ALERTS = 200;

// el is dom.js's (re-exported here for the modules that import it from panels).
export { el };

/** An alert's identity: its stored seq, or for a transient one (seq 0) what it is about. */
function alertKey(a) {
  return a.seq ? `s${a.seq}` : `t${a.code}:${a.incident_id || ""}:${a.at}`;
}

/** A coloured verdict chip. */
export function verdictChip(v) {
  return el("span", { class: `chip v-${v || "none"}`, dataset: { verdict: v || "none" } }, verdictLabel(v));
}

/** The verdict the command stands by: its own derivation when it differs. */
export function effective(r) {
  const d = r.derived;
  return d ? { verdict: d.verdict, value: d.value, unit: d.unit, derived: true } : { verdict: r.verdict, value: r.value, unit: r.unit, derived: false };
}

/** "56.77 %" — a value with its unit, or "" when there is none. */
export function valueText(value, unit) {
  if (value === undefined || value === null || (value === 0 && !unit)) return "";
  return unit ? `${value} ${unit}` : String(value);
}

/** warnings lists, for people, what the command found wrong with a result. */
export function warnings(r, e) {
  const flags = r.flags || [];
  const out = [];
  if (flags.includes("rules_outdated")) out.push(t("result.rulesOutdated", { v: r.rules_version || 0 }));
  if (flags.includes("rules_unknown")) out.push(t("result.rulesUnknown", { v: r.rules_version || 0 }));
  if (e.derived && !flags.includes("rules_outdated") && !flags.includes("rules_unknown")) out.push(t("result.derived"));
  if (flags.includes("lot_expired")) out.push(t("result.lotExpired", { lot: r.lot || "" }));
  return out;
}

/** The header counts by verdict. */
export function renderCounts(container, counts) {
  // These count sites by their latest result; the KPI strip counts tests.
  // Say which, so that "阳性（疑似）2" here and "检测次数 40" there do not
  // read as a contradiction.
  container.replaceChildren(el("span", { class: "counts-label" }, t("counts.label")));
  for (const v of VERDICT_ORDER) {
    const n = counts[v] || 0;
    // pass/caution/fail/na appear only when some site has them.
    if (n === 0 && ["pass", "caution", "fail", "na"].includes(v)) continue;
    container.append(
      el("span", { class: `count v-${v}`, dataset: { verdict: v } }, el("i", { class: "dot" }), el("span", { class: "label" }, verdictLabel(v === "none" ? "" : v)), el("b", { class: "n" }, n)),
    );
  }
}

/**
 * How a KPI stands against its target (Config.KPI.Targets): "good" when it
 * meets it, "near" when short by no more than the margin (near points for
 * a rate, half the target again for a time), "bad" beyond; "" when there
 * is no target or nothing to judge yet.
 */
export function kpiStatus(kind, value, target, near) {
  if (!target || value === null || value === undefined) return "";
  if (kind === "rate") return value >= target ? "good" : value >= target - (near || 0) ? "near" : "bad";
  return value <= target ? "good" : value <= target * 1.5 ? "near" : "bad";
}

/**
 * The KPIs at a glance (GET /api/v1/kpis): tests (a repeat of the same
 * sample, 复测, is not a test; with the stalls they cover, stalls),
 * suspected-positive detection rate, harmless disposal rate, median time
 * to arrive and to close, readiness. "—" where there is nothing to compute
 * from yet. A KPI with a target is coloured by it and shows it.
 */
export function renderKPIs(container, total, byTier, targets, stalls) {
  const k = total || {};
  const tg = targets || {};
  const rate = (r) => (r && r.den ? formatPercent(r.percent) : "—");
  const dur = (d) => (d && d.n ? formatDuration(d.median / 1e6) : "—");
  const rateOf = (r) => (r && r.den ? r.percent : null);
  const durOf = (d) => (d && d.n ? d.median : null);
  const parts = (r) => (r && r.den ? `${r.num}/${r.den}` : "");
  const goal = (kind, target) => (target ? t(kind === "rate" ? "kpi.targetRate" : "kpi.targetTime", { v: kind === "rate" ? formatPercent(target) : formatDuration(target / 1e6) }) : "");
  const items = [
    ["tests", k.tests ?? "—", stalls === undefined || stalls === null ? "" : t("kpi.stalls", { n: stalls }), ""],
    ["detection", rate(k.detection_rate), parts(k.detection_rate), ""],
    ["disposal", rate(k.disposal_rate), parts(k.disposal_rate), kpiStatus("rate", rateOf(k.disposal_rate), tg.disposal_rate, tg.near), goal("rate", tg.disposal_rate)],
    ["arrive", dur(k.time_to_arrive), k.time_to_arrive && k.time_to_arrive.n ? t("kpi.n", { n: k.time_to_arrive.n }) : "", kpiStatus("time", durOf(k.time_to_arrive), tg.time_to_arrive), goal("time", tg.time_to_arrive)],
    ["close", dur(k.time_to_close), k.time_to_close && k.time_to_close.n ? t("kpi.n", { n: k.time_to_close.n }) : "", kpiStatus("time", durOf(k.time_to_close), tg.time_to_close), goal("time", tg.time_to_close)],
    ["readiness", rate(k.readiness), parts(k.readiness), kpiStatus("rate", rateOf(k.readiness), tg.readiness, tg.near), goal("rate", tg.readiness)],
    ["incidents", k.incidents ?? "—", "", ""],
  ];
  container.replaceChildren(
    ...items.map(([key, v, sub, status, target]) =>
      el(
        "div",
        { class: "kpi", dataset: { kpi: key, status: status || "" }, title: [t(`kpi.${key}Title`), target, status ? t(`kpi.status.${status}`) : ""].filter(Boolean).join("\n") },
        el("span", { class: "k" }, t(`kpi.${key}`)),
        el("b", { class: "v" }, String(v)),
        sub || target ? el("small", {}, [sub, target].filter(Boolean).join(" · ")) : null,
      ),
    ),
  );
  // The four testing tiers (四位一体), each separately: tests and detection
  // rate; together they are the figures above.
  if (byTier && byTier.length) {
    const tests = container.querySelector('.kpi[data-kpi="tests"]');
    if (tests) tests.title = `${t("kpi.testsTitle")}\n${t("kpi.tiers")}: ${byTier.map((g) => `${t(`tier.${g.key}`)} ${g.tests}（${rate(g.detection_rate)}）`).join(" · ")}`;
    container.append(
      el(
        "div",
        { class: "kpi tiers", dataset: { kpi: "tiers" }, title: t("kpi.tiersTitle") },
        el("span", { class: "k" }, t("kpi.tiers")),
        el(
          "span",
          { class: "tier-grid" },
          byTier.map((g) =>
            el("span", { class: "tier", dataset: { tier: g.key, tests: g.tests } }, el("span", { class: "tn" }, t(`tier.${g.key}`)), el("b", {}, String(g.tests)), el("small", {}, rate(g.detection_rate))),
          ),
        ),
      ),
    );
  }
}

/**
 * Panels owns the side panel's lists. siteName(id) names a site, and
 * onPick(id) is called when a row pointing at a site is clicked.
 */
export class Panels {
  constructor(root, { siteName, zoneName, teamName, onPick, onIncident, onAck, onLocateAlert, canAck, me, resultFilter, incidentFilter, siteExtras }) {
    this.root = root;
    this.siteName = siteName;
    this.zoneName = zoneName;
    this.teamName = teamName;
    this.onPick = onPick;
    this.onIncident = onIncident;
    this.onAck = onAck;
    this.onLocateAlert = onLocateAlert;
    this.canAck = canAck;
    this.me = me;
    this.resultFilter = resultFilter; // (result) → bool
    this.incidentFilter = incidentFilter; // (incident) → bool
    this.siteExtras = siteExtras; // (id) → [nodes] shown under a site's facts
    this.results = []; // newest first
    this.alerts = []; // newest first, by seq
    this.acking = new Set(); // alert seqs being acknowledged
    this.kiosks = new Map();
    this.incidents = new Map(); // id → incident
    this.stallDetail = null; // {id, data|null, error|null}
    this.lists = {
      results: root.querySelector("#results"),
      alerts: root.querySelector("#alerts"),
      kiosks: root.querySelector("#kiosks"),
      incidents: root.querySelector("#incidents"),
      tasks: root.querySelector("#tasks"),
      stall: root.querySelector("#stall-detail"),
    };
    this.badges = {
      alerts: root.querySelector("#alerts-badge"),
      kiosks: root.querySelector("#kiosks-badge"),
      incidents: root.querySelector("#incidents-badge"),
      tasks: root.querySelector("#tasks-badge"),
    };
    for (const tab of root.querySelectorAll("[role=tab]")) {
      tab.addEventListener("click", () => this.show(tab.dataset.tab));
    }
  }

  /** Shows one tab of the side panel. */
  show(name) {
    for (const tab of this.root.querySelectorAll("[role=tab]")) {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      this.root.querySelector(`#${tab.getAttribute("aria-controls")}`).hidden = !on;
    }
  }

  // --- recent results ---

  setResults(list) {
    this.results = (list || []).slice(0, MAX_RESULTS);
    this.renderResults();
  }

  addResult(r) {
    if (this.results.some((x) => x.result_id === r.result_id)) return;
    this.results.unshift(r);
    if (this.results.length > MAX_RESULTS) this.results.length = MAX_RESULTS;
    const ul = this.lists.results;
    if (this.resultFilter && !this.resultFilter(r)) return;
    const empty = ul.querySelector(".empty");
    if (empty) empty.remove();
    const li = this.resultRow(r);
    li.classList.add("new");
    ul.prepend(li);
    while (ul.children.length > MAX_RESULTS) ul.lastElementChild.remove();
    if (this.stallDetail && this.stallDetail.id === r.stall_id && this.stallDetail.data) {
      this.stallDetail.data.results.unshift(r);
      this.renderStall();
    }
  }

  renderResults() {
    const ul = this.lists.results;
    const rows = this.resultFilter ? this.results.filter(this.resultFilter) : this.results;
    ul.replaceChildren(...rows.map((r) => this.resultRow(r)));
    if (!rows.length) ul.append(el("li", { class: "empty" }, t(this.results.length ? "panel.noResultsFiltered" : "panel.noResults")));
  }

  resultRow(r) {
    const e = effective(r);
    const what = [r.sample && r.sample.name, r.item || methodLabel(r.method)].filter(Boolean).join(" · ");
    return el(
      "li",
      {
        class: `result v-${e.verdict}`,
        dataset: { resultId: r.result_id, stallId: r.stall_id || "", verdict: e.verdict },
        tabindex: "0",
        onclick: () => r.stall_id && this.onPick(r.stall_id),
        onkeydown: (ev) => ev.key === "Enter" && r.stall_id && this.onPick(r.stall_id),
      },
      el("span", { class: "time" }, formatTime(r.measured_at)),
      el("span", { class: "site" }, this.siteName(r.stall_id) || r.stall_id || "—"),
      verdictChip(e.verdict),
      el("span", { class: "what" }, what),
      el("span", { class: "value" }, valueText(e.value, e.unit)),
      warnings(r, e).length ? el("span", { class: "flag", title: warnings(r, e).join("；") }, "⚠") : null,
    );
  }

  // --- alerts ---

  /** Replaces the alert list (the history from GET /api/v1/alarms). */
  setAlerts(list) {
    this.alerts = [];
    this.mergeAlerts(list);
  }

  /** Adds alerts without dropping the ones already listed (a snapshot carries only the open ones). */
  mergeAlerts(list) {
    for (const a of list || []) {
      const i = this.alerts.findIndex((x) => alertKey(x) === alertKey(a));
      if (i >= 0) this.alerts[i] = a.acked_at || !this.alerts[i].acked_at ? a : this.alerts[i];
      else this.alerts.push(a);
    }
    this.alerts.sort((x, y) => y.seq - x.seq);
    if (this.alerts.length > MAX_ALERTS) this.alerts.length = MAX_ALERTS;
    this.renderAlerts();
  }

  /** Adds an alert or updates it (an acknowledgement has the same seq). Returns true when it is new. */
  upsertAlert(a) {
    const i = this.alerts.findIndex((x) => alertKey(x) === alertKey(a));
    if (i >= 0) this.alerts[i] = a;
    else this.alerts.unshift(a);
    this.acking.delete(a.seq);
    this.alerts.sort((x, y) => y.seq - x.seq);
    if (this.alerts.length > MAX_ALERTS) this.alerts.length = MAX_ALERTS;
    this.renderAlerts();
    return i < 0;
  }

  alert(seq) {
    return this.alerts.find((a) => a.seq === seq) || null;
  }

  renderAlerts() {
    const ul = this.lists.alerts;
    const canAck = this.canAck();
    ul.replaceChildren(
      ...this.alerts.map((a) => {
        const acked = !!a.acked_at;
        const actions = el("span", { class: "actions" });
        if (!acked && canAck && a.seq > 0) // seq 0: a transient alert (delta only), nothing stored to acknowledge
          actions.append(
            el(
              "button",
              { type: "button", class: "ack", disabled: this.acking.has(a.seq) ? true : undefined, onclick: (ev) => (ev.stopPropagation(), this.acking.add(a.seq), this.renderAlerts(), this.onAck(a)) },
              t("alert.ack"),
            ),
          );
        if (a.incident_id) actions.append(el("button", { type: "button", class: "open-incident", onclick: (ev) => (ev.stopPropagation(), this.onIncident(a.incident_id)) }, t("alert.openIncident")));
        if ((a.loc && a.loc.length === 2) || a.kiosk_id) actions.append(el("button", { type: "button", class: "locate", onclick: (ev) => (ev.stopPropagation(), this.onLocateAlert(a)) }, t("alert.locate")));
        return el(
          "li",
          { class: `alert ${acked ? "acked" : "open"} lvl-${a.level || 0}`, dataset: { seq: a.seq, code: a.code, incident: a.incident_id || "" } },
          el("span", { class: "time" }, formatTime(a.at, true)),
          el(
            "span",
            { class: "state" },
            [acked ? t("alert.acked", { who: personName(a.acked_by), time: formatTime(a.acked_at, true) }) : t("alert.open"), has(`alertCode.${a.code}`) ? t(`alertCode.${a.code}`) : "", a.kiosk_id && `${t("kind.kiosk")} ${a.kiosk_id}`].filter(Boolean).join(" · "),
          ),
          el("span", { class: "msg" }, pickBilingual(a.message) || a.code),
          actions,
        );
      }),
    );
    if (!this.alerts.length) ul.append(el("li", { class: "empty" }, t("panel.noAlerts")));
    const open = this.alerts.filter((a) => !a.acked_at).length;
    this.badges.alerts.textContent = open ? String(open) : "";
  }

  // --- incidents and the inspector's tasks ---

  setIncidents(list) {
    this.incidents.clear();
    for (const inc of list || []) this.incidents.set(inc.id, inc);
    this.renderIncidents();
  }

  upsertIncident(inc) {
    this.incidents.set(inc.id, inc);
    this.renderIncidents();
  }

  renderIncidents() {
    const all = [...this.incidents.values()].sort((a, b) => (a.state === "closed") - (b.state === "closed") || String(b.opened_at).localeCompare(String(a.opened_at)));
    const shown = this.incidentFilter ? all.filter(this.incidentFilter) : all;
    const ul = this.lists.incidents;
    ul.replaceChildren(...shown.map((inc) => this.incidentRow(inc)));
    if (!shown.length) ul.append(el("li", { class: "empty" }, t("panel.noIncidents")));
    const open = all.filter((i) => i.state !== "closed").length;
    this.badges.incidents.textContent = open ? String(open) : "";
    // The inspector's own team first: what they have to do, by deadline.
    const me = this.me();
    const tasks = me && me.team_id ? all.filter((i) => i.team_id === me.team_id && i.state !== "closed").sort((a, b) => String(a.due || "9").localeCompare(String(b.due || "9"))) : [];
    this.lists.tasks.replaceChildren(...tasks.map((inc) => this.incidentRow(inc, true)));
    if (!tasks.length) this.lists.tasks.append(el("li", { class: "empty" }, t("panel.noTasks")));
    this.badges.tasks.textContent = tasks.length ? String(tasks.length) : "";
  }

  incidentRow(inc, task) {
    const tr = inc.trigger || {};
    const overdue = inc.due && new Date(inc.due) < new Date();
    return el(
      "li",
      {
        class: `incident st-${inc.state}${overdue ? " overdue" : ""}`,
        dataset: { incident: inc.id, state: inc.state, task: task ? "1" : "" },
        tabindex: "0",
        onclick: () => this.onIncident(inc.id),
        onkeydown: (ev) => ev.key === "Enter" && this.onIncident(inc.id),
      },
      el("span", { class: `state-chip st-${inc.state}` }, label(inc.state)),
      el("span", { class: "id" }, inc.id),
      el("span", { class: "site" }, this.siteName(tr.subject_id) || inc.subject_name || tr.subject_id || "—"),
      el("span", { class: "what" }, [label(tr.kind), tr.description, tr.item].filter(Boolean).join(" · ")),
      el("span", { class: "team" }, inc.team_id ? this.teamName(inc.team_id) : t("incident.noTeam")),
      inc.due ? el("span", { class: "due" }, overdue ? t("incident.overdueShort", { time: formatTime(inc.due) }) : t("incident.dueShort", { time: formatTime(inc.due) })) : null,
    );
  }

  // --- kiosks ---

  setKiosks(list) {
    this.kiosks.clear();
    for (const k of list || []) this.kiosks.set(k.kiosk_id, k);
    this.renderKiosks();
  }

  upsertKiosk(k) {
    this.kiosks.set(k.kiosk_id, { ...(this.kiosks.get(k.kiosk_id) || {}), ...k });
    this.renderKiosks();
  }

  renderKiosks() {
    const ul = this.lists.kiosks;
    const list = [...this.kiosks.values()].sort((a, b) => a.kiosk_id.localeCompare(b.kiosk_id));
    ul.replaceChildren(
      ...list.map((k) =>
        el(
          "li",
          { class: `kiosk ${k.online ? "online" : "offline"}`, dataset: { kioskId: k.kiosk_id, online: k.online ? "1" : "0" } },
          el("i", { class: "dot" }),
          el("span", { class: "name" }, k.name || k.kiosk_id),
          el("span", { class: "state" }, k.online ? t("kiosk.online") : t("kiosk.offline")),
          k.pending ? el("span", { class: "pending" }, t("kiosk.pending", { n: k.pending })) : null,
          el("span", { class: "seen" }, k.last_seen ? t("kiosk.lastSeen", { time: formatTime(k.last_seen, true) }) : t("kiosk.never")),
        ),
      ),
    );
    if (!list.length) ul.append(el("li", { class: "empty" }, t("panel.noKiosks")));
    const online = list.filter((k) => k.online).length;
    this.badges.kiosks.textContent = list.length ? `${online}/${list.length}` : "";
  }

  // --- stall detail ---

  /** Shows a site's recent results; load() returns a promise of {site, latest, results}. */
  async openStall(id, load) {
    this.stallDetail = { id, data: null, error: null };
    this.show("stall");
    this.renderStall();
    try {
      const data = await load();
      if (this.stallDetail && this.stallDetail.id === id) this.stallDetail.data = data;
    } catch (err) {
      if (this.stallDetail && this.stallDetail.id === id) this.stallDetail.error = err.message;
    }
    this.renderStall();
  }

  renderStall() {
    const box = this.lists.stall;
    const d = this.stallDetail;
    if (!d) {
      box.replaceChildren(el("p", { class: "empty" }, t("panel.pickStall")));
      return;
    }
    const name = this.siteName(d.id) || d.id;
    const parts = [el("h3", {}, t("stall.historyTitle", { name }))];
    if (d.error) parts.push(el("p", { class: "error" }, t("stall.loadFailed", { msg: d.error })));
    else if (!d.data) parts.push(el("p", { class: "empty" }, t("stall.loading")));
    else {
      const s = d.data.site || {};
      const facts = el("dl", { class: "facts" });
      const fact = (k, v) => v && facts.append(el("dt", {}, t(k)), el("dd", {}, v));
      fact("stall.zone", this.zoneName(s.zone_id) || s.zone_id);
      fact("stall.category", s.category);
      fact("stall.grade", s.grade ? label(`grade_${s.grade}`) : "");
      fact("stall.business", s.business);
      parts.push(facts);
      if (this.siteExtras) parts.push(...this.siteExtras(d.id));
      const incs = [...this.incidents.values()].filter((i) => i.trigger && i.trigger.subject_id === d.id);
      if (incs.length) parts.push(el("div", { class: "label" }, t("stall.incidents")), el("ul", { class: "list incidents" }, ...incs.map((i) => this.incidentRow(i))));
      const rs = d.data.results || [];
      if (!rs.length) parts.push(el("p", { class: "empty" }, t("stall.empty")));
      else {
        const tbody = el("tbody");
        for (const r of rs) {
          const e = effective(r);
          tbody.append(
            el(
              "tr",
              { dataset: { resultId: r.result_id } },
              el("td", { class: "time" }, formatTime(r.measured_at, true)),
              el(
                "td",
                {},
                [r.sample && r.sample.name, r.item || methodLabel(r.method)].filter(Boolean).join(" · "),
                el("div", { class: "sub" }, [r.kiosk_id && `${t("result.kiosk")} ${r.kiosk_id}`, r.operator && `${t("result.operator")} ${personName(r.operator)}`].filter(Boolean).join(" · ")),
              ),
              el("td", { class: "num" }, valueText(e.value, e.unit)),
              el("td", {}, verdictChip(e.verdict)),
            ),
          );
        }
        parts.push(
          el(
            "table",
            { class: "history" },
            el("thead", {}, el("tr", {}, ...["result.time", "result.item", "result.value", "result.verdict"].map((k) => el("th", {}, t(k))))),
            tbody,
          ),
        );
      }
    }
    box.replaceChildren(...parts);
  }

  /** Re-renders everything in the current language. */
  relabel() {
    this.renderResults();
    this.renderAlerts();
    this.renderKiosks();
    this.renderIncidents();
    this.renderStall();
  }
}

/**
 * The popup of a site: name, kind, zone, latest result and a button that
 * opens its recent results in the side panel.
 */
export function stallPopup(feature, state, zoneName, onHistory, extras) {
  const p = feature.properties;
  const latest = state
    ? el(
        "div",
        { class: "latest" },
        verdictChip(state.verdict),
        el("span", { class: "value" }, valueText(state.value, state.unit)),
        el("div", { class: "sub" }, [methodLabel(state.method), formatTime(state.measured_at, true)].filter(Boolean).join(" · ")),
      )
    : el("div", { class: "latest none" }, t("stall.noResult"));
  const facts = el("dl", { class: "facts" });
  const fact = (k, v) => v && facts.append(el("dt", {}, t(k)), el("dd", {}, v));
  fact("stall.zone", zoneName(p.zone) || p.zone);
  fact("stall.category", p.category);
  fact("stall.grade", p.grade ? label(`grade_${p.grade}`) : "");
  return el(
    "div",
    { class: "popup", dataset: { stallId: String(feature.id) } },
    el("div", { class: "kind" }, t(`kind.${p.kind || "stall"}`), " · ", String(feature.id)),
    el("h3", {}, featureName(p)),
    facts,
    el("div", { class: "label" }, t("stall.latest")),
    latest,
    ...(extras || []),
    el("button", { type: "button", class: "history-link", onclick: onHistory }, t("stall.history")),
  );
}
