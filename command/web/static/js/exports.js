// exports: the 导出数据 button in the header and its dialog, the one place
// the city office and the commanders take data away: results (with the
// event and a date range), incidents (by event), rural banquets, the credit
// ledger, the audit log (admins only) and each event's reports (the daily
// report of a day and the end-of-event report, on screen to print or as a
// workbook). Every file is a plain link to GET /api/v1/export/{name}.csv or
// .xlsx (or …/events/{id}/report.xlsx) that the browser downloads with the
// session cookie; the server keeps to the user's events and role, and the
// dialog shows only what the role may use: the audit log to admins, the
// banquets (which belong to no event) to users not limited to events.
//
// DOM nodes and textContent only.

import { eventDay, dayStart, dayEnd } from "./when.js"; // served by internal/jswhen: the event's clock
import { t, addStrings } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "ex.button": { zh: "导出数据", en: "Export" },
  "ex.buttonTitle": { zh: "下载检测结果、处置事件、聚餐、信用台账和保障报告", en: "Download results, incidents, banquets, the credit ledger and reports" },
  "ex.title": { zh: "导出数据", en: "Export data" },
  "ex.close": { zh: "关闭", en: "Close" },
  "ex.event": { zh: "重大活动", en: "Event" },
  "ex.allEvents": { zh: "全部（我可查看的活动）", en: "All (the events I may see)" },
  "ex.from": { zh: "检测日期从", en: "Tested from" },
  "ex.to": { zh: "至", en: "to" },
  "ex.csv": { zh: "CSV 表格", en: "CSV" },
  "ex.xlsx": { zh: "Excel 电子表格", en: "Excel" },
  "ex.day": { zh: "日报日期", en: "Date of the daily report" },
  "ex.results": { zh: "检测结果", en: "Test results" },
  "ex.resultsNote": { zh: "按所选活动和检测日期（北京时间）", en: "For the chosen event and test dates (Beijing time)" },
  "ex.incidents": { zh: "风险处置事件", en: "Incidents" },
  "ex.incidentsNote": { zh: "按所选活动，含各环节时间", en: "For the chosen event, with the time of each stage" },
  "ex.banquets": { zh: "农村集体聚餐", en: "Rural banquets" },
  "ex.banquetsNote": { zh: "备案、指导和整改", en: "Filings, guidance and rectification" },
  "ex.credit": { zh: "信用积分台账", en: "Credit ledger" },
  "ex.creditNote": { zh: "每一次积分变动及其规则、来源", en: "Every booking with its rule and source" },
  "ex.audit": { zh: "审计日志", en: "Audit log" },
  "ex.auditNote": { zh: "登录、拒绝和修改记录（仅管理员）", en: "Logins, refusals and changes (admins only)" },
  "ex.reports": { zh: "保障报告", en: "Reports" },
  "ex.pickEvent": { zh: "请先选择一项重大活动", en: "Choose an event first" },
  "ex.dailyOf": { zh: "日报", en: "Daily report" },
  "ex.final": { zh: "总结报告", en: "End-of-event report" },
  "ex.view": { zh: "查看打印", en: "View / print" },
  "ex.scoped": { zh: "仅含您负责的活动：{events}", en: "Only your events: {events}" },
});

/**
 * The exports the dialog offers, in order: event and dates say which
 * filters the table takes; admin and unscoped who may use it.
 */
const TABLES = [
  { name: "results", event: true, dates: true },
  { name: "incidents", event: true },
  { name: "banquets", unscoped: true },
  { name: "credit" },
  { name: "audit", admin: true },
];

export class Exports {
  /**
   * @param {object} o
   * @param {() => object} o.me the logged-in user ({role, events})
   * @param {() => object[]} o.events the events the user may see
   */
  constructor(o) {
    this.o = o;
    this.event = "";
    this.day = ""; // the daily report's date ("" → today)
    this.from = "";
    this.to = "";
    this.dialog = null;
    this.button = el("button", { type: "button", id: "to-exports", class: "nav-link exports-button", title: t("ex.buttonTitle"), onclick: () => this.openDialog() }, t("ex.button"));
  }

  /** Puts the button in the header, before anchor. */
  mount(anchor) {
    anchor.before(this.button);
  }

  relabel() {
    this.button.textContent = t("ex.button");
    this.button.title = t("ex.buttonTitle");
    if (this.dialog && this.dialog.open) this.render();
  }

  openDialog() {
    if (!this.dialog) {
      this.dialog = el("dialog", { class: "exports", "aria-labelledby": "exports-title" });
      this.dialog.addEventListener("click", (e) => e.target === this.dialog && this.dialog.close());
      document.body.append(this.dialog);
    }
    this.render();
    this.dialog.showModal();
  }

  /** The tables this user may download. */
  tables() {
    const me = this.o.me() || {};
    const scoped = (me.events || []).length > 0;
    return TABLES.filter((x) => (!x.admin || me.role === "admin") && (!x.unscoped || !scoped));
  }

  href(x, ext) {
    const q = new URLSearchParams();
    if (x.event && this.event) q.set("event", this.event);
    // The days are the event's (when.js): from its midnight to the last millisecond of the last day.
    if (x.dates && this.from) q.set("since", dayStart(this.from));
    if (x.dates && this.to) q.set("until", dayEnd(this.to));
    const qs = q.toString();
    return `/api/v1/export/${x.name}.${ext}${qs ? `?${qs}` : ""}`;
  }

  render() {
    const me = this.o.me() || {};
    const events = this.o.events() || [];
    const evName = (e) => (e.filing && e.filing.name) || e.id;
    const select = el(
      "select",
      { class: "ex-event", "aria-label": t("ex.event") },
      el("option", { value: "" }, t("ex.allEvents")),
      ...events.map((e) => el("option", { value: e.id, selected: e.id === this.event }, evName(e))),
    );
    select.addEventListener("change", () => {
      this.event = select.value;
      this.render();
    });
    const date = (v, key, set) => {
      const i = el("input", { type: "date", class: `ex-${key}`, value: v, "aria-label": t(`ex.${key}`) });
      i.addEventListener("change", () => {
        set(i.value);
        this.render();
      });
      return el("label", {}, el("span", {}, t(`ex.${key}`)), i);
    };
    const links = (x) =>
      el(
        "span",
        { class: "ex-links" },
        ["csv", "xlsx"].map((ext) => el("a", { class: "export-link", href: this.href(x, ext), download: "", dataset: { export: x.name, format: ext } }, t(`ex.${ext}`))),
      );
    const rows = this.tables().map((x) =>
      el("li", { class: "ex-row", dataset: { table: x.name } }, el("div", { class: "what" }, el("b", {}, t(`ex.${x.name}`)), el("small", {}, t(`ex.${x.name}Note`))), links(x)),
    );
    const day = this.day || eventDay();
    const enc = encodeURIComponent(this.event);
    const report = (title, q, extra) =>
      el(
        "li",
        { class: "ex-row", dataset: { report: q ? "daily" : "final" } },
        el("div", { class: "what" }, el("b", {}, title)),
        extra || null,
        el(
          "span",
          { class: "ex-links" },
          el("a", { class: "export-link", href: `report.html?event=${enc}${q}`, target: "_blank", rel: "noopener" }, t("ex.view")),
          el("a", { class: "export-link", href: `/api/v1/events/${enc}/report.xlsx${q ? `?${q.slice(1)}` : ""}`, download: "", dataset: { export: "report", format: "xlsx" } }, t("ex.xlsx")),
        ),
      );
    const dayInput = el("input", { type: "date", class: "ex-day", value: day, "aria-label": t("ex.day"), title: t("ex.day") });
    dayInput.addEventListener("change", () => {
      this.day = dayInput.value;
      this.render();
    });
    const parts = [
      el(
        "div",
        { class: "ex-head" },
        el("h2", { id: "exports-title" }, t("ex.title")),
        el("button", { type: "button", class: "ex-close", "aria-label": t("ex.close"), title: t("ex.close"), onclick: () => this.dialog.close() }, "×"),
      ),
      (me.events || []).length ? el("p", { class: "ex-scope" }, t("ex.scoped", { events: me.events.map((id) => evName(events.find((e) => e.id === id) || { id })).join("、") })) : null,
      el("div", { class: "ex-filters" }, el("label", {}, el("span", {}, t("ex.event")), select), date(this.from, "from", (v) => (this.from = v)), date(this.to, "to", (v) => (this.to = v))),
      el("ul", { class: "ex-list" }, ...rows),
      el("h3", {}, t("ex.reports")),
      this.event
        ? el("ul", { class: "ex-list" }, report(t("ex.dailyOf"), `&date=${encodeURIComponent(day)}`, dayInput), report(t("ex.final"), ""))
        : el("p", { class: "empty" }, t("ex.pickEvent")),
    ];
    this.dialog.replaceChildren(...parts.filter(Boolean));
  }
}
