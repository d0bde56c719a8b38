// chefs: the village-chef register (乡村厨师备案登记, 人员管理) of rural
// banquets. A search over name, phone, service area and certificate
// number; each chef's row shows the health certificate (number, valid
// until) with a flag when it is expired or missing today, the trainings,
// whether the chef may cook today and why not, and the banquets whose
// filing names the chef (each opens in the banquet screen). The filing
// form files a chef (POST /api/v1/chefs; the service numbers it) or
// corrects one; a training session is counted with one button.
//
// DOM nodes and textContent only.

import * as api from "./api.js";
import { t, addStrings, label, getLang } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "panel.chefs": { zh: "乡村厨师", en: "Village chefs" },
  "vc.new": { zh: "登记厨师", en: "File a chef" },
  "vc.editTitle": { zh: "修改登记", en: "Correct the entry" },
  "vc.search": { zh: "搜索姓名、电话、服务区域或证号", en: "Search name, phone, area or certificate" },
  "vc.count": { zh: "共 {n} 人，健康证明过期或缺失 {bad} 人", en: "{n} chefs, {bad} without a valid health certificate" },
  "vc.none": { zh: "暂无登记的乡村厨师", en: "No chef on the register" },
  "vc.noMatch": { zh: "没有符合条件的厨师", en: "No chef matches" },
  "vc.name": { zh: "姓名", en: "Name" },
  "vc.phone": { zh: "联系电话", en: "Phone" },
  "vc.area": { zh: "服务乡镇/村", en: "Town / village served" },
  "vc.certNo": { zh: "健康证明编号", en: "Health certificate number" },
  "vc.issued": { zh: "发证日期", en: "Issued on" },
  "vc.validUntil": { zh: "有效期至", en: "Valid until" },
  "vc.trainings": { zh: "培训次数", en: "Trainings" },
  "vc.lastTrained": { zh: "最近培训日期", en: "Last trained" },
  "vc.cert": { zh: "健康证明 {no}，有效期至 {until}", en: "Health certificate {no}, valid until {until}" },
  "vc.certState": { zh: "健康证明：{state}", en: "Health certificate: {state}" },
  "vc.certNone": { zh: "无健康证明", en: "No health certificate" },
  "vc.trained": { zh: "培训 {n} 次，最近 {date}", en: "Trained {n} times, last {date}" },
  "vc.untrained": { zh: "未培训", en: "Not trained" },
  "vc.fit": { zh: "今日可承接聚餐", en: "May cook today" },
  "vc.banquets": { zh: "承办的聚餐", en: "Banquets cooked" },
  "vc.noBanquets": { zh: "暂无备案聚餐记录", en: "No filed banquet" },
  "vc.training": { zh: "记录一次培训", en: "Count a training" },
  "vc.edit": { zh: "修改", en: "Correct" },
  "vc.save": { zh: "提交登记", en: "File" },
  "vc.busy": { zh: "正在提交…", en: "Saving…" },
  "vc.back": { zh: "返回列表", en: "Back to the list" },
  "vc.failed": { zh: "操作失败：{msg}", en: "Failed: {msg}" },
});

function pick(l) {
  return l ? (getLang() === "en" ? l.en || l.zh : l.zh) : "";
}

/** What the search looks at in one entry. */
function haystack(c) {
  return [c.id, c.name, c.phone, c.service_area, c.cert && c.cert.number].filter(Boolean).join(" ").toLowerCase();
}

export class ChefView {
  /**
   * @param {HTMLElement} root
   * @param {object} o
   * @param {() => object} o.me
   * @param {(id: string) => void} o.openBanquet
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.list = null;
    this.query = "";
    this.form = null;
    this.error = "";
    this.busy = false;
    this.listEl = null;
  }

  async load() {
    try {
      this.list = (await api.chefs()) || [];
      this.error = "";
    } catch (err) {
      this.error = t("vc.failed", { msg: err.message });
    }
    this.render();
  }

  canFile() {
    const me = this.o.me() || {};
    return ["admin", "commander", "inspector", "operator"].includes(me.role);
  }

  async act(fn) {
    this.busy = true;
    this.error = "";
    this.render();
    try {
      await fn();
      this.form = null;
      this.busy = false;
      await this.load();
      return;
    } catch (err) {
      this.error = t("vc.failed", { msg: err.message });
    }
    this.busy = false;
    this.render();
  }

  render() {
    const parts = [];
    if (this.form) parts.push(this.filingForm());
    else if (this.list) {
      if (this.canFile()) parts.push(el("button", { type: "button", class: "new-chef", onclick: () => this.edit(null) }, t("vc.new")));
      parts.push(
        el("input", {
          type: "search",
          class: "chef-search",
          value: this.query,
          placeholder: t("vc.search"),
          "aria-label": t("vc.search"),
          oninput: (ev) => ((this.query = ev.target.value), this.renderList()),
        }),
      );
      this.countEl = el("div", { class: "label chef-count" });
      this.listEl = el("ul", { class: "chef-list" });
      parts.push(this.countEl, this.listEl);
    }
    if (this.error) parts.push(el("p", { class: "error", role: "alert" }, this.error));
    this.root.replaceChildren(...parts);
    if (this.listEl && !this.form) this.renderList();
  }

  /** The rows matching the search (the search box keeps its focus). */
  renderList() {
    const all = this.list || [];
    const words = this.query.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = all.filter((c) => words.every((w) => haystack(c).includes(w)));
    const bad = all.filter((c) => c.cert_state !== "cert_valid").length;
    this.countEl.textContent = t("vc.count", { n: all.length, bad });
    const rows = shown.map((c) => this.row(c));
    if (!all.length) rows.push(el("li", { class: "empty" }, t("vc.none")));
    else if (!shown.length) rows.push(el("li", { class: "empty" }, t("vc.noMatch")));
    this.listEl.replaceChildren(...rows);
  }

  row(c) {
    const cert = c.cert || {};
    const banquets = c.banquets || [];
    return el(
      "li",
      { class: `chef-row cert-${c.cert_state}`, dataset: { chef: c.id, cert: c.cert_state, fit: c.fit_today ? "1" : "0" } },
      el("div", { class: "top" }, el("b", { class: "chef-name" }, c.name), el("span", { class: `state-chip vc-${c.cert_state}` }, t("vc.certState", { state: pick(c.cert_status) }))),
      el("div", { class: "sub" }, [c.phone, c.service_area].filter(Boolean).join(" · ")),
      el("div", { class: "cert-line" }, cert.valid_until ? t("vc.cert", { no: cert.number || "—", until: cert.valid_until }) : t("vc.certNone")),
      el("div", { class: "trained" }, c.trainings ? t("vc.trained", { n: c.trainings, date: c.last_trained || "—" }) : t("vc.untrained")),
      c.fit_today ? el("div", { class: "fit" }, `✓ ${t("vc.fit")}`) : el("ul", { class: "why" }, ...(c.why || []).map((w) => el("li", {}, pick(w)))),
      el(
        "div",
        { class: "chef-banquets" },
        el("span", { class: "k" }, `${t("vc.banquets")}：`),
        banquets.length
          ? banquets.map((b) =>
              el(
                "button",
                { type: "button", class: "link-button open-banquet", dataset: { banquet: b.id }, onclick: () => this.o.openBanquet(b.id) },
                [b.date, b.host, label(b.type), label(b.state)].filter(Boolean).join(" · "),
              ),
            )
          : el("span", { class: "empty" }, t("vc.noBanquets")),
      ),
      this.canFile()
        ? el(
            "div",
            { class: "buttons" },
            el("button", { type: "button", class: "chef-training", disabled: this.busy ? true : undefined, onclick: () => this.act(() => api.chefTraining(c.id, "")) }, t("vc.training")),
            el("button", { type: "button", class: "edit-chef", onclick: () => this.edit(c) }, t("vc.edit")),
          )
        : null,
    );
  }

  edit(c) {
    const x = c || {};
    const cert = x.cert || {};
    this.form = {
      id: x.id || "",
      name: x.name || "",
      phone: x.phone || "",
      service_area: x.service_area || "",
      number: cert.number || "",
      issued_on: cert.issued_on || "",
      valid_until: cert.valid_until || "",
      trainings: String(x.trainings || 0),
      last_trained: x.last_trained || "",
    };
    this.error = "";
    this.render();
  }

  async save() {
    const f = this.form;
    const chef = {
      id: f.id || undefined,
      name: f.name.trim(),
      phone: f.phone.trim() || undefined,
      service_area: f.service_area.trim() || undefined,
      cert: { number: f.number.trim() || undefined, issued_on: f.issued_on || undefined, valid_until: f.valid_until || undefined },
      trainings: Number(f.trainings) || 0,
      last_trained: f.last_trained || undefined,
    };
    await this.act(() => api.putChef(chef));
  }

  filingForm() {
    const f = this.form;
    const input = (key, lab, type = "text", extra = {}) =>
      el("label", { class: `fld f-${key}` }, el("span", {}, t(lab)), el("input", { type, name: key, value: f[key], oninput: (ev) => (f[key] = ev.target.value), ...extra }));
    return el(
      "form",
      { class: "chef-filing", onsubmit: (ev) => (ev.preventDefault(), this.save()) },
      el("h3", {}, f.id ? `${t("vc.editTitle")} · ${f.name}` : t("vc.new")),
      input("name", "vc.name", "text", { required: true }),
      input("phone", "vc.phone", "tel"),
      input("service_area", "vc.area"),
      input("number", "vc.certNo"),
      el("div", { class: "dates" }, input("issued_on", "vc.issued", "date"), input("valid_until", "vc.validUntil", "date")),
      el("div", { class: "dates" }, input("trainings", "vc.trainings", "number", { min: "0" }), input("last_trained", "vc.lastTrained", "date")),
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "submit", class: "save-chef", disabled: this.busy ? true : undefined }, this.busy ? t("vc.busy") : t("vc.save")),
        el("button", { type: "button", class: "back", onclick: () => ((this.form = null), (this.error = ""), this.render()) }, t("vc.back")),
      ),
    );
  }

  relabel() {
    this.render();
  }
}
