// menus: a kitchen's menu entered and assessed (菜单评估). Pick a kitchen;
// enter its dishes (name and category) as a draft; submit it, and the
// server screens every dish against the high-risk rules (GET/POST
// /api/v1/menus…); decide each flagged dish — approve, require controls
// (the rule's controls are offered), or reject (remove it); conclude the
// round with the outcome the decisions make (通过 / 有条件通过 / 不通过);
// revise it into a new round (修订) when a dish was rejected.
//
// DOM nodes and textContent only.

import { personName } from "./people.js";
import * as api from "./api.js";
import { t, addStrings, label, getLang, formatTime } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "panel.menus": { zh: "菜单评估", en: "Menus" },
  "menu.kitchen": { zh: "供餐点", en: "Kitchen" },
  "menu.pickKitchen": { zh: "选择供餐点", en: "Pick a kitchen" },
  "menu.noKitchens": { zh: "尚未登记供餐点", en: "No kitchen registered" },
  "menu.loading": { zh: "正在加载菜单…", en: "Loading the menu…" },
  "menu.none": { zh: "该供餐点尚未录入菜单", en: "No menu entered for this kitchen" },
  "menu.state": { zh: "第 {round} 轮 · {state}", en: "Round {round} · {state}" },
  "menu.stateDraft": { zh: "草稿（未提交）", en: "Draft (not submitted)" },
  "menu.dish": { zh: "菜品名称", en: "Dish" },
  "menu.category": { zh: "类别", en: "Category" },
  "menu.addDish": { zh: "添加菜品", en: "Add a dish" },
  "menu.remove": { zh: "删除", en: "Remove" },
  "menu.saveDraft": { zh: "保存草稿", en: "Save the draft" },
  "menu.submit": { zh: "提交评估", en: "Submit for assessment" },
  "menu.flags": { zh: "风险提示", en: "Risk flags" },
  "menu.noFlag": { zh: "未发现高风险", en: "No high-risk flag" },
  "menu.controls": { zh: "管控措施", en: "Controls" },
  "menu.decided": { zh: "已决定：{outcome}", en: "Decided: {outcome}" },
  "menu.conclude": { zh: "完成评估：{outcome}", en: "Conclude: {outcome}" },
  "menu.undecided": { zh: "还有 {n} 道高风险菜品未决定", en: "{n} flagged dish(es) undecided" },
  "menu.revise": { zh: "修订菜单（新一轮）", en: "Revise (new round)" },
  "menu.reviseNote": { zh: "撤下不同意的菜品后重新提交", en: "Remove the rejected dishes and resubmit" },
  "menu.failed": { zh: "操作失败：{msg}", en: "Failed: {msg}" },
  "menu.busy": { zh: "正在保存…", en: "Saving…" },
  "menu.needName": { zh: "请填写每道菜的名称", en: "Name every dish" },
  "menu.history": { zh: "评估记录", en: "History" },
});

/** The outcome the decisions of the current round make (the server checks it again). */
export function outcomeOf(menu) {
  const cur = current(menu);
  const flagged = (menu.screening || []).filter((s) => (s.flags || []).length);
  if ([...cur.values()].some((d) => d.outcome === "reject")) return { state: "rejected", undecided: 0 };
  const undecided = flagged.filter((s) => !cur.has(s.dish)).length;
  if (undecided) return { state: "", undecided };
  if ([...cur.values()].some((d) => d.outcome === "require_controls")) return { state: "approved_with_controls", undecided: 0 };
  return { state: "approved", undecided: 0 };
}

/** dish → the latest decision of the current round. */
function current(menu) {
  const m = new Map();
  for (const d of menu.decisions || []) if (d.round === menu.round) m.set(d.dish, d);
  return m;
}

function pick(l) {
  return l ? (getLang() === "en" ? l.en : l.zh) : "";
}

export class MenuView {
  /**
   * @param {HTMLElement} root the tab's section
   * @param {object} o
   * @param {() => {id: string, name: string}[]} o.kitchens
   * @param {() => object} o.me
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.kitchen = "";
    this.menu = null; // the kitchen's menu, or null when none
    this.loaded = false;
    this.draft = null; // dishes being edited [{name, category}]
    this.controls = {}; // dish → controls text being written
    this.error = "";
    this.busy = false;
  }

  async open(kitchen) {
    this.kitchen = kitchen || this.kitchen || ((this.o.kitchens()[0] || {}).id ?? "");
    this.loaded = false;
    this.menu = null;
    this.draft = null;
    this.error = "";
    this.render();
    if (!this.kitchen) return;
    try {
      const list = await api.menus(this.kitchen);
      this.menu = (list || [])[0] || null;
    } catch (err) {
      this.error = t("menu.failed", { msg: err.message });
    }
    this.loaded = true;
    if (!this.menu) this.draft = [{ name: "", category: "hot_dish" }];
    else if (this.menu.state === "draft") this.draft = this.menu.dishes.map((d) => ({ name: d.name, category: d.category || "other" }));
    this.render();
  }

  async act(fn) {
    this.busy = true;
    this.error = "";
    this.render();
    try {
      this.menu = await fn();
      this.draft = this.menu.state === "draft" ? this.menu.dishes.map((d) => ({ name: d.name, category: d.category || "other" })) : null;
    } catch (err) {
      this.error = t("menu.failed", { msg: err.message });
    }
    this.busy = false;
    this.render();
  }

  dishes() {
    return this.draft.map((d) => ({ name: d.name.trim(), category: d.category })).filter((d) => d.name);
  }

  async saveDraft(andSubmit) {
    if (this.draft.some((d) => !d.name.trim()) && this.dishes().length === 0) {
      this.error = t("menu.needName");
      return this.render();
    }
    await this.act(async () => {
      let m = this.menu ? await api.setDishes(this.menu.id, this.dishes()) : await api.createMenu({ owner_id: this.kitchen, dishes: this.dishes() });
      if (andSubmit) m = await api.menuStep(m.id, { to: "submitted" });
      return m;
    });
  }

  render() {
    const ks = this.o.kitchens();
    const parts = [];
    parts.push(
      el(
        "label",
        { class: "menu-kitchen" },
        el("span", {}, t("menu.kitchen")),
        ks.length
          ? el("select", { class: "kitchen-pick", "aria-label": t("menu.pickKitchen"), onchange: (ev) => this.open(ev.target.value) }, ...ks.map((k) => el("option", { value: k.id, selected: k.id === this.kitchen ? true : undefined }, k.name)))
          : el("span", { class: "empty" }, t("menu.noKitchens")),
      ),
    );
    if (this.kitchen && !this.loaded) parts.push(el("p", { class: "empty" }, t("menu.loading")));
    else if (this.kitchen) {
      const m = this.menu;
      parts.push(el("div", { class: "menu-state", dataset: { state: m ? m.state : "none", round: m ? String(m.round) : "0" } }, m ? (m.state === "draft" ? (m.round ? t("menu.state", { round: m.round + 1, state: t("menu.stateDraft") }) : t("menu.stateDraft")) : t("menu.state", { round: m.round, state: label(m.state) })) : t("menu.none")));
      if (this.draft) parts.push(this.editor());
      else if (m && m.state === "submitted") parts.push(this.assessment());
      else if (m) parts.push(this.concluded());
      if (m && (m.audit || []).length) parts.push(this.history(m));
    }
    if (this.error) parts.push(el("p", { class: "error", role: "alert" }, this.error));
    this.root.replaceChildren(...parts);
  }

  editor() {
    const cats = ["hot_dish", "cold_dish", "soup", "staple", "pastry", "raw_aquatic", "cream_cake", "fruit", "beverage", "other"];
    return el(
      "form",
      { class: "menu-editor", onsubmit: (ev) => (ev.preventDefault(), this.saveDraft(true)) },
      ...this.draft.map((d, i) =>
        el(
          "div",
          { class: "dish-row", dataset: { i: String(i) } },
          el("input", { type: "text", class: "dish-name", value: d.name, placeholder: t("menu.dish"), "aria-label": t("menu.dish"), oninput: (ev) => (d.name = ev.target.value) }),
          el("select", { class: "dish-category", "aria-label": t("menu.category"), onchange: (ev) => (d.category = ev.target.value) }, ...cats.map((c) => el("option", { value: c, selected: d.category === c ? true : undefined }, label(c)))),
          el("button", { type: "button", class: "remove", onclick: () => (this.draft.splice(i, 1), this.render()) }, t("menu.remove")),
        ),
      ),
      el("button", { type: "button", class: "add-dish", onclick: () => (this.draft.push({ name: "", category: "hot_dish" }), this.render()) }, t("menu.addDish")),
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "button", class: "save-draft", disabled: this.busy ? true : undefined, onclick: () => this.saveDraft(false) }, t("menu.saveDraft")),
        el("button", { type: "submit", class: "submit-menu", disabled: this.busy ? true : undefined }, this.busy ? t("menu.busy") : t("menu.submit")),
      ),
    );
  }

  assessment() {
    const m = this.menu;
    const cur = current(m);
    const rows = (m.screening || []).map((s) => {
      const flags = s.flags || [];
      const d = cur.get(s.dish);
      const dish = m.dishes.find((x) => x.name === s.dish) || {};
      const suggested = flags.map((f) => pick(f.controls)).filter(Boolean).join("；");
      if (!(s.dish in this.controls)) this.controls[s.dish] = suggested;
      return el(
        "li",
        { class: `dish-assess${flags.length ? " flagged" : ""}`, dataset: { dish: s.dish, outcome: d ? d.outcome : "" } },
        el("div", { class: "top" }, el("b", {}, s.dish), el("span", { class: "cat" }, label(dish.category))),
        flags.length
          ? el(
              "ul",
              { class: "flags" },
              ...flags.map((f) => el("li", { class: `flag sev-${f.severity}`, dataset: { reason: f.reason, severity: f.severity } }, el("b", {}, `${label(f.severity)} · ${pick(f.label)}`), el("div", {}, pick(f.why)))),
            )
          : el("div", { class: "no-flag" }, t("menu.noFlag")),
        d ? el("div", { class: "decided" }, t("menu.decided", { outcome: label(d.outcome) }), d.controls ? `（${d.controls}）` : "") : null,
        flags.length
          ? el(
              "div",
              { class: "decide" },
              el("textarea", { class: "controls", rows: "2", placeholder: t("menu.controls"), "aria-label": t("menu.controls"), oninput: (ev) => (this.controls[s.dish] = ev.target.value) }, this.controls[s.dish] || ""),
              el(
                "div",
                { class: "buttons" },
                ...["approve", "require_controls", "reject"].map((o) =>
                  el(
                    "button",
                    { type: "button", class: `decide-${o}`, dataset: { outcome: o }, "aria-pressed": d && d.outcome === o ? "true" : "false", disabled: this.busy ? true : undefined, onclick: () => this.act(() => api.decideDish(m.id, { dish: s.dish, outcome: o, controls: o === "require_controls" ? this.controls[s.dish] || "" : "" })) },
                    label(o),
                  ),
                ),
              ),
            )
          : null,
      );
    });
    const out = outcomeOf(m);
    return el(
      "div",
      { class: "menu-assessment" },
      el("ul", { class: "dishes" }, ...rows),
      out.state
        ? el("button", { type: "button", class: "conclude", dataset: { outcome: out.state }, disabled: this.busy ? true : undefined, onclick: () => this.act(() => api.menuStep(m.id, { to: out.state })) }, t("menu.conclude", { outcome: label(out.state) }))
        : el("p", { class: "undecided" }, t("menu.undecided", { n: out.undecided })),
    );
  }

  concluded() {
    const m = this.menu;
    const cur = current(m);
    return el(
      "div",
      { class: "menu-concluded" },
      el("ul", { class: "dishes" }, ...m.dishes.map((d) => {
        const dec = cur.get(d.name);
        return el("li", { class: "dish-result", dataset: { dish: d.name, outcome: dec ? dec.outcome : "approve" } }, el("b", {}, d.name), " · ", dec ? label(dec.outcome) : label("approve"), dec && dec.controls ? `（${dec.controls}）` : "");
      })),
      el("button", { type: "button", class: "revise", disabled: this.busy ? true : undefined, onclick: () => this.act(() => api.menuStep(m.id, { to: "draft", note: t("menu.reviseNote") })) }, t("menu.revise")),
    );
  }

  history(m) {
    return el(
      "details",
      { class: "menu-history" },
      el("summary", {}, t("menu.history")),
      el("ol", {}, ...m.audit.map((a) => el("li", {}, `${formatTime(a.at, true)} ${label(a.to) || ""} · ${a.actor ? personName(a.actor.user_id) : ""}`))),
    );
  }

  relabel() {
    this.render();
  }
}
