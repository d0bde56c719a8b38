// patrol: the inspector's patrol route on the phone (巡查路线). Today's plan
// for the inspector's team (GET /api/v1/patrols/plan) is listed in visiting
// order and drawn on the map as a numbered route; at each stop the
// inspector checks in (the phone's position is reported as the team's,
// POST /api/v1/teams/{id}/position), records what was found — nothing, or
// findings of a minor or major severity — and the visit is stored (POST
// /api/v1/patrols/visits), which books the stall's credit points; the
// stall's score and grade before and after, and the rule that moved them,
// are shown at once (GET /api/v1/vendors/{id}).
//
// DOM nodes and textContent only.

import { eventDay } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import * as api from "./api.js";
import { t, addStrings, label, formatTime, formatDistance } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "panel.patrol": { zh: "巡查路线", en: "Patrol route" },
  "patrol.loading": { zh: "正在加载今日巡查路线…", en: "Loading today's route…" },
  "patrol.loadFailed": { zh: "无法加载巡查路线：{msg}", en: "Cannot load the route: {msg}" },
  "patrol.noTeam": { zh: "您不属于巡查保障组", en: "You are not in a patrol team" },
  "patrol.summary": { zh: "{date} · {n} 个点位 · 全程 {len}", en: "{date} · {n} stops · {len} in all" },
  "patrol.deferred": { zh: "另有 {n} 个到期点位排入后续", en: "{n} more due stops deferred" },
  "patrol.empty": { zh: "今日没有到期的巡查点位", en: "No stop is due today" },
  "patrol.leg": { zh: "距上一站 {d}", en: "{d} from the last stop" },
  "patrol.overdue": { zh: "逾期 {n} 天", en: "{n} day(s) overdue" },
  "patrol.never": { zh: "从未巡查", en: "Never inspected" },
  "patrol.visited": { zh: "已巡查 {time}", en: "Visited {time}" },
  "patrol.checkIn": { zh: "到达签到", en: "Check in" },
  "patrol.locating": { zh: "正在定位…", en: "Locating…" },
  "patrol.noPosition": { zh: "无法取得位置（{msg}），将不带位置签到", en: "No position ({msg}); checking in without one" },
  "patrol.here": { zh: "已签到：距该点位 {d}", en: "Checked in, {d} from the stop" },
  "patrol.findings": { zh: "巡查发现", en: "Findings" },
  "patrol.addFinding": { zh: "添加问题", en: "Add a finding" },
  "patrol.findingText": { zh: "问题描述", en: "What was found" },
  "patrol.severity": { zh: "严重程度", en: "Severity" },
  "patrol.remove": { zh: "删除", en: "Remove" },
  "patrol.note": { zh: "备注", en: "Note" },
  "patrol.save": { zh: "提交巡查记录", en: "Record the visit" },
  "patrol.saveClean": { zh: "无问题，提交", en: "Nothing found, record" },
  "patrol.saving": { zh: "正在提交…", en: "Recording…" },
  "patrol.cancel": { zh: "取消", en: "Cancel" },
  "patrol.saveFailed": { zh: "提交失败：{msg}", en: "Could not record the visit: {msg}" },
  "patrol.credit": { zh: "信用积分 {before} → {after} · {grade}", en: "Credit points {before} → {after} · {grade}" },
  "patrol.creditRule": { zh: "{reason} {points} 分", en: "{reason} {points} points" },
  "patrol.gradeMoved": { zh: "风险等级由{from}调整为{to}", en: "Risk grade moved from {from} to {to}" },
  "patrol.needText": { zh: "请填写问题描述", en: "Describe the finding" },
  "patrol.doneToday": { zh: "今日已巡查 {n} 处", en: "Visited today: {n}" },
});

/** The route's colour on the map. */
const ROUTE = "#1f6fb2";

export class PatrolView {
  /**
   * @param {HTMLElement} root the tab's section
   * @param {object} o
   * @param {() => object} o.me the user ({name, role, team_id})
   * @param {() => object} o.map the VenueMap (for the route layer)
   * @param {(id: string) => string} o.siteName
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.plan = null;
    this.visits = [];
    this.error = null;
    this.form = null; // {stop, where, findings: [{text, severity}], note, busy, error, notice}
    this.results = new Map(); // target id → {before, after, grade, lines}
    this.layer = null;
  }

  async load() {
    const me = this.o.me();
    if (!me || !me.team_id) {
      this.render();
      return;
    }
    this.error = null;
    try {
      const [plan, visits] = await Promise.all([api.patrolPlan(me.team_id), api.visits("", 500)]);
      this.plan = plan;
      this.visits = visits || [];
    } catch (err) {
      this.error = err;
    }
    this.render();
    this.draw();
  }

  /** The team's visit of a target today, if any. */
  visitOf(target) {
    if (!this.plan) return null;
    const day = this.plan.date;
    return this.visits.find((v) => v.target_id === target && v.team_id === this.plan.team_id && shanghaiDate(v.at) === day) || null;
  }

  /** The team's visits today, newest first, one per target. */
  doneToday() {
    if (!this.plan) return [];
    const seen = new Set();
    return this.visits.filter((v) => v.team_id === this.plan.team_id && shanghaiDate(v.at) === this.plan.date && !seen.has(v.target_id) && seen.add(v.target_id));
  }

  /** Draws the route and numbered stops on the map. */
  draw() {
    const vm = this.o.map();
    if (!vm || !window.L) return;
    if (this.layer) this.layer.remove();
    this.layer = null;
    if (!this.plan) return;
    const L = window.L;
    const group = L.layerGroup();
    if (this.plan.route && this.plan.route.length >= 2) L.polyline(this.plan.route.map(([lon, lat]) => vm.at(lon, lat)), { color: ROUTE, weight: 4, opacity: 0.8, dashArray: "8 6", interactive: false, className: "patrol-route" }).addTo(group);
    for (const s of this.plan.stops) {
      const done = !!this.visitOf(s.target_id);
      const icon = L.divIcon({ className: "patrol-stop-icon", html: el("span", { class: `patrol-stop${done ? " done" : ""}`, dataset: { target: s.target_id, seq: String(s.seq) } }, done ? "✓" : String(s.seq)), iconSize: [24, 24], iconAnchor: [12, 12] }); // dom: node
      L.marker(vm.at(s.point.lon, s.point.lat), { icon, keyboard: false, interactive: false }).addTo(group);
    }
    for (const v of this.doneToday()) {
      if (this.plan.stops.some((s) => s.target_id === v.target_id)) continue;
      const st = vm.stall(v.target_id);
      if (!st) continue;
      const icon = L.divIcon({ className: "patrol-stop-icon", html: el("span", { class: "patrol-stop done", dataset: { target: v.target_id } }, "✓"), iconSize: [24, 24], iconAnchor: [12, 12] }); // dom: node
      L.marker(st.marker.getLatLng(), { icon, keyboard: false, interactive: false }).addTo(group);
    }
    group.addTo(vm.map);
    this.layer = group;
  }

  render() {
    const me = this.o.me();
    const parts = [];
    if (!me || !me.team_id) parts.push(el("p", { class: "empty" }, t("patrol.noTeam")));
    else if (this.error) parts.push(el("p", { class: "error", role: "alert" }, t("patrol.loadFailed", { msg: this.error.message })));
    else if (!this.plan) parts.push(el("p", { class: "empty" }, t("patrol.loading")));
    else {
      const p = this.plan;
      parts.push(el("div", { class: "patrol-head" }, el("b", {}, t("patrol.summary", { date: p.date, n: p.stops.length, len: formatDistance(p.metres) })), p.deferred ? el("small", {}, t("patrol.deferred", { n: p.deferred })) : null));
      if (!p.stops.length) parts.push(el("p", { class: "empty" }, t("patrol.empty")));
      parts.push(el("ol", { class: "patrol-stops" }, ...p.stops.map((s) => this.stopRow(s))));
      // Stops visited today drop out of the plan (they are no longer due): listed below it.
      const done = this.doneToday().filter((v) => !p.stops.some((s) => s.target_id === v.target_id));
      if (done.length) {
        parts.push(el("div", { class: "label" }, t("patrol.doneToday", { n: done.length })));
        parts.push(el("ul", { class: "patrol-stops done" }, ...done.map((v) => this.stopRow({ target_id: v.target_id, seq: 0, kind: "stall", name: "", grade: "" }))));
      }
    }
    this.root.replaceChildren(...parts);
  }

  stopRow(s) {
    const v = this.visitOf(s.target_id);
    const name = this.o.siteName(s.target_id) || s.name || label(s.kind);
    const facts = [s.grade ? label(`grade_${s.grade}`) : "", s.leg_metres ? t("patrol.leg", { d: formatDistance(s.leg_metres) }) : "", s.never_inspected ? t("patrol.never") : s.days_overdue > 0 ? t("patrol.overdue", { n: s.days_overdue }) : ""].filter(Boolean);
    const open = this.form && this.form.stop.target_id === s.target_id;
    const res = this.results.get(s.target_id);
    return el(
      "li",
      { class: `patrol-stop-row${v ? " visited" : ""}`, dataset: { target: s.target_id, seq: String(s.seq), visited: v ? "1" : "" } },
      el("div", { class: "top" }, el("span", { class: "seq" }, v || !s.seq ? "✓" : String(s.seq)), el("b", { class: "name" }, name), el("span", { class: "kind" }, label(s.kind))),
      el("div", { class: "facts" }, facts.join(" · ")),
      v ? el("div", { class: "visited-at" }, t("patrol.visited", { time: formatTime(v.at) }), v.findings && v.findings.length ? ` · ${v.findings.map((f) => `${label(f.severity)}：${f.text}`).join("；")}` : ` · ${label("clean_patrol")}`) : null,
      res ? this.creditBox(res) : null,
      open ? this.visitForm() : !v ? el("button", { type: "button", class: "check-in", onclick: () => this.checkIn(s) }, t("patrol.checkIn")) : null,
    );
  }

  creditBox(res) {
    return el(
      "div",
      { class: "credit-change", dataset: { before: String(res.before), after: String(res.after), grade: res.grade } },
      el("b", {}, t("patrol.credit", { before: res.before, after: res.after, grade: label(`grade_${res.grade}`) })),
      ...res.lines.map((l) => el("div", { class: "rule" }, t("patrol.creditRule", { reason: label(l.reason), points: l.points > 0 ? `+${l.points}` : String(l.points) }), l.note ? `（${l.note}）` : "")),
      res.moved ? el("div", { class: "grade-moved" }, t("patrol.gradeMoved", { from: label(`grade_${res.moved.from}`), to: label(`grade_${res.moved.to}`) })) : null,
    );
  }

  visitForm() {
    const f = this.form;
    const rows = f.findings.map((x, i) =>
      el(
        "div",
        { class: "finding", dataset: { i: String(i) } },
        el("input", { type: "text", class: "finding-text", value: x.text, placeholder: t("patrol.findingText"), "aria-label": t("patrol.findingText"), oninput: (ev) => (x.text = ev.target.value) }),
        el(
          "select",
          { class: "finding-severity", "aria-label": t("patrol.severity"), onchange: (ev) => (x.severity = ev.target.value) },
          ...["minor_finding", "major_finding"].map((sv) => el("option", { value: sv, selected: x.severity === sv ? true : undefined }, label(sv))),
        ),
        el("button", { type: "button", class: "remove", onclick: () => (f.findings.splice(i, 1), this.render()) }, t("patrol.remove")),
      ),
    );
    return el(
      "form",
      { class: "visit-form", dataset: { target: f.stop.target_id }, onsubmit: (ev) => (ev.preventDefault(), this.submit()) },
      el("div", { class: "where" }, f.locating ? t("patrol.locating") : f.where ? t("patrol.here", { d: formatDistance(metres(f.where, f.stop.point)) }) : f.notice || ""),
      el("div", { class: "label" }, t("patrol.findings")),
      ...rows,
      el("button", { type: "button", class: "add-finding", onclick: () => (f.findings.push({ text: "", severity: "minor_finding" }), this.render()) }, t("patrol.addFinding")),
      el("textarea", { class: "note", rows: "2", placeholder: t("patrol.note"), "aria-label": t("patrol.note"), oninput: (ev) => (f.note = ev.target.value) }, f.note),
      f.error ? el("p", { class: "error", role: "alert" }, f.error) : null,
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "submit", class: "save", disabled: f.busy || f.locating ? true : undefined }, f.busy ? t("patrol.saving") : f.findings.length ? t("patrol.save") : t("patrol.saveClean")),
        el("button", { type: "button", class: "cancel", onclick: () => ((this.form = null), this.render()) }, t("patrol.cancel")),
      ),
    );
  }

  /** Checks in at a stop: the phone's position, reported as the team's. */
  async checkIn(stop) {
    this.form = { stop, where: null, findings: [], note: "", busy: false, error: "", notice: "", locating: true };
    this.render();
    const me = this.o.me();
    try {
      const pos = await locate();
      this.form.where = pos;
      await api.teamPosition(me.team_id, pos);
    } catch (err) {
      this.form.notice = t("patrol.noPosition", { msg: err.message || String(err) });
    }
    this.form.locating = false;
    this.render();
  }

  async submit() {
    const f = this.form;
    if (f.findings.some((x) => !x.text.trim())) {
      f.error = t("patrol.needText");
      return this.render();
    }
    const me = this.o.me();
    const target = f.stop.target_id;
    f.busy = true;
    f.error = "";
    this.render();
    let before = null;
    try {
      before = await api.vendor(target).catch(() => null);
      const v = await api.recordVisit({ target_id: target, team_id: me.team_id, findings: f.findings.map((x) => ({ text: x.text.trim(), severity: x.severity })), note: f.note, where: f.where || undefined });
      this.visits.unshift(v);
      const after = await api.vendor(target);
      const lines = (after.ledger || []).filter((l) => l.ref === v.id || String(l.ref).startsWith(`${v.id}#`));
      // The grade change this visit caused, with the rule that moved it.
      const ch = (after.history || []).find((h) => h.from && (h.ref === v.id || String(h.ref).startsWith(`${v.id}#`)));
      const moved = ch ? { from: ch.from, to: ch.to } : before && before.grade !== after.grade ? { from: before.grade, to: after.grade } : null;
      const start = before ? before.score : lines.length ? lines[0].score_after - lines[0].points : after.score;
      this.results.set(target, { before: start, after: after.score, grade: after.grade, lines, moved });
      this.form = null;
    } catch (err) {
      f.busy = false;
      f.error = t("patrol.saveFailed", { msg: err.message });
    }
    this.render();
    this.draw();
  }

  /** Takes the route off the map (another tab is shown). */
  hide() {
    if (this.layer) this.layer.remove();
    this.layer = null;
  }

  relabel() {
    this.render();
  }
}

/** The phone's position ({lon, lat}, WGS-84), or a rejection saying why not. */
function locate() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error("—"));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude }),
      (e) => reject(new Error(e.message || String(e.code))),
      { enableHighAccuracy: true, timeout: 8000, maximumAge: 30000 },
    );
  });
}

/** Great-circle distance in metres between two {lon, lat} points. */
function metres(a, b) {
  const r = Math.PI / 180;
  const x = (b.lon - a.lon) * r * Math.cos(((a.lat + b.lat) / 2) * r);
  const y = (b.lat - a.lat) * r;
  return Math.sqrt(x * x + y * y) * 6371008.8;
}

/** The civil date (YYYY-MM-DD) of an instant in Beijing time, as the plan's date. */
function shanghaiDate(iso) {
  return eventDay(iso);
}
