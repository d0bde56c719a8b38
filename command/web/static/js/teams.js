// teams: the assurance teams (保障组) and their load. Each team's card says
// how it works (驻点保障 at a kitchen, or 巡查督查), its state (待命, 处置中,
// 休息), its members by name, and its load on the day: the open incidents
// assigned to it, the stops of its patrol plan and the visits it recorded
// (GET /api/v1/teams/load, decision 0031). Commanders and admins create and
// edit teams and assign inspectors to them; a member puts their own team on
// or off duty. An inspector (on a phone) sees their own team first.
//
// leastLoadedHint makes the line an incident's card shows: the least
// loaded team that may be sent to the incident's subject.
//
// DOM nodes and textContent only.

import * as api from "./api.js";
import { t, addStrings, label, getLang } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "panel.teams": { zh: "保障组", en: "Teams" },
  "tm.mine": { zh: "我的保障组", en: "My team" },
  "tm.all": { zh: "全部保障组", en: "All teams" },
  "tm.none": { zh: "暂无保障组", en: "No team yet" },
  "tm.new": { zh: "新建保障组", en: "New team" },
  "tm.edit": { zh: "编辑", en: "Edit" },
  "tm.id": { zh: "编号", en: "Number" },
  "tm.name": { zh: "组名", en: "Name" },
  "tm.nameEN": { zh: "英文组名", en: "Name in English" },
  "tm.mode": { zh: "保障方式", en: "Mode" },
  "tm.kitchen": { zh: "驻点厨房", en: "Kitchen" },
  "tm.postedAt": { zh: "驻点：{kitchen}", en: "Posted at {kitchen}" },
  "tm.members": { zh: "组员", en: "Members" },
  "tm.noMembers": { zh: "尚未分配组员", en: "No member assigned" },
  "tm.otherTeam": { zh: "（账号属于{team}）", en: " (account on {team})" },
  "tm.unknownUser": { zh: "（无此账号）", en: " (no such account)" },
  "tm.onDuty": { zh: "在岗", en: "On duty" },
  "tm.load": { zh: "今日负荷", en: "Today's load" },
  "tm.incidents": { zh: "在办事件", en: "Open incidents" },
  "tm.stops": { zh: "今日巡查点", en: "Patrol stops today" },
  "tm.visits": { zh: "今日已巡查", en: "Visits today" },
  "tm.dutyOn": { zh: "上岗", en: "Go on duty" },
  "tm.dutyOff": { zh: "下岗休息", en: "Go off duty" },
  "tm.save": { zh: "保存", en: "Save" },
  "tm.busy": { zh: "正在保存…", en: "Saving…" },
  "tm.back": { zh: "返回", en: "Back" },
  "tm.home": { zh: "驻地", en: "Base" },
  "tm.homeSet": { zh: "已标注驻地", en: "Base set" },
  "tm.homeNone": { zh: "未标注驻地（无法排巡查路线）", en: "No base (no patrol route can be planned)" },
  "tm.usePosition": { zh: "用手机定位作为驻地", en: "Use the phone's position as the base" },
  "tm.failed": { zh: "操作失败：{msg}", en: "Failed: {msg}" },
  "tm.least": { zh: "负荷最轻的可派保障组：{team}（在办事件 {n}，今日待巡查 {left}）", en: "Least loaded team that can go: {team} ({n} open incidents, {left} stops left today)" },
  "tm.leastNone": { zh: "暂无可派保障组", en: "No team can be sent" },
  "tm.leastLoading": { zh: "正在查询各组负荷…", en: "Checking the teams' load…" },
});

function pick(l) {
  return l ? (getLang() === "en" ? l.en || l.zh : l.zh) : "";
}

/** A member as people read them: the display name, else the user name. */
export function memberName(m) {
  return m.display_name || m.name;
}

/** The stops a team still has to visit today. */
function left(tm) {
  return Math.max((tm.stops || 0) - (tm.visits || 0), 0);
}

export class TeamView {
  /**
   * @param {HTMLElement} root
   * @param {object} o
   * @param {() => object} o.me
   * @param {() => {id, name, point}[]} o.kitchens
   * @param {(id: string) => string} o.siteName
   * @param {(id: string) => void} o.onIncident open an incident
   * @param {(team: object) => void} o.onChanged a team came back from the API
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.data = null; // the answer of GET /api/v1/teams/load
    this.form = null; // the team being edited: {orig, id, name, ...}
    this.error = "";
    this.busy = false;
    this.timer = 0;
  }

  async load() {
    try {
      this.data = await api.teamLoads();
      this.error = "";
    } catch (err) {
      this.error = t("tm.failed", { msg: err.message });
    }
    this.render();
  }

  /** A team or incident delta from the live link: reload (at most once a second) while the tab is on screen. */
  changed() {
    if (!this.data || this.root.hidden || this.form || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      if (!this.root.hidden && !this.form) this.load();
    }, 1000);
  }

  canEdit() {
    const me = this.o.me() || {};
    return ["admin", "commander"].includes(me.role);
  }

  teamName(tm) {
    return getLang() === "en" && tm.name_en ? tm.name_en : tm.name;
  }

  /** A team's name by id, from the loaded list (the id when unknown). */
  teamNameOf(id) {
    const x = ((this.data && this.data.teams) || []).find((y) => y.id === id);
    return x ? this.teamName(x) : id;
  }

  render() {
    const parts = [];
    if (this.form) parts.push(this.editForm());
    else if (this.data) {
      const me = this.o.me() || {};
      const teams = this.data.teams || [];
      const mine = teams.find((x) => x.id === me.team_id);
      if (mine) parts.push(el("div", { class: "label" }, t("tm.mine")), el("ul", { class: "team-list mine" }, this.card(mine, true)));
      if (this.canEdit()) parts.push(el("button", { type: "button", class: "new-team", onclick: () => this.edit(null) }, t("tm.new")));
      const others = teams.filter((x) => x !== mine);
      if (others.length || !mine) parts.push(el("div", { class: "label" }, t("tm.all")));
      if (!teams.length) parts.push(el("p", { class: "empty" }, t("tm.none")));
      parts.push(el("ul", { class: "team-list" }, ...others.map((x) => this.card(x, false))));
    }
    if (this.error) parts.push(el("p", { class: "error", role: "alert" }, this.error));
    this.root.replaceChildren(...parts);
  }

  card(tm, mine) {
    const me = this.o.me() || {};
    const post = tm.mode === "stationed" ? t("tm.postedAt", { kitchen: this.o.siteName(tm.kitchen_id) || tm.kitchen_id }) : label("patrol");
    const members = tm.member_names || [];
    const teamOf = (id) => this.teamNameOf(id);
    const who = members.length
      ? members.map((m) => el("span", { class: "member", dataset: { user: m.name } }, memberName(m), !m.known ? t("tm.unknownUser") : m.team_id && m.team_id !== tm.id ? t("tm.otherTeam", { team: teamOf(m.team_id) }) : ""))
      : [el("span", { class: "empty" }, t("tm.noMembers"))];
    const incidents = tm.incidents || [];
    const buttons = [];
    if (this.canEdit()) buttons.push(el("button", { type: "button", class: "edit-team", onclick: () => this.edit(tm) }, t("tm.edit")));
    if (this.canEdit() || (me.role === "inspector" && me.team_id === tm.id))
      buttons.push(el("button", { type: "button", class: "duty-team", disabled: this.busy ? true : undefined, onclick: () => this.duty(tm, !tm.on_duty) }, tm.on_duty ? t("tm.dutyOff") : t("tm.dutyOn")));
    return el(
      "li",
      { class: `team-card${mine ? " mine" : ""}`, dataset: { team: tm.id, status: tm.status, mode: tm.mode, score: String(tm.score ?? "") } },
      el("div", { class: "top" }, el("b", { class: "team-name" }, this.teamName(tm)), el("span", { class: `state-chip tm-${tm.status}` }, pick(tm.status_label) || label(tm.status))),
      el("div", { class: "sub post" }, post),
      el("div", { class: "members" }, el("span", { class: "k" }, `${t("tm.members")}：`), ...who.flatMap((x, i) => (i ? ["、", x] : [x]))),
      el(
        "dl",
        { class: "load", "aria-label": t("tm.load") },
        el("div", { class: "n incidents", dataset: { n: String(incidents.length) } }, el("dt", {}, t("tm.incidents")), el("dd", {}, String(incidents.length))),
        el("div", { class: "n stops", dataset: { n: String(tm.stops || 0) } }, el("dt", {}, t("tm.stops")), el("dd", {}, String(tm.stops || 0))),
        el("div", { class: "n visits", dataset: { n: String(tm.visits || 0) } }, el("dt", {}, t("tm.visits")), el("dd", {}, String(tm.visits || 0))),
      ),
      incidents.length ? el("div", { class: "team-incidents" }, ...incidents.map((id) => el("button", { type: "button", class: "link-button open-incident", dataset: { incident: id }, onclick: () => this.o.onIncident(id) }, id))) : null,
      buttons.length ? el("div", { class: "buttons" }, ...buttons) : null,
    );
  }

  async duty(tm, on) {
    await this.act(() => api.teamDuty(tm.id, on));
  }

  async act(fn) {
    this.busy = true;
    this.error = "";
    this.render();
    try {
      const tm = await fn();
      if (tm) this.o.onChanged(tm);
      this.form = null;
      this.busy = false;
      await this.load();
      return;
    } catch (err) {
      this.error = t("tm.failed", { msg: err.message });
    }
    this.busy = false;
    this.render();
  }

  edit(tm) {
    const x = tm || {};
    this.form = {
      orig: tm,
      id: x.id || "",
      name: x.name || "",
      name_en: x.name_en || "",
      mode: x.mode || "patrol",
      kitchen_id: x.kitchen_id || "",
      members: [...(x.members || [])],
      on_duty: tm ? !!tm.on_duty : true,
      home: x.home || null,
    };
    this.error = "";
    this.render();
  }

  async locate() {
    try {
      const p = await new Promise((ok, no) => (navigator.geolocation ? navigator.geolocation.getCurrentPosition((x) => ok({ lon: x.coords.longitude, lat: x.coords.latitude }), no, { timeout: 8000 }) : no(new Error("—"))));
      this.form.home = p;
    } catch (err) {
      this.error = t("tm.failed", { msg: err.message || String(err) });
    }
    this.render();
  }

  async save() {
    const f = this.form;
    const o = f.orig || {};
    let home = f.home || undefined;
    if (f.mode === "stationed") {
      const k = this.o.kitchens().find((x) => x.id === f.kitchen_id);
      if (k && k.point && (!o.home || o.kitchen_id !== f.kitchen_id)) home = k.point;
    }
    const team = {
      id: f.id.trim(),
      name: f.name.trim(),
      name_en: f.name_en.trim() || undefined,
      mode: f.mode,
      kitchen_id: f.mode === "stationed" ? f.kitchen_id : undefined,
      event_id: o.event_id || undefined,
      leader: o.leader || undefined,
      members: f.members,
      home,
      on_duty: f.on_duty,
    };
    await this.act(() => api.putTeam(team));
  }

  editForm() {
    const f = this.form;
    const input = (key, lab, extra) => el("label", { class: `fld f-${key}` }, el("span", {}, t(lab)), el("input", { type: "text", name: key, value: f[key], oninput: (ev) => (f[key] = ev.target.value), ...extra }));
    const inspectors = (this.data && this.data.inspectors) || [];
    const known = new Set(inspectors.map((m) => m.name));
    const people = [...inspectors, ...f.members.filter((n) => !known.has(n)).map((n) => ({ name: n }))];
    const kitchens = this.o.kitchens();
    return el(
      "form",
      { class: "team-form", onsubmit: (ev) => (ev.preventDefault(), this.save()) },
      el("h3", {}, f.orig ? `${t("tm.edit")} · ${this.teamName(f.orig)}` : t("tm.new")),
      f.orig ? el("div", { class: "sub" }, `${t("tm.id")}：${f.id}`) : input("id", "tm.id", { required: true, autocapitalize: "characters", spellcheck: "false" }),
      input("name", "tm.name", { required: true }),
      input("name_en", "tm.nameEN"),
      el(
        "label",
        { class: "fld f-mode" },
        el("span", {}, t("tm.mode")),
        el("select", { name: "mode", onchange: (ev) => ((f.mode = ev.target.value), this.render()) }, ...["stationed", "patrol"].map((m) => el("option", { value: m, selected: f.mode === m ? true : undefined }, label(m)))),
      ),
      f.mode === "stationed"
        ? el(
            "label",
            { class: "fld f-kitchen" },
            el("span", {}, t("tm.kitchen")),
            el("select", { name: "kitchen_id", required: true, onchange: (ev) => (f.kitchen_id = ev.target.value) }, el("option", { value: "" }, "—"), ...kitchens.map((k) => el("option", { value: k.id, selected: f.kitchen_id === k.id ? true : undefined }, k.name))),
          )
        : el(
            "div",
            { class: "position" },
            el("span", { class: "sub" }, f.home ? `✓ ${t("tm.homeSet")}` : t("tm.homeNone")),
            el("button", { type: "button", class: "use-position", onclick: () => this.locate() }, t("tm.usePosition")),
          ),
      el(
        "fieldset",
        { class: "members-pick" },
        el("legend", {}, t("tm.members")),
        ...(people.length ? [] : [el("p", { class: "empty" }, t("tm.noMembers"))]),
        ...people.map((m) =>
          el(
            "label",
            { class: "member-pick", dataset: { user: m.name } },
            el("input", {
              type: "checkbox",
              value: m.name,
              checked: f.members.includes(m.name) ? true : undefined,
              onchange: (ev) => (f.members = ev.target.checked ? [...f.members.filter((n) => n !== m.name), m.name] : f.members.filter((n) => n !== m.name)),
            }),
            el("span", {}, memberName(m)),
            m.team_id && (!f.orig || m.team_id !== f.orig.id) ? el("small", { class: "sub" }, t("tm.otherTeam", { team: this.teamNameOf(m.team_id) })) : null,
          ),
        ),
      ),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "on_duty", checked: f.on_duty ? true : undefined, onchange: (ev) => (f.on_duty = ev.target.checked) }), el("span", {}, t("tm.onDuty"))),
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "submit", class: "save-team", disabled: this.busy ? true : undefined }, this.busy ? t("tm.busy") : t("tm.save")),
        el("button", { type: "button", class: "back", onclick: () => ((this.form = null), (this.error = ""), this.render()) }, t("tm.back")),
      ),
    );
  }

  relabel() {
    this.render();
  }
}

// The least-loaded answers by subject, kept a few seconds: an incident's
// card is redrawn on every delta.
const hintCache = new Map();

/**
 * The line an incident's card shows: the least loaded team that may be
 * sent to its subject, filled in when the load arrives.
 * @param {object} inc the incident
 */
export function leastLoadedHint(inc) {
  const subject = (inc.trigger && inc.trigger.subject_id) || "";
  const p = el("p", { class: "least-loaded sub", role: "status" }, t("tm.leastLoading"));
  let c = hintCache.get(subject);
  if (!c || Date.now() - c.at > 5000) {
    c = { at: Date.now(), answer: api.teamLoads({ subject }) };
    hintCache.set(subject, c);
  }
  c.answer.then(
    (d) => {
      const tm = (d.teams || []).find((x) => x.id === d.least_loaded);
      p.dataset.team = tm ? tm.id : "";
      p.textContent = tm ? t("tm.least", { team: getLang() === "en" && tm.name_en ? tm.name_en : tm.name, n: (tm.incidents || []).length, left: left(tm) }) : t("tm.leastNone");
    },
    (err) => {
      hintCache.delete(subject);
      p.className = "least-loaded error";
      p.textContent = t("tm.failed", { msg: err.message });
    },
  );
  return p;
}
