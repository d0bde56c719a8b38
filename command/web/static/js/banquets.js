// banquets: rural group dining (农村集体聚餐) from filing to closed. The
// filing form (town, village, host, occasion, place with the phone's
// position, sittings, diners, cooks with their health certificates) files
// it (POST /api/v1/banquets), and guidance is assigned to the nearest
// patrol team when the headcount calls for it. A banquet's card shows its
// sittings as YYYY-MM-DD 午餐/晚餐 in Beijing time, its four items in place
// (四到位: personnel, filing, guidance, rectification) with what is
// missing, and the next step: the on-site check with findings, each
// becoming a rectification item; rectification with a photo per item;
// closing with the number taken ill.
//
// DOM nodes and textContent only.

import { formatWhen, eventDay } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import * as api from "./api.js";
import { t, addStrings, label, getLang } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "panel.banquets": { zh: "农村聚餐", en: "Banquets" },
  "bq.new": { zh: "备案登记", en: "File a banquet" },
  "bq.list": { zh: "已备案聚餐", en: "Filed banquets" },
  "bq.none": { zh: "暂无备案的农村集体聚餐", en: "No banquet filed" },
  "bq.town": { zh: "乡镇", en: "Town" },
  "bq.village": { zh: "村", en: "Village" },
  "bq.host": { zh: "办宴者姓名", en: "Host" },
  "bq.phone": { zh: "联系电话", en: "Phone" },
  "bq.type": { zh: "宴席类型", en: "Occasion" },
  "bq.place": { zh: "办宴地点", en: "Place" },
  "bq.usePosition": { zh: "用手机定位标注地点", en: "Mark the place with the phone's position" },
  "bq.positioned": { zh: "已定位", en: "Position taken" },
  "bq.sitting": { zh: "就餐日期", en: "Date" },
  "bq.meal": { zh: "餐次", en: "Meal" },
  "bq.addSitting": { zh: "添加餐次", en: "Add a sitting" },
  "bq.headcount": { zh: "就餐人数", en: "Diners" },
  "bq.chefSource": { zh: "厨师来源", en: "Cooks from" },
  "bq.cook": { zh: "厨师/帮厨姓名", en: "Cook's name" },
  "bq.role": { zh: "岗位", en: "Role" },
  "bq.cert": { zh: "健康证明", en: "Health certificate" },
  "bq.addCook": { zh: "添加人员", en: "Add a cook" },
  "bq.remove": { zh: "删除", en: "Remove" },
  "bq.file": { zh: "提交备案", en: "File" },
  "bq.busy": { zh: "正在提交…", en: "Saving…" },
  "bq.failed": { zh: "操作失败：{msg}", en: "Failed: {msg}" },
  "bq.warnings": { zh: "备案提示", en: "Warnings" },
  "bq.sittings": { zh: "就餐时间", en: "Sittings" },
  "bq.team": { zh: "指导保障组", en: "Guidance team" },
  "bq.four": { zh: "四到位", en: "Four in place" },
  "bq.rects": { zh: "整改事项", en: "Rectification items" },
  "bq.rectDue": { zh: "{id} {text}（{sev}，{due} 前）", en: "{id} {text} ({sev}, by {due})" },
  "bq.rectDone": { zh: "{id} {text}（已整改）", en: "{id} {text} (rectified)" },
  "bq.check": { zh: "记录现场检查", en: "Record the on-site check" },
  "bq.finding": { zh: "发现的问题", en: "Finding" },
  "bq.addFinding": { zh: "添加问题", en: "Add a finding" },
  "bq.saveCheck": { zh: "提交检查结果", en: "Record the check" },
  "bq.toRectify": { zh: "转入整改", en: "Start rectification" },
  "bq.rectPhoto": { zh: "整改照片", en: "Photo of the fix" },
  "bq.rectNote": { zh: "整改情况", en: "What was done" },
  "bq.closeRect": { zh: "整改到位", en: "Rectified" },
  "bq.close": { zh: "关闭（餐后回访）", en: "Close (follow-up done)" },
  "bq.ill": { zh: "发病人数", en: "Taken ill" },
  "bq.open": { zh: "查看", en: "Open" },
  "bq.back": { zh: "返回列表", en: "Back to the list" },
  "bq.needPhoto": { zh: "请先拍照或选择整改照片", en: "Take or choose a photo of the fix first" },
  "bq.registered": { zh: "已登记乡村厨师，健康证明：{cert}", en: "Registered village chef, health certificate: {cert}" },
});

const TYPES = ["wedding", "birthday", "house_building", "housewarming", "funeral", "other_banquet"];

function pick(l) {
  return l ? (getLang() === "en" ? l.en : l.zh) : "";
}

/** "YYYY-MM-DD HH:mm" of an instant on the event's clock (when.js). */
export function beijing(iso) {
  return formatWhen(iso);
}

export class BanquetView {
  /**
   * @param {HTMLElement} root
   * @param {object} o
   * @param {() => object} o.me
   * @param {(id: string) => string} o.teamName
   * @param {(b: object) => void} o.onChanged a banquet came back from the API
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.list = [];
    this.open = null; // the banquet shown
    this.filing = null; // the filing form's values
    this.form = null; // {kind: "check"|"close", findings, ill}
    this.rect = {}; // rid → {note, file}
    this.warnings = [];
    this.error = "";
    this.busy = false;
    this.registered = null; // the village-chef register, for the cooks' names (chefs.js)
  }

  /** Loads the village-chef register once a filing form is open: a cook typed by a registered name is linked by chef_id. */
  async loadChefs() {
    if (this.registered) return;
    this.registered = [];
    try {
      this.registered = (await api.chefs()) || [];
    } catch (_) {
      return; // the form works without the register
    }
    if (this.filing) this.render();
  }

  /** Links a cook to the register when the typed name is one registered chef's. */
  matchChef(c) {
    const hits = (this.registered || []).filter((x) => x.name === c.name.trim());
    c.chef_id = hits.length === 1 ? hits[0].id : "";
    if (c.chef_id) c.cert = hits[0].cert_state;
  }

  async load() {
    try {
      this.list = (await api.banquetList()) || [];
      if (this.open) this.open = this.list.find((b) => b.id === this.open.id) || this.open;
    } catch (err) {
      this.error = t("bq.failed", { msg: err.message });
    }
    this.render();
  }

  /** A newer copy of a banquet (a live delta or an API answer). */
  update(b) {
    const i = this.list.findIndex((x) => x.id === b.id);
    if (i >= 0) this.list[i] = b;
    else this.list.unshift(b);
    if (this.open && this.open.id === b.id) this.open = b;
    this.render();
  }

  async act(fn) {
    this.busy = true;
    this.error = "";
    this.render();
    try {
      const b = await fn();
      if (b) {
        this.update(b);
        this.open = b;
        this.o.onChanged(b);
      }
      this.form = null;
    } catch (err) {
      this.error = t("bq.failed", { msg: err.message });
    }
    this.busy = false;
    this.render();
  }

  newFiling() {
    const today = eventDay(Date.now() + 4 * 86400e3);
    this.filing = {
      town: "", village: "", host: "", phone: "", type: "wedding", place: "", point: null,
      sittings: [{ date: today, meal: "lunch" }], headcount: "", chef_source: "hired_chef",
      cooks: [{ name: "", role: "cook", cert: "cert_valid" }],
    };
    this.open = null;
    this.render();
  }

  async locate() {
    try {
      const p = await new Promise((ok, no) => navigator.geolocation ? navigator.geolocation.getCurrentPosition((x) => ok({ lon: x.coords.longitude, lat: x.coords.latitude }), no, { timeout: 8000 }) : no(new Error("—")));
      this.filing.point = p;
    } catch (err) {
      this.error = t("bq.failed", { msg: err.message || String(err) });
    }
    this.render();
  }

  async submitFiling() {
    const f = this.filing;
    const filing = {
      town: f.town.trim(), village: f.village.trim(), host: { name: f.host.trim(), phone: f.phone.trim() }, type: f.type, place: f.place.trim(),
      point: f.point || undefined, sittings: f.sittings, headcount: Number(f.headcount) || 0, chef_source: f.chef_source,
      cooks: f.cooks.filter((c) => c.name.trim()).map((c) => ({ name: c.name.trim(), role: c.role, cert: c.cert, chef_id: c.chef_id || undefined })),
    };
    await this.act(async () => {
      const res = await api.fileBanquet({ filing });
      this.warnings = res.warnings || [];
      this.filing = null;
      return res.banquet;
    });
  }

  render() {
    const parts = [];
    if (this.filing) parts.push(this.filingForm());
    else if (this.open) parts.push(this.card(this.open));
    else {
      parts.push(el("button", { type: "button", class: "new-banquet", onclick: () => this.newFiling() }, t("bq.new")));
      parts.push(el("div", { class: "label" }, t("bq.list")));
      if (!this.list.length) parts.push(el("p", { class: "empty" }, t("bq.none")));
      parts.push(
        el(
          "ul",
          { class: "banquet-list" },
          ...this.list.map((b) =>
            el(
              "li",
              { class: "banquet-row", dataset: { banquet: b.id, state: b.state } },
              el("b", {}, `${b.filing.host.name} · ${label(b.filing.type)}`),
              el("span", { class: `state-chip bq-${b.state}` }, label(b.state)),
              el("div", { class: "sub" }, [b.filing.town, b.filing.village, b.filing.place].join(" "), " · ", sittings(b)),
              el("button", { type: "button", class: "open-banquet", onclick: () => ((this.open = b), this.render()) }, t("bq.open")),
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
    this.loadChefs();
    const input = (key, lab, type = "text") => el("label", { class: `fld f-${key}` }, el("span", {}, t(lab)), el("input", { type, name: key, value: f[key], oninput: (ev) => (f[key] = ev.target.value) }));
    const select = (obj, key, values, lab) => el("select", { name: key, "aria-label": t(lab), onchange: (ev) => (obj[key] = ev.target.value) }, ...values.map((v) => el("option", { value: v, selected: obj[key] === v ? true : undefined }, label(v))));
    return el(
      "form",
      { class: "banquet-filing", onsubmit: (ev) => (ev.preventDefault(), this.submitFiling()) },
      el("h3", {}, t("bq.new")),
      input("town", "bq.town"),
      input("village", "bq.village"),
      input("host", "bq.host"),
      input("phone", "bq.phone", "tel"),
      el("label", { class: "fld" }, el("span", {}, t("bq.type")), select(f, "type", TYPES, "bq.type")),
      input("place", "bq.place"),
      el("div", { class: "position" }, el("button", { type: "button", class: "use-position", onclick: () => this.locate() }, t("bq.usePosition")), f.point ? el("span", { class: "positioned" }, `✓ ${t("bq.positioned")}`) : null),
      el("div", { class: "label" }, t("bq.sittings")),
      ...f.sittings.map((s, i) =>
        el(
          "div",
          { class: "sitting-row", dataset: { i: String(i) } },
          el("input", { type: "date", name: "date", value: s.date, "aria-label": t("bq.sitting"), oninput: (ev) => (s.date = ev.target.value) }),
          select(s, "meal", ["lunch", "dinner"], "bq.meal"),
        ),
      ),
      el("button", { type: "button", class: "add-sitting", onclick: () => (f.sittings.push({ date: f.sittings[f.sittings.length - 1].date, meal: "dinner" }), this.render()) }, t("bq.addSitting")),
      input("headcount", "bq.headcount", "number"),
      el("label", { class: "fld" }, el("span", {}, t("bq.chefSource")), select(f, "chef_source", ["family", "relatives_friends", "hired_chef"], "bq.chefSource")),
      ...f.cooks.map((c, i) => this.cookRow(c, i, select)),
      el("datalist", { id: "bq-chef-names" }, ...(this.registered || []).map((x) => el("option", { value: x.name }, x.service_area || ""))),
      el("button", { type: "button", class: "add-cook", onclick: () => (f.cooks.push({ name: "", role: "helper", cert: "cert_valid" }), this.render()) }, t("bq.addCook")),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "file-banquet", disabled: this.busy ? true : undefined }, this.busy ? t("bq.busy") : t("bq.file")), el("button", { type: "button", class: "back", onclick: () => ((this.filing = null), this.render()) }, t("bq.back"))),
    );
  }

  /** One cook of the filing form; a name the register knows links the cook (chef_id) and takes its certificate's status. */
  cookRow(c, i, select) {
    const mark = el("div", { class: "registered" });
    const certSel = select(c, "cert", ["cert_valid", "cert_none", "cert_expired"], "bq.cert");
    const show = () => {
      mark.hidden = !c.chef_id;
      mark.dataset.chef = c.chef_id || "";
      mark.textContent = c.chef_id ? `✓ ${t("bq.registered", { cert: label(c.cert) })}` : "";
      certSel.value = c.cert;
    };
    show();
    return el(
      "div",
      { class: "cook-row", dataset: { i: String(i) } },
      el("input", {
        type: "text", name: "cook", value: c.name, list: "bq-chef-names", placeholder: t("bq.cook"), "aria-label": t("bq.cook"),
        oninput: (ev) => {
          c.name = ev.target.value;
          this.matchChef(c);
          show();
        },
      }),
      select(c, "role", ["cook", "helper"], "bq.role"),
      certSel,
      mark,
    );
  }

  card(b) {
    const me = this.o.me() || {};
    const rects = b.rectifications || [];
    const parts = [
      el("div", { class: "top" }, el("b", {}, `${b.filing.host.name} · ${label(b.filing.type)}`), el("span", { class: `state-chip bq-${b.state}` }, label(b.state))),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, t("bq.place")), el("dd", {}, [b.filing.town, b.filing.village, b.filing.place].join(" ")),
        el("dt", {}, t("bq.sittings")), el("dd", { class: "sittings" }, sittings(b)),
        el("dt", {}, t("bq.headcount")), el("dd", {}, String(b.filing.headcount)),
        el("dt", {}, t("bq.team")), el("dd", {}, b.team_id ? this.o.teamName(b.team_id) : "—"),
      ),
    ];
    if (this.warnings.length)
      parts.push(el("div", { class: "warnings" }, el("div", { class: "label" }, t("bq.warnings")), ...this.warnings.map((w) => el("div", { class: "warning", dataset: { code: w.code } }, pick(w.message)))));
    parts.push(el("div", { class: "label" }, t("bq.four")));
    parts.push(
      el(
        "ul",
        { class: "four" },
        ...(b.four_in_place || []).map((p) =>
          el("li", { dataset: { pillar: p.pillar, done: p.in_place ? "1" : "0" } }, el("b", {}, `${p.in_place ? "✓" : "○"} ${pick(p.label)}`), ...(p.details || []).map((d) => el("div", { class: "missing" }, pick(d)))),
        ),
      ),
    );
    if (rects.length) {
      parts.push(el("div", { class: "label" }, t("bq.rects")));
      parts.push(el("ul", { class: "rects" }, ...rects.map((r) => this.rectRow(b, r))));
    }
    // The next step.
    const field = ["inspector", "commander", "admin"].includes(me.role);
    if (this.form && this.form.kind === "check") parts.push(this.checkForm(b));
    else if (this.form && this.form.kind === "close") parts.push(this.closeForm(b));
    else if (field && b.state === "guidance_assigned") parts.push(el("button", { type: "button", class: "start-check", onclick: () => ((this.form = { kind: "check", findings: [{ text: "", severity: "minor_finding" }] }), this.render()) }, t("bq.check")));
    else if (field && b.state === "on_site_checked" && rects.some((r) => r.open)) parts.push(el("button", { type: "button", class: "to-rectify", disabled: this.busy ? true : undefined, onclick: () => this.act(() => api.banquetStep(b.id, { to: "rectifying" })) }, t("bq.toRectify")));
    else if (field && b.state !== "closed" && !rects.some((r) => r.open) && b.state !== "filed") parts.push(el("button", { type: "button", class: "start-close", onclick: () => ((this.form = { kind: "close", ill: "0" }), this.render()) }, t("bq.close")));
    parts.push(el("button", { type: "button", class: "back", onclick: () => ((this.open = null), (this.form = null), (this.warnings = []), this.render()) }, t("bq.back")));
    return el("div", { class: "banquet-card", dataset: { banquet: b.id, state: b.state } }, ...parts);
  }

  rectRow(b, r) {
    const due = beijing(r.deadline).slice(0, 10);
    const st = this.rect[r.id] || (this.rect[r.id] = { note: "", file: null });
    return el(
      "li",
      { class: `rect${r.open ? " open" : " done"}`, dataset: { rect: r.id, open: r.open ? "1" : "0" } },
      el("div", {}, r.open ? t("bq.rectDue", { id: r.id, text: r.finding.text, sev: label(r.finding.severity), due }) : t("bq.rectDone", { id: r.id, text: r.finding.text })),
      r.open && b.state === "rectifying"
        ? el(
            "div",
            { class: "rect-form" },
            el("label", { class: "fld" }, el("span", {}, t("bq.rectPhoto")), el("input", { type: "file", accept: "image/*", capture: "environment", class: "rect-photo", onchange: (ev) => (st.file = ev.target.files[0] || null) })),
            el("input", { type: "text", class: "rect-note", placeholder: t("bq.rectNote"), "aria-label": t("bq.rectNote"), value: st.note, oninput: (ev) => (st.note = ev.target.value) }),
            el("button", { type: "button", class: "close-rect", disabled: this.busy ? true : undefined, onclick: () => this.closeRect(b, r) }, t("bq.closeRect")),
          )
        : null,
    );
  }

  async closeRect(b, r) {
    const st = this.rect[r.id];
    if (!st.file) {
      this.error = t("bq.needPhoto");
      return this.render();
    }
    await this.act(async () => {
      const ev = await api.uploadBanquetEvidence(b.id, st.file, "photo");
      return api.closeRectification(b.id, r.id, { note: st.note, evidence: [{ kind: "photo", ref: ev.ref }] });
    });
  }

  checkForm(b) {
    const f = this.form;
    return el(
      "form",
      { class: "check-form", onsubmit: (ev) => (ev.preventDefault(), this.act(() => api.banquetStep(b.id, { to: "on_site_checked", findings: f.findings.filter((x) => x.text.trim()).map((x) => ({ text: x.text.trim(), severity: x.severity })) }))) },
      ...f.findings.map((x, i) =>
        el(
          "div",
          { class: "finding", dataset: { i: String(i) } },
          el("input", { type: "text", class: "finding-text", value: x.text, placeholder: t("bq.finding"), "aria-label": t("bq.finding"), oninput: (ev) => (x.text = ev.target.value) }),
          el("select", { class: "finding-severity", "aria-label": t("bq.finding"), onchange: (ev) => (x.severity = ev.target.value) }, ...["minor_finding", "major_finding"].map((v) => el("option", { value: v, selected: x.severity === v ? true : undefined }, label(v)))),
        ),
      ),
      el("button", { type: "button", class: "add-finding", onclick: () => (f.findings.push({ text: "", severity: "minor_finding" }), this.render()) }, t("bq.addFinding")),
      el("button", { type: "submit", class: "save-check", disabled: this.busy ? true : undefined }, t("bq.saveCheck")),
    );
  }

  closeForm(b) {
    const f = this.form;
    return el(
      "form",
      { class: "close-form", onsubmit: (ev) => (ev.preventDefault(), this.act(() => api.banquetStep(b.id, { to: "closed", illness_count: Number(f.ill) || 0 }))) },
      el("label", { class: "fld" }, el("span", {}, t("bq.ill")), el("input", { type: "number", min: "0", name: "ill", value: f.ill, oninput: (ev) => (f.ill = ev.target.value) })),
      el("button", { type: "submit", class: "save-close", disabled: this.busy ? true : undefined }, t("bq.close")),
    );
  }

  relabel() {
    this.render();
  }
}

/** A banquet's sittings: "2026-12-06 午餐、2026-12-06 晚餐". */
function sittings(b) {
  return (b.filing.sittings || []).map((s) => `${s.date} ${label(s.meal)}`).join("、");
}
