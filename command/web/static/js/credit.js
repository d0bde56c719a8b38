// credit: the credit accounts (信用积分) of stalls, kitchens and businesses
// and their risk grades (A–D), in the 信用等级 tab. The list (GET
// /api/v1/vendors, worst grade first, searchable, by grade) opens one
// account (GET /api/v1/vendors/{id}): its score and grade, the grade
// history (from → to, when, the rule that moved it and its source) and the
// points ledger, newest first: the time as YYYY-MM-DD HH:mm on the event's
// clock (when.js; Beijing time), the points, the rule by its zh-CN label,
// the source (快检结果, 处置事件结论, 巡查, 巡查发现的问题, 人工登记) and the
// record it names, an incident opening on the map. Inspectors, commanders and admins record a
// finding, a certification or a listing by hand (POST
// /api/v1/vendors/{id}/credit). A site's popup and detail open its account
// (openFor); accountLine is the popup's one line of it.
//
// One list of cards, no table, so the same screen works on a 390 px phone.
// DOM nodes and textContent only.

import * as api from "./api.js";
import { t, addStrings, label, pickBilingual } from "./i18n.js";
import { el } from "./dom.js";
import { formatWhen } from "./when.js";

addStrings({
  "panel.credit": { zh: "信用等级", en: "Credit" },
  "cr.title": { zh: "信用积分与风险等级", en: "Credit points and risk grades" },
  "cr.search": { zh: "搜索名称或编号", en: "Search by name or number" },
  "cr.all": { zh: "全部", en: "All" },
  "cr.none": { zh: "暂无信用档案", en: "No credit account yet" },
  "cr.noMatch": { zh: "没有符合条件的档案", en: "No account matches" },
  "cr.count": { zh: "共 {n} 户", en: "{n} accounts" },
  "cr.score": { zh: "{n} 分", en: "{n} points" },
  "cr.open": { zh: "信用档案", en: "Credit record" },
  "cr.openFor": { zh: "查看信用档案：{name}", en: "Open the credit record of {name}" },
  "cr.back": { zh: "返回列表", en: "Back to the list" },
  "cr.loading": { zh: "正在载入…", en: "Loading…" },
  "cr.failed": { zh: "载入失败：{msg}", en: "Could not load: {msg}" },
  "cr.noAccount": { zh: "该经营者尚无积分记录（登记等级：{grade}），首次检测、巡查或登记后建立档案。", en: "No points booked yet (registered grade: {grade}); the account opens with the first result, patrol or entry." },
  "cr.noGrade": { zh: "未定级", en: "not graded" },
  "cr.now": { zh: "当前", en: "Now" },
  "cr.line": { zh: "信用积分 {score}", en: "Credit: {score}" },
  "cr.history": { zh: "等级变动", en: "Grade history" },
  "cr.ledger": { zh: "积分台账", en: "Points ledger" },
  "cr.ledgerEmpty": { zh: "尚无积分变动", en: "No points booked yet" },
  "cr.first": { zh: "建档：{grade}", en: "Opened at {grade}" },
  "cr.moved": { zh: "{from} → {to}", en: "{from} → {to}" },
  "cr.why": { zh: "依据：{rule}", en: "Rule: {rule}" },
  "cr.source": { zh: "来源：{source}", en: "Source: {source}" },
  "cr.after": { zh: "变动后 {n} 分", en: "{n} points after" },
  "cr.atScore": { zh: "积分 {n}", en: "at {n} points" },
  "cr.by": { zh: "登记人：{who}", en: "Recorded by {who}" },
  "cr.incident": { zh: "处置事件 {id}", en: "Incident {id}" },
  "cr.record": { zh: "登记信用事项", en: "Record an entry" },
  "cr.reason": { zh: "事项", en: "Entry" },
  "cr.note": { zh: "说明", en: "Note" },
  "cr.notePlaceholder": { zh: "例如：证书编号、检查发现的问题", en: "e.g. the certificate number, what was found" },
  "cr.save": { zh: "登记", en: "Record" },
  "cr.busy": { zh: "正在登记…", en: "Saving…" },
  "cr.saved": { zh: "已登记", en: "Recorded" },
  "cr.saveFailed": { zh: "登记失败：{msg}", en: "Could not record: {msg}" },
  "cr.export": { zh: "导出台账", en: "Export the ledger" },
  "cr.csv": { zh: "CSV 表格", en: "CSV" },
  "cr.xlsx": { zh: "Excel 电子表格", en: "Excel" },
});

const GRADES = ["A", "B", "C", "D"];
/** The reasons a person books by hand (the engine books results, incidents and patrols itself). */
const BY_HAND = ["minor_finding", "major_finding", "rectified", "rectification_overdue", "complaint_substantiated", "certified", "seriously_dishonest"];
const WRITERS = ["admin", "commander", "inspector"];

const signed = (n) => (n > 0 ? `+${n}` : String(n));
const gradeText = (g) => (g ? label(`grade_${g}`) : t("cr.noGrade"));
const INCIDENT_ID = /^INC-[A-Za-z0-9-]+$/;

export class CreditView {
  /**
   * @param {HTMLElement} root the tab's section
   * @param {object} o
   * @param {() => object} o.me the logged-in user
   * @param {(id: string) => string} o.siteName a site's display name ("" when unknown)
   * @param {(id: string) => string} o.siteGrade a site's registered grade ("" when none)
   * @param {(id: string) => string} o.userName a user's name for people
   * @param {(id: string) => void} o.openIncident
   * @param {() => void} o.show brings the tab to the front
   * @param {() => void} o.changed an account changed (the popup may show it)
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.list = null; // [Credit] once loaded
    this.error = "";
    this.query = "";
    this.grade = ""; // the grade filter, "" for all
    this.open = null; // {id, data: Credit|null, missing, error}
    this.entry = { reason: BY_HAND[0], note: "" };
    this.status = ""; // the form's last message
    this.busy = false;
  }

  /** The account of a business from the list (for the popup), or null. */
  account(business) {
    return (this.list || []).find((c) => c.business_id === business) || null;
  }

  /** The popup's line: the account's score (the popup shows its grade), or null. */
  accountLine(business) {
    const c = this.account(business);
    if (!c) return null;
    return el("div", { class: "credit-line", dataset: { grade: c.grade, score: String(c.score) } }, t("cr.line", { score: t("cr.score", { n: c.score }) }));
  }

  async load() {
    try {
      this.list = (await api.vendors()) || [];
      this.error = "";
    } catch (err) {
      this.error = t("cr.failed", { msg: pickBilingual(err.message) });
    }
    this.render();
    if (this.o.changed) this.o.changed();
  }

  /** Opens the account of business (a site's id when the site names no business). */
  async openFor(business) {
    this.o.show();
    this.open = { id: business, data: null, missing: false, error: "" };
    this.status = "";
    this.render();
    if (!this.list) this.load();
    await this.fetchOpen();
  }

  async fetchOpen() {
    const o = this.open;
    try {
      o.data = await api.vendor(o.id);
    } catch (err) {
      if (err.status === 404) o.missing = true;
      else o.error = t("cr.failed", { msg: pickBilingual(err.message) });
    }
    if (this.open === o) this.render();
  }

  back() {
    this.open = null;
    this.render();
    this.load();
  }

  canWrite() {
    const me = this.o.me();
    return !!me && WRITERS.includes(me.role);
  }

  async record() {
    if (this.busy || !this.open) return;
    this.busy = true;
    this.status = t("cr.busy");
    this.render();
    try {
      const c = await api.recordCredit(this.open.id, { reason: this.entry.reason, note: this.entry.note.trim() });
      this.open.data = c;
      this.open.missing = false;
      this.entry.note = "";
      this.status = t("cr.saved");
      const i = (this.list || []).findIndex((x) => x.business_id === c.business_id);
      if (this.list && i >= 0) this.list[i] = c;
      else if (this.list) this.list.push(c);
      if (this.o.changed) this.o.changed();
    } catch (err) {
      this.status = t("cr.saveFailed", { msg: pickBilingual(err.message) });
    }
    this.busy = false;
    this.render();
  }

  relabel() {
    this.render();
  }

  /** An account's name for people: the site's (in the page's language), else the one the account keeps. */
  name(c) {
    return (c && (this.o.siteName(c.business_id) || c.name)) || (c ? c.business_id : "");
  }

  render() {
    this.root.replaceChildren(...(this.open ? this.renderAccount() : this.renderList()));
  }

  renderList() {
    const out = [el("h3", {}, t("cr.title"))];
    if (this.error) out.push(el("p", { class: "error", role: "alert" }, this.error));
    if (!this.list) return [...out, el("p", { class: "empty" }, t("cr.loading"))];
    const counts = Object.fromEntries(GRADES.map((g) => [g, this.list.filter((c) => c.grade === g).length]));
    const chip = (g, text) =>
      el("button", { type: "button", class: "chip-btn", dataset: { grade: g }, "aria-pressed": this.grade === g ? "true" : "false", onclick: () => ((this.grade = g), this.render()) }, text);
    const search = el("input", { type: "search", class: "credit-search", placeholder: t("cr.search"), "aria-label": t("cr.search"), value: this.query });
    search.addEventListener("input", () => {
      this.query = search.value;
      this.renderRows(ul, note);
    });
    out.push(
      el(
        "div",
        { class: "credit-tools" },
        search,
        el("div", { class: "triage-chips credit-grades" }, chip("", t("cr.all")), ...GRADES.map((g) => chip(g, `${g} ${counts[g]}`))),
        el(
          "div",
          { class: "credit-export" },
          el("span", { class: "k" }, t("cr.export")),
          el("a", { class: "export-link", href: "/api/v1/export/credit.csv", download: "", dataset: { export: "credit", format: "csv" } }, t("cr.csv")),
          el("a", { class: "export-link", href: "/api/v1/export/credit.xlsx", download: "", dataset: { export: "credit", format: "xlsx" } }, t("cr.xlsx")),
        ),
      ),
    );
    const note = el("p", { class: "credit-count" });
    const ul = el("ul", { class: "credit-list" });
    out.push(note, ul);
    this.renderRows(ul, note);
    return out;
  }

  renderRows(ul, note) {
    const q = this.query.trim().toLowerCase();
    const rows = this.list.filter((c) => (!this.grade || c.grade === this.grade) && (!q || `${this.name(c)} ${c.business_id}`.toLowerCase().includes(q)));
    note.textContent = this.list.length ? t("cr.count", { n: rows.length }) : "";
    ul.replaceChildren(
      ...(rows.length
        ? rows.map((c) =>
            el(
              "li",
              { class: "credit-row", dataset: { business: c.business_id, grade: c.grade } },
              el(
                "button",
                { type: "button", class: "open-credit", title: t("cr.openFor", { name: this.name(c) }), onclick: () => this.openFor(c.business_id) },
                el("i", { class: `grade-badge g-${c.grade}`, "aria-hidden": "true" }, c.grade),
                el("span", { class: "name" }, this.name(c), el("small", {}, c.business_id)),
                el("span", { class: "score" }, t("cr.score", { n: c.score })),
              ),
            ),
          )
        : [el("li", { class: "empty" }, this.list.length ? t("cr.noMatch") : t("cr.none"))]),
    );
  }

  renderAccount() {
    const o = this.open;
    const c = o.data;
    const out = [
      el("button", { type: "button", class: "link-button credit-back", onclick: () => this.back() }, "← ", t("cr.back")),
      el("h3", {}, c ? this.name(c) : this.o.siteName(o.id) || o.id, el("small", {}, ` ${o.id}`)),
    ];
    if (o.error) out.push(el("p", { class: "error", role: "alert" }, o.error));
    else if (o.missing) out.push(el("p", { class: "empty credit-missing" }, t("cr.noAccount", { grade: gradeText(this.o.siteGrade(o.id)) })));
    else if (!c) out.push(el("p", { class: "empty" }, t("cr.loading")));
    else {
      out.push(
        el(
          "div",
          { class: "credit-now", dataset: { grade: c.grade, score: String(c.score) } },
          el("i", { class: `grade-badge big g-${c.grade}`, "aria-hidden": "true" }, c.grade),
          el("div", {}, el("b", {}, gradeText(c.grade)), el("div", { class: "sub" }, t("cr.score", { n: c.score }))),
        ),
        el("h4", {}, t("cr.history")),
        el("ol", { class: "grade-history" }, ...[...(c.history || [])].reverse().map((h) => this.historyRow(h))),
        el("h4", {}, t("cr.ledger")),
        (c.ledger || []).length
          ? el("ol", { class: "credit-ledger" }, ...[...c.ledger].reverse().map((l) => this.ledgerRow(l)))
          : el("p", { class: "empty" }, t("cr.ledgerEmpty")),
      );
    }
    if (this.canWrite() && !o.error && (c || o.missing)) out.push(this.form());
    return out;
  }

  historyRow(h) {
    const move = h.from ? t("cr.moved", { from: gradeText(h.from), to: gradeText(h.to) }) : t("cr.first", { grade: gradeText(h.to) });
    return el(
      "li",
      { class: "grade-change", dataset: { from: h.from || "", to: h.to, reason: h.reason } },
      el("div", { class: "top" }, el("time", { datetime: h.at }, formatWhen(h.at)), el("b", { class: "move" }, move)),
      el("div", { class: "why" }, t("cr.why", { rule: label(h.reason) }), " · ", t("cr.source", { source: label(h.source) }), " · ", t("cr.atScore", { n: h.score })),
    );
  }

  ledgerRow(l) {
    const inc = [l.ref, l.note].find((s) => INCIDENT_ID.test(s || ""));
    // The note of a result's line is its incident's number, of a finding
    // its text; a line by hand has the recorder's words.
    const note = l.note && l.note !== inc ? l.note : "";
    return el(
      "li",
      { class: "ledger-line", dataset: { reason: l.reason, source: l.source, points: String(l.points) } },
      el(
        "div",
        { class: "top" },
        el("time", { datetime: l.at }, formatWhen(l.at)),
        el("b", { class: `points ${l.points < 0 ? "minus" : l.points > 0 ? "plus" : "zero"}` }, signed(l.points)),
        el("span", { class: "rule" }, label(l.reason)),
      ),
      el(
        "div",
        { class: "why" },
        el("span", { class: "source" }, t("cr.source", { source: label(l.source) })),
        " · ",
        t("cr.after", { n: l.score_after }),
        l.by ? [" · ", t("cr.by", { who: this.o.userName(l.by) })] : null,
      ),
      note ? el("div", { class: "note" }, note) : null,
      inc ? el("button", { type: "button", class: "link-button credit-incident", onclick: () => this.o.openIncident(inc) }, t("cr.incident", { id: inc })) : null,
    );
  }

  form() {
    const select = el(
      "select",
      { class: "credit-reason", "aria-label": t("cr.reason") },
      ...BY_HAND.map((r) => el("option", { value: r, selected: r === this.entry.reason }, label(r))),
    );
    select.addEventListener("change", () => (this.entry.reason = select.value));
    const note = el("input", { type: "text", class: "credit-note", maxlength: "200", placeholder: t("cr.notePlaceholder"), "aria-label": t("cr.note"), value: this.entry.note });
    note.addEventListener("input", () => (this.entry.note = note.value));
    return el(
      "form",
      {
        class: "credit-form",
        onsubmit: (e) => {
          e.preventDefault();
          this.record();
        },
      },
      el("h4", {}, t("cr.record")),
      el("label", {}, el("span", {}, t("cr.reason")), select),
      el("label", {}, el("span", {}, t("cr.note")), note),
      el("button", { type: "submit", class: "primary", disabled: this.busy }, t("cr.save")),
      this.status ? el("p", { class: "status", role: "status" }, this.status) : null,
    );
  }
}
