// events: a major event (重大活动) from filing to closed, with its
// readiness gate. The list shows each filed event with its phase; the
// filing form (commanders) files one (POST /api/v1/events) with its
// venue, caterer and the map's kitchens; the event's card shows its days,
// the filing's warnings, its readiness (done / total) and the phases the
// protocol allows next. Moving to 准备就绪 or 全程防控 is refused by the
// server while any checklist item of any kitchen is open: the refusal is
// shown as the protocol gives it — which kitchen, which item, what is
// missing. Under the card each kitchen's checklist (保障准备) lists its
// items, done or open with why, who recorded it and when, and a form to
// record each one (POST /api/v1/events/{id}/kitchens/{k}/readiness); the
// menu item follows the kitchen's menu assessment (菜单评估 tab).
//
// phaseLine is the header's line: the event's name, its phase and today's
// meals (GET /api/v1/meals?event=…&date=today in Beijing time).
//
// DOM nodes and textContent only.

import { eventDay, wallToISO, isoToWall } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import * as api from "./api.js";
import { t, addStrings, label, getLang } from "./i18n.js";
import { el } from "./dom.js";
import { beijing } from "./banquets.js";

addStrings({
  "panel.events": { zh: "活动保障", en: "Events" },
  "ev.list": { zh: "重大活动", en: "Major events" },
  "ev.none": { zh: "尚未备案重大活动", en: "No major event filed" },
  "ev.new": { zh: "备案新活动", en: "File an event" },
  "ev.name": { zh: "活动名称", en: "Event name" },
  "ev.organiser": { zh: "主办单位", en: "Organiser" },
  "ev.phone": { zh: "联系电话", en: "Phone" },
  "ev.firstDay": { zh: "开始日期", en: "First day" },
  "ev.lastDay": { zh: "结束日期", en: "Last day" },
  "ev.notified": { zh: "报备日期", en: "Notified on" },
  "ev.headcount": { zh: "就餐人数", en: "Diners" },
  "ev.mode": { zh: "监督方式", en: "Supervision" },
  "ev.venue": { zh: "活动场所", en: "Venue" },
  "ev.caterer": { zh: "供餐单位", en: "Caterer" },
  "ev.licence": { zh: "食品经营许可证号", en: "Licence number" },
  "ev.kitchens": { zh: "供餐点（每个供餐点一份准备清单）", en: "Kitchens (each has a readiness checklist)" },
  "ev.file": { zh: "提交备案", en: "File" },
  "ev.back": { zh: "返回列表", en: "Back to the list" },
  "ev.open": { zh: "查看", en: "Open" },
  "ev.busy": { zh: "正在保存…", en: "Saving…" },
  "ev.failed": { zh: "操作失败：{msg}", en: "Failed: {msg}" },
  "ev.days": { zh: "活动日期", en: "Days" },
  "ev.since": { zh: "本阶段开始", en: "Phase since" },
  "ev.readiness": { zh: "准备就绪 {done}/{total}（{pct}）", en: "Readiness {done}/{total} ({pct})" },
  "ev.moveTo": { zh: "进入「{phase}」", en: "Move to “{phase}”" },
  "ev.backTo": { zh: "退回「{phase}」", en: "Back to “{phase}”" },
  "ev.cancel": { zh: "取消活动", en: "Cancel the event" },
  "ev.close": { zh: "关闭活动（提交总结）", en: "Close (with the summary)" },
  "ev.note": { zh: "说明（退回时写明哪项失效）", en: "Note (when moving back: which item lapsed)" },
  "ev.summary": { zh: "总结报告", en: "Summary report" },
  "ev.refused": { zh: "无法进入「{phase}」：还有 {n} 项准备未完成", en: "Cannot move to “{phase}”: {n} readiness item(s) open" },
  "ev.refusedRule": { zh: "无法进入「{phase}」：{why}", en: "Cannot move to “{phase}”: {why}" },
  "ev.rule.note_required": { zh: "退回提前介入须写明哪项准备失效", en: "say in the note which readiness item lapsed" },
  "ev.rule.summary_required": { zh: "关闭活动须提交总结报告", en: "closing needs the summary report" },
  "ev.rule.amend_phase": { zh: "只有已备案或提前介入阶段可修改备案", en: "the filing can be amended only while filed or in early intervention" },
  "ev.rule.event_closed": { zh: "活动已关闭", en: "the event is closed" },
  "ev.illegal": { zh: "当前阶段不能直接进入该阶段", en: "that phase cannot follow the current one" },
  "ev.forbidden": { zh: "您的角色无权执行此操作", en: "your role may not do this" },
  "ev.warnings": { zh: "备案提示", en: "Warnings" },
  "ev.checklist": { zh: "{kitchen} · 准备清单 {done}/{total}", en: "{kitchen} · checklist {done}/{total}" },
  "ev.itemDone": { zh: "已完成", en: "Done" },
  "ev.itemOpen": { zh: "未完成", en: "Open" },
  "ev.recordedBy": { zh: "{who} 于 {at} 记录", en: "recorded by {who} at {at}" },
  "ev.record": { zh: "记录", en: "Record" },
  "ev.ref": { zh: "文件编号", en: "Document number" },
  "ev.heldAt": { zh: "举行时间", en: "Held at" },
  "ev.staffName": { zh: "姓名", en: "Name" },
  "ev.staffPost": { zh: "岗位", en: "Post" },
  "ev.certUntil": { zh: "健康证有效期至", en: "Certificate valid until" },
  "ev.addStaff": { zh: "添加人员", en: "Add a person" },
  "ev.fridge": { zh: "留样冰箱编号", en: "Fridge" },
  "ev.responsible": { zh: "留样负责人", en: "Responsible" },
  "ev.massG": { zh: "每份留样（克）", en: "Per dish (g)" },
  "ev.holdH": { zh: "留存时间（小时）", en: "Kept (hours)" },
  "ev.kiosk": { zh: "快检终端", en: "Kiosk" },
  "ev.instrument": { zh: "仪器编号", en: "Instrument" },
  "ev.calibrated": { zh: "校准日期", en: "Calibrated on" },
  "ev.calUntil": { zh: "校准有效期至", en: "Calibration valid until" },
  "ev.menuLink": { zh: "在「菜单评估」中完成", en: "Done in “Menus”" },
  "ev.noMeals": { zh: "今日无餐次", en: "No meal today" },
  "ev.today": { zh: "今日", en: "Today" },
  "ev.headerTitle": { zh: "当前活动的阶段与今日餐次", en: "The event's phase and today's meals" },
  "ev.recorded": { zh: "已记录：{item}", en: "Recorded: {item}" },
});

const MODES = ["full_supervision", "key_point_supervision"];

/** The phases the protocol allows next (the server checks again). */
const NEXT = {
  filed: ["early_intervention", "closed"],
  early_intervention: ["ready", "closed"],
  ready: ["whole_process", "early_intervention", "closed"],
  whole_process: ["closed"],
  closed: [],
};
const ORDER = ["filed", "early_intervention", "ready", "whole_process", "closed"];

const ITEMS = ["responsibility_commitment", "implementation_plan", "emergency_plan", "emergency_drill", "health_certificate", "training", "menu_assessment", "sample_retention", "kiosk_ready"];

function pick(l) {
  return l ? (getLang() === "en" ? l.en : l.zh) : "";
}

/** Today's date (YYYY-MM-DD) on the event's clock. */
export function beijingToday(now = Date.now()) {
  return eventDay(now);
}

/** An <input type=datetime-local> value (the event's wall time) → an instant. */
function fromBeijing(v) {
  return wallToISO(v);
}

/** The words of a protocol refusal of a phase change. */
export function refusal(err, to, kitchenName) {
  const phase = label(to);
  const b = err.body || {};
  if (err.code === "not_ready") {
    const open = b.open || [];
    return {
      head: t("ev.refused", { phase, n: open.length }),
      lines: open.map((o) => `${kitchenName(o.kitchen_id)} · ${pick(o.label) || label(o.item)}${o.detail && o.detail.zh ? `：${pick(o.detail)}` : ""}`),
    };
  }
  if (err.code === "precondition_failed" && b.rule) return { head: t("ev.refusedRule", { phase, why: t(`ev.rule.${b.rule}`) }), lines: [] };
  if (err.code === "illegal_transition") return { head: t("ev.refusedRule", { phase, why: t("ev.illegal") }), lines: [] };
  if (err.code === "forbidden") return { head: t("ev.refusedRule", { phase, why: t("ev.forbidden") }), lines: [] };
  return { head: t("ev.failed", { msg: err.message }), lines: [] };
}

export class EventView {
  /**
   * @param {HTMLElement} root
   * @param {object} o
   * @param {() => object} o.me
   * @param {() => {id: string, name: string, point: object}[]} o.kitchens the map's kitchens
   * @param {() => {id: string, name: string}[]} o.kiosks the registered kiosks
   * @param {(id: string) => string} o.userName a user's display name
   * @param {(kitchen: string) => void} o.openMenu opens the kitchen's menu assessment
   * @param {(ev: object) => void} o.onChanged an event came back from the API
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.list = [];
    this.openId = "";
    this.records = {}; // kitchen → KitchenRecord of the open event
    this.filing = null;
    this.forms = {}; // kitchen:item → form values
    this.note = "";
    this.summary = "";
    this.refused = null; // {head, lines}
    this.done = "";
    this.error = "";
    this.busy = false;
  }

  canFile() {
    const me = this.o.me() || {};
    return ["admin", "commander"].includes(me.role);
  }

  canRecord() {
    const me = this.o.me() || {};
    return ["admin", "commander", "inspector"].includes(me.role);
  }

  get open() {
    return this.list.find((e) => e.id === this.openId) || null;
  }

  async load() {
    try {
      this.list = (await api.events()) || [];
      if (this.openId) await this.loadRecords();
    } catch (err) {
      this.error = t("ev.failed", { msg: err.message });
    }
    this.render();
  }

  async loadRecords() {
    const r = await api.readiness(this.openId);
    this.records = {};
    for (const k of r.kitchens || []) this.records[k.kitchen_id] = k;
  }

  /** A newer copy of an event (a live delta or an API answer). */
  update(ev) {
    const i = this.list.findIndex((x) => x.id === ev.id);
    if (i >= 0) this.list[i] = ev;
    else this.list.push(ev);
    if (this.root.isConnected && !this.root.hidden && !this.busy) this.render();
  }

  async show(id) {
    this.openId = id;
    this.refused = null;
    this.done = "";
    this.error = "";
    try {
      await this.loadRecords();
    } catch (err) {
      this.error = t("ev.failed", { msg: err.message });
    }
    this.render();
  }

  kitchenName(id) {
    const ev = this.open;
    const k = ev && (ev.filing.kitchens || []).find((x) => x.id === id);
    return (k && k.name) || id;
  }

  async act(fn, to) {
    this.busy = true;
    this.error = "";
    this.refused = null;
    this.done = "";
    this.render();
    try {
      const ev = await fn();
      if (ev) {
        this.update(ev);
        this.openId = ev.id;
        this.o.onChanged(ev);
        await this.loadRecords();
      }
      return true;
    } catch (err) {
      if (to) this.refused = refusal(err, to, (k) => this.kitchenName(k));
      else this.error = t("ev.failed", { msg: err.message });
      return false;
    } finally {
      this.busy = false;
      this.render();
    }
  }

  newFiling() {
    const today = beijingToday();
    const later = beijingToday(Date.now() + 30 * 86400e3);
    this.filing = {
      name: "", organiser: "", phone: "", first_day: later, last_day: later, notified_on: today, headcount: "",
      mode: "full_supervision", venue: "", caterer: "", licence: "",
      kitchens: new Set(this.o.kitchens().map((k) => k.id)),
    };
    this.openId = "";
    this.render();
  }

  async submitFiling() {
    const f = this.filing;
    const ks = this.o.kitchens().filter((k) => f.kitchens.has(k.id));
    const filing = {
      name: f.name.trim(), organiser: { name: f.organiser.trim(), phone: f.phone.trim() || undefined },
      first_day: f.first_day, last_day: f.last_day, notified_on: f.notified_on, headcount: Number(f.headcount) || 0, mode: f.mode,
      venues: [{ id: "V-1", name: f.venue.trim() }],
      caterers: [{ id: "C-1", name: f.caterer.trim(), licence: f.licence.trim() || undefined }],
      kitchens: ks.map((k) => ({ id: k.id, name: k.name, caterer_id: "C-1", venue_id: "V-1", point: k.point || undefined })),
    };
    const ok = await this.act(() => api.fileEvent({ filing }));
    if (ok) this.filing = null;
    this.render();
  }

  async step(to) {
    const ev = this.open;
    const body = { to, note: this.note.trim() };
    if (to === "closed") body.summary = { text: this.summary.trim() };
    const ok = await this.act(() => api.eventPhase(ev.id, body), to);
    if (ok) {
      this.note = "";
      this.summary = "";
    }
  }

  async record(kitchen, item) {
    const ev = this.open;
    const f = this.forms[`${kitchen}:${item}`] || {};
    const body = { item };
    switch (item) {
      case "responsibility_commitment":
      case "implementation_plan":
      case "emergency_plan":
        body.ref = (f.ref || "").trim();
        break;
      case "emergency_drill":
      case "training":
        if (f.at) body.at = fromBeijing(f.at);
        break;
      case "health_certificate":
        body.staff = (f.staff || []).filter((s) => s.name.trim()).map((s) => ({ name: s.name.trim(), post: s.post.trim() || undefined, cert: s.until ? { valid_until: s.until } : {} }));
        break;
      case "sample_retention":
        body.retention = { fridge_id: (f.fridge || "").trim(), responsible: (f.responsible || "").trim(), mass_g: Number(f.mass) || 0, hold_hours: Number(f.hold) || 0 };
        break;
      case "kiosk_ready":
        body.kiosk_id = f.kiosk || "";
        if (f.instrument) body.instruments = [{ id: f.instrument.trim(), calibrated_on: f.calOn || undefined, calibration_valid_until: f.calUntil || undefined }];
        break;
    }
    const ok = await this.act(() => api.recordReadiness(ev.id, kitchen, body));
    if (ok) {
      delete this.forms[`${kitchen}:${item}`];
      this.done = t("ev.recorded", { item: label(item) });
      this.render();
    }
  }

  render() {
    const parts = [];
    if (this.filing) parts.push(this.filingForm());
    else if (this.open) parts.push(this.card(this.open), ...this.checklists(this.open));
    else {
      if (this.canFile()) parts.push(el("button", { type: "button", class: "new-event", onclick: () => this.newFiling() }, t("ev.new")));
      parts.push(el("div", { class: "label" }, t("ev.list")));
      if (!this.list.length) parts.push(el("p", { class: "empty" }, t("ev.none")));
      const sorted = [...this.list].sort((a, b) => ORDER.indexOf(a.phase) - ORDER.indexOf(b.phase) || String(a.filing.first_day).localeCompare(String(b.filing.first_day)));
      parts.push(
        el(
          "ul",
          { class: "event-list" },
          ...sorted.map((e) =>
            el(
              "li",
              { class: "event-row", dataset: { event: e.id, phase: e.phase } },
              el("b", {}, e.filing.name),
              el("span", { class: `phase-chip ph-${e.phase}` }, label(e.phase)),
              el("div", { class: "sub" }, `${e.filing.first_day} – ${e.filing.last_day} · ${t("ev.readiness", readinessArgs(e))}`),
              el("button", { type: "button", class: "open-event", onclick: () => this.show(e.id) }, t("ev.open")),
            ),
          ),
        ),
      );
    }
    if (this.error) parts.push(el("p", { class: "error", role: "alert" }, this.error));
    this.root.replaceChildren(...parts);
  }

  filingForm() {
    const f = this.filing;
    const input = (key, lab, type = "text", extra = {}) => el("label", { class: `fld f-${key}` }, el("span", {}, t(lab)), el("input", { type, name: key, value: f[key], oninput: (ev) => (f[key] = ev.target.value), ...extra }));
    return el(
      "form",
      { class: "event-filing", onsubmit: (ev) => (ev.preventDefault(), this.submitFiling()) },
      el("h3", {}, t("ev.new")),
      input("name", "ev.name", "text", { required: true }),
      input("organiser", "ev.organiser", "text", { required: true }),
      input("phone", "ev.phone", "tel"),
      el("div", { class: "row2" }, input("first_day", "ev.firstDay", "date"), input("last_day", "ev.lastDay", "date")),
      el("div", { class: "row2" }, input("notified_on", "ev.notified", "date"), input("headcount", "ev.headcount", "number", { min: "1" })),
      el("label", { class: "fld" }, el("span", {}, t("ev.mode")), el("select", { name: "mode", onchange: (ev) => (f.mode = ev.target.value) }, ...MODES.map((m) => el("option", { value: m, selected: f.mode === m ? true : undefined }, label(m))))),
      input("venue", "ev.venue", "text", { required: true }),
      el("div", { class: "row2" }, input("caterer", "ev.caterer", "text", { required: true }), input("licence", "ev.licence")),
      el("fieldset", { class: "kitchens" }, el("legend", {}, t("ev.kitchens")),
        ...this.o.kitchens().map((k) =>
          el("label", { class: "check" }, el("input", { type: "checkbox", name: "kitchen", value: k.id, checked: f.kitchens.has(k.id) ? true : undefined, onchange: (ev) => (ev.target.checked ? f.kitchens.add(k.id) : f.kitchens.delete(k.id)) }), ` ${k.name}`),
        ),
      ),
      el("div", { class: "buttons" },
        el("button", { type: "submit", class: "file-event primary", disabled: this.busy ? true : undefined }, this.busy ? t("ev.busy") : t("ev.file")),
        el("button", { type: "button", class: "back", onclick: () => ((this.filing = null), this.render()) }, t("ev.back")),
      ),
    );
  }

  card(e) {
    const r = e.readiness || {};
    const parts = [
      el("div", { class: "top" }, el("b", {}, e.filing.name), el("span", { class: `phase-chip ph-${e.phase}` }, label(e.phase))),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, t("ev.days")), el("dd", { class: "days" }, `${e.filing.first_day} – ${e.filing.last_day}`),
        el("dt", {}, t("ev.organiser")), el("dd", {}, e.filing.organiser.name),
        el("dt", {}, t("ev.headcount")), el("dd", {}, String(e.filing.headcount)),
        el("dt", {}, t("ev.mode")), el("dd", {}, label(e.filing.mode)),
        el("dt", {}, t("ev.since")), el("dd", { class: "since" }, beijing(e.phase_since)),
      ),
      el("div", { class: "readiness-bar", dataset: { ready: r.ready ? "1" : "0" } },
        el("span", {}, t("ev.readiness", readinessArgs(e))),
        el("i", { class: "bar" }, el("b", { class: `fill w${Math.round(((r.done || 0) / (r.total || 1)) * 10)}` }))),
    ];
    if ((e.warnings || []).length) parts.push(el("div", { class: "warnings" }, el("div", { class: "label" }, t("ev.warnings")), ...e.warnings.map((w) => el("div", { class: "warning", dataset: { code: w.code } }, pick(w.message)))));
    const next = NEXT[e.phase] || [];
    if (next.length && this.canFile()) {
      const back = (to) => ORDER.indexOf(to) < ORDER.indexOf(e.phase);
      parts.push(
        el("div", { class: "phase-step" },
          el("input", { type: "text", class: "step-note", placeholder: t("ev.note"), "aria-label": t("ev.note"), value: this.note, oninput: (ev) => (this.note = ev.target.value) }),
          next.includes("closed") ? el("textarea", { class: "step-summary", rows: "2", placeholder: t("ev.summary"), "aria-label": t("ev.summary"), oninput: (ev) => (this.summary = ev.target.value) }, this.summary) : null,
          el("div", { class: "buttons" },
            ...next.map((to) =>
              el("button", { type: "button", class: `phase-to${to === "closed" || back(to) ? "" : " primary"}`, dataset: { to }, disabled: this.busy ? true : undefined, onclick: () => this.step(to) },
                to === "closed" ? (e.phase === "whole_process" ? t("ev.close") : t("ev.cancel")) : back(to) ? t("ev.backTo", { phase: label(to) }) : t("ev.moveTo", { phase: label(to) })),
            ),
          ),
        ),
      );
    }
    if (this.refused)
      parts.push(el("div", { class: "refused", role: "alert" }, el("b", {}, this.refused.head), this.refused.lines.length ? el("ul", {}, ...this.refused.lines.map((l) => el("li", {}, l))) : null));
    if (this.done) parts.push(el("p", { class: "done", role: "status" }, `✓ ${this.done}`));
    parts.push(el("button", { type: "button", class: "back", onclick: () => ((this.openId = ""), (this.refused = null), this.render()) }, t("ev.back")));
    return el("div", { class: "event-card", dataset: { event: e.id, phase: e.phase } }, ...parts);
  }

  checklists(e) {
    const reps = (e.readiness && e.readiness.kitchens) || [];
    return (e.filing.kitchens || []).map((k) => {
      const found = reps.find((x) => x.kitchen_id === k.id) || { done: 0, total: 0 };
      const rep = { ...found, open: found.open || [] };
      const rec = this.records[k.id] || { log: [] };
      const items = e.readiness_items && e.readiness_items.length ? e.readiness_items : ITEMS;
      return el(
        "details",
        { class: "checklist", dataset: { kitchen: k.id }, open: true },
        el("summary", {}, t("ev.checklist", { kitchen: k.name, done: rep.done, total: rep.total })),
        el("ul", { class: "items" }, ...items.map((item) => this.itemRow(e, k, item, rep, rec))),
      );
    });
  }

  itemRow(e, k, item, rep, rec) {
    const open = rep.open.find((o) => o.item === item);
    const last = [...(rec.log || [])].reverse().find((x) => x.item === item);
    const key = `${k.id}:${item}`;
    const editing = this.forms[key];
    const row = [
      el("div", { class: "item-top" },
        el("b", {}, `${open ? "○" : "✓"} ${label(item)}`),
        el("span", { class: `item-state ${open ? "open" : "done"}` }, open ? t("ev.itemOpen") : t("ev.itemDone"))),
    ];
    if (open && open.detail && open.detail.zh) row.push(el("div", { class: "why" }, pick(open.detail)));
    if (last) row.push(el("div", { class: "who" }, t("ev.recordedBy", { who: this.o.userName(last.actor.user_id), at: beijing(last.at) })));
    if (item === "menu_assessment") row.push(el("button", { type: "button", class: "menu-link", onclick: () => this.o.openMenu(k.id) }, t("ev.menuLink")));
    else if (this.canRecord() && e.phase !== "closed") {
      if (editing) row.push(this.itemForm(k.id, item, editing));
      else row.push(el("button", { type: "button", class: "record-open", onclick: () => ((this.forms[key] = this.freshForm(item, rec)), this.render()) }, t("ev.record")));
    }
    return el("li", { class: `item${open ? " open" : " done"}`, dataset: { item, done: open ? "0" : "1" } }, ...row);
  }

  freshForm(item, rec) {
    const now = isoToWall(Date.now());
    switch (item) {
      case "emergency_drill":
      case "training":
        return { at: now };
      case "health_certificate":
        return { staff: (rec.staff || []).map((s) => ({ name: s.name, post: s.post || "", until: (s.cert && s.cert.valid_until) || "" })).concat([{ name: "", post: "", until: "" }]) };
      case "sample_retention":
        return { fridge: (rec.retention && rec.retention.fridge_id) || "", responsible: (rec.retention && rec.retention.responsible) || "", mass: "125", hold: "48" };
      case "kiosk_ready":
        return { kiosk: (this.o.kiosks()[0] || {}).id || "", instrument: "", calOn: "", calUntil: "" };
    }
    return { ref: "" };
  }

  itemForm(kitchen, item, f) {
    const inp = (key, lab, type = "text") => el("label", { class: "fld" }, el("span", {}, t(lab)), el("input", { type, name: key, value: f[key] || "", oninput: (ev) => (f[key] = ev.target.value) }));
    let fields = [];
    switch (item) {
      case "emergency_drill":
      case "training":
        fields = [inp("at", "ev.heldAt", "datetime-local")];
        break;
      case "health_certificate":
        fields = [
          ...f.staff.map((s, i) =>
            el("div", { class: "staff-row", dataset: { i: String(i) } },
              el("input", { type: "text", name: "staff-name", value: s.name, placeholder: t("ev.staffName"), "aria-label": t("ev.staffName"), oninput: (ev) => (s.name = ev.target.value) }),
              el("input", { type: "text", name: "staff-post", value: s.post, placeholder: t("ev.staffPost"), "aria-label": t("ev.staffPost"), oninput: (ev) => (s.post = ev.target.value) }),
              el("input", { type: "date", name: "staff-until", value: s.until, "aria-label": t("ev.certUntil"), title: t("ev.certUntil"), oninput: (ev) => (s.until = ev.target.value) }))),
          el("button", { type: "button", class: "add-staff", onclick: () => (f.staff.push({ name: "", post: "", until: "" }), this.render()) }, t("ev.addStaff")),
        ];
        break;
      case "sample_retention":
        fields = [el("div", { class: "row2" }, inp("fridge", "ev.fridge"), inp("responsible", "ev.responsible")), el("div", { class: "row2" }, inp("mass", "ev.massG", "number"), inp("hold", "ev.holdH", "number"))];
        break;
      case "kiosk_ready":
        fields = [
          el("label", { class: "fld" }, el("span", {}, t("ev.kiosk")), el("select", { name: "kiosk", onchange: (ev) => (f.kiosk = ev.target.value) }, ...this.o.kiosks().map((k) => el("option", { value: k.id, selected: f.kiosk === k.id ? true : undefined }, k.name ? `${k.name}（${k.id}）` : k.id)))),
          inp("instrument", "ev.instrument"),
          el("div", { class: "row2" }, inp("calOn", "ev.calibrated", "date"), inp("calUntil", "ev.calUntil", "date")),
        ];
        break;
      default:
        fields = [inp("ref", "ev.ref")];
    }
    return el("form", { class: "item-form", dataset: { item }, onsubmit: (ev) => (ev.preventDefault(), this.record(kitchen, item)) },
      ...fields,
      el("div", { class: "buttons" },
        el("button", { type: "submit", class: "record-item primary", disabled: this.busy ? true : undefined }, this.busy ? t("ev.busy") : t("ev.record")),
        el("button", { type: "button", class: "back", onclick: () => (delete this.forms[`${kitchen}:${item}`], this.render()) }, t("ev.back"))));
  }

  relabel() {
    this.render();
  }
}

function readinessArgs(e) {
  const r = e.readiness || {};
  const pct = r.total ? `${Math.round((r.done / r.total) * 100)}%` : "0%";
  return { done: r.done || 0, total: r.total || 0, pct };
}

/**
 * The header's line for the event in force: its name and phase, and
 * today's meals in Beijing time. Returns null when no event is open.
 */
export function phaseLine(events, meals, kitchenName) {
  const live = (events || []).filter((e) => e.phase !== "closed");
  if (!live.length) return null;
  live.sort((a, b) => ORDER.indexOf(b.phase) - ORDER.indexOf(a.phase));
  const e = live[0];
  const today = (meals || []).filter((m) => m.event_id === e.id).sort((a, b) => String(a.start).localeCompare(String(b.start)));
  const mealText = today.length
    ? today.map((m) => `${pick(m.meal_label) || label(m.meal)}${m.name ? `「${m.name}」` : ""} ${beijing(m.start).slice(11)}–${beijing(m.end).slice(11)}${kitchenName && m.kitchen_name ? `（${m.kitchen_name}）` : ""}`).join("、")
    : t("ev.noMeals");
  return { event: e, phase: e.phase, text: `${e.filing.name} · ${label(e.phase)}`, meals: `${t("ev.today")} ${mealText}` };
}
