// triage: the command centre's queue (值守分诊). One card per incident,
// with the alerts about it folded in, its severity, age, time left on its
// deadline and the next action; "needs you now" (overdue, unassigned,
// awaiting sign-off, escalated, not reproduced by its repeats) on top,
// then the incidents waiting for their repeats (待复测), then those in
// hand. Alerts about no incident (a kiosk, a cluster, the store) are
// grouped by kind. A card's alerts are acknowledged together, and all the
// cards shown at once (POST /api/v1/alarms/ack). See decision 0015.
//
// Built with DOM nodes and textContent only: names and messages come
// from the field.

import * as api from "./api.js";
import { t, addStrings, label, formatTime, formatDuration, pickBilingual, has } from "./i18n.js";
import { el } from "./dom.js";

addStrings({
  "panel.triage": { zh: "值守分诊", en: "Triage" },
  "triage.needsYou": { zh: "需要您处理", en: "Needs you now" },
  "triage.awaitingRepeat": { zh: "待复测（复测确认后派员）", en: "Awaiting repeat (a team goes once confirmed)" },
  "triage.inHand": { zh: "处置中", en: "In hand" },
  "triage.other": { zh: "其他告警", en: "Other alerts" },
  "triage.empty": { zh: "暂无需要处理的事项", en: "Nothing to handle" },
  "triage.emptyFiltered": { zh: "没有符合筛选条件的事项", en: "Nothing matches the filters" },
  "triage.ackAll": { zh: "全部确认（{n}）", en: "Acknowledge all ({n})" },
  "triage.ackAllNone": { zh: "全部已确认", en: "All acknowledged" },
  "triage.ackCard": { zh: "确认 {n} 条告警", en: "Acknowledge {n} alert(s)" },
  "triage.acked": { zh: "告警已确认", en: "Alerts acknowledged" },
  "triage.alerts": { zh: "未确认告警 {n} 条", en: "{n} unacknowledged alert(s)" },
  "triage.open": { zh: "查看", en: "Open" },
  "triage.age": { zh: "{d}前立案", en: "opened {d} ago" },
  "triage.left": { zh: "剩 {d}", en: "{d} left" },
  "triage.over": { zh: "超期 {d}", en: "overdue by {d}" },
  "triage.repeatLeft": { zh: "复测时限剩 {d}", en: "{d} left to repeat" },
  "triage.repeats": { zh: "已复测 {n}/{need} 次", en: "{n} of {need} repeats" },
  "triage.sev": { zh: "严重程度", en: "Severity" },
  "triage.st": { zh: "状态", en: "State" },
  "triage.sev.all": { zh: "全部", en: "All" },
  "triage.sev.3": { zh: "高", en: "High" },
  "triage.sev.2": { zh: "中", en: "Medium" },
  "triage.sev.1": { zh: "低", en: "Low" },
  "triage.st.all": { zh: "全部", en: "All" },
  "triage.st.now": { zh: "需要处理", en: "Needs you" },
  "triage.st.repeat": { zh: "待复测", en: "Awaiting repeat" },
  "triage.st.hand": { zh: "处置中", en: "In hand" },
  "triage.why.overdue": { zh: "已超期", en: "Overdue" },
  "triage.why.unassigned": { zh: "未交办", en: "Unassigned" },
  "triage.why.signoff": { zh: "待销号", en: "Awaiting sign-off" },
  "triage.why.close": { zh: "待关闭", en: "Awaiting closing" },
  "triage.why.escalated": { zh: "已升级", en: "Escalated" },
  "triage.why.notReproduced": { zh: "复测未复现", en: "Not reproduced" },
  "triage.next.awaiting": { zh: "下一步：等待检测员复测同一样品", en: "Next: the operator repeats the same sample" },
  "triage.next.notReproduced": { zh: "下一步：决定是否派员现场核查", en: "Next: decide whether to send a team to check" },
  "triage.next.warned": { zh: "下一步：交办保障组", en: "Next: assign a team" },
  "triage.next.assigned": { zh: "下一步：保障组到场", en: "Next: the team arrives" },
  "triage.next.on_site": { zh: "下一步：封存/停售或排除", en: "Next: seal / stop sale, or clear" },
  "triage.next.controlled": { zh: "下一步：送检或无害化处置", en: "Next: send to the lab or dispose" },
  "triage.next.lab_sent": { zh: "下一步：等待检验结论", en: "Next: wait for the lab" },
  "triage.next.confirmed_positive": { zh: "下一步：无害化处置", en: "Next: harmless disposal" },
  "triage.next.cleared": { zh: "下一步：销号", en: "Next: sign off" },
  "triage.next.disposed": { zh: "下一步：销号", en: "Next: sign off" },
  "triage.next.signed_off": { zh: "下一步：关闭", en: "Next: close" },
  "triage.otherCount": { zh: "{what} · {n} 条", en: "{what} · {n}" },
  "triage.ackFailed": { zh: "确认失败：{msg}", en: "Could not acknowledge: {msg}" },
  "alertCode.repeat_not_reproduced": { zh: "复测未复现", en: "Not reproduced" },
  "alertCode.repeat_overdue": { zh: "复测超时", en: "Repeat overdue" },
});

/** A trigger's base severity: 3 high, 2 medium, 1 low. */
const SEVERITY = { positive_result: 3, suspicious_result: 2, temperature_breach: 2, complaint: 1 };

/** Severity of an incident: its trigger's, raised one step by an escalation. */
export function severity(inc) {
  const base = SEVERITY[inc.trigger && inc.trigger.kind] || 1;
  return Math.min(3, base + ((inc.escalations || []).length ? 1 : 0));
}

/**
 * Why an incident needs the commander now (a list of reasons, empty when
 * it does not): overdue, unassigned (and not waiting for repeats),
 * awaiting sign-off or closing, escalated in its current state, or not
 * reproduced by its repeats.
 */
export function reasons(inc, now) {
  const out = [];
  const rp = inc.repeat && inc.repeat.state;
  const waiting = rp === "awaiting_repeat";
  if (inc.due && new Date(inc.due) < now) out.push("overdue");
  if (inc.state === "warned" && !waiting) out.push(rp === "repeat_not_reproduced" ? "notReproduced" : "unassigned");
  if (inc.state === "cleared" || inc.state === "disposed") out.push("signoff");
  if (inc.state === "signed_off") out.push("close");
  const since = inc.state_since ? new Date(inc.state_since).getTime() : 0;
  if ((inc.escalations || []).some((e) => e.state === inc.state && new Date(e.since).getTime() >= since - 1000)) out.push("escalated");
  return [...new Set(out)];
}

/** The group a card goes in: "now", "repeat" or "hand". */
export function group(inc, now) {
  if (reasons(inc, now).length) return "now";
  if (inc.state === "warned" && inc.repeat && inc.repeat.state === "awaiting_repeat") return "repeat";
  return "hand";
}

function nextAction(inc) {
  const rp = inc.repeat && inc.repeat.state;
  if (inc.state === "warned" && rp === "awaiting_repeat") return t("triage.next.awaiting");
  if (inc.state === "warned" && rp === "repeat_not_reproduced") return t("triage.next.notReproduced");
  const key = `triage.next.${inc.state}`;
  return has(key) ? t(key) : "";
}

export class Triage {
  /**
   * @param {HTMLElement} root the tab's section
   * @param {object} o
   * @param {() => Map} o.incidents id → incident (the panels' map)
   * @param {() => object[]} o.alerts the alerts, newest first
   * @param {(id: string) => string} o.siteName
   * @param {(id: string) => string} o.teamName
   * @param {(id: string) => void} o.onIncident open an incident
   * @param {(list: object[]) => void} o.onAcked alerts came back acknowledged
   * @param {() => boolean} o.canAck
   * @param {() => Date} [o.now]
   */
  constructor(root, o) {
    this.root = root;
    this.o = o;
    this.now = o.now || (() => new Date());
    this.filter = { sev: "all", st: "all" };
    this.busy = new Set(); // card keys being acknowledged
    this.error = "";
    this.timer = 0;
    this.badge = document.querySelector("#triage-badge");
    setInterval(() => this.render(), 30000); // ages and time left move on
  }

  /** Renders soon (many deltas make one render). */
  schedule() {
    if (this.timer) return;
    this.timer = requestAnimationFrame(() => {
      this.timer = 0;
      this.render();
    });
  }

  /** Cards: one per open incident, plus one per kind of alert about no incident. */
  cards() {
    const now = this.now();
    const byInc = new Map();
    const loose = new Map();
    for (const a of this.o.alerts()) {
      if (a.incident_id) {
        if (!byInc.has(a.incident_id)) byInc.set(a.incident_id, []);
        byInc.get(a.incident_id).push(a);
      } else if (!a.acked_at && a.seq > 0) {
        if (!loose.has(a.code)) loose.set(a.code, []);
        loose.get(a.code).push(a);
      }
    }
    const out = [];
    for (const inc of this.o.incidents().values()) {
      if (inc.state === "closed") continue;
      const alerts = byInc.get(inc.id) || [];
      out.push({ key: `i:${inc.id}`, inc, alerts, open: alerts.filter((a) => !a.acked_at && a.seq > 0), sev: severity(inc), group: group(inc, now), why: reasons(inc, now) });
    }
    for (const [code, alerts] of loose) out.push({ key: `a:${code}`, code, alerts, open: alerts, sev: code === "cluster_warning" ? 3 : 2, group: "other", why: [] });
    const rank = { now: 0, repeat: 1, hand: 2, other: 3 };
    out.sort((x, y) => rank[x.group] - rank[y.group] || y.sev - x.sev || dueOf(x) - dueOf(y) || String(x.key).localeCompare(String(y.key)));
    return out;
  }

  shown(cards) {
    const f = this.filter;
    return cards.filter((c) => (f.sev === "all" || String(c.sev) === f.sev) && (f.st === "all" || c.group === f.st || (f.st === "hand" && c.group === "other")));
  }

  render() {
    const all = this.cards();
    const cards = this.shown(all);
    const canAck = this.o.canAck();
    const openSeqs = cards.flatMap((c) => c.open.map((a) => a.seq));
    const now = all.filter((c) => c.group === "now").length;
    if (this.badge) this.badge.textContent = now ? String(now) : "";

    const chips = (name, values) =>
      el(
        "div",
        { class: "triage-chips", role: "group", "aria-label": t(`triage.${name}`) },
        el("span", { class: "k" }, t(`triage.${name}`)),
        ...values.map((v) =>
          el(
            "button",
            { type: "button", class: "chip-btn", dataset: { filter: name, value: v }, "aria-pressed": this.filter[name] === v ? "true" : "false", onclick: () => ((this.filter[name] = v), this.render()) },
            t(`triage.${name}.${v}`),
          ),
        ),
      );
    const head = el(
      "div",
      { class: "triage-head" },
      chips("sev", ["all", "3", "2", "1"]),
      chips("st", ["all", "now", "repeat", "hand"]),
      canAck
        ? el(
            "button",
            { type: "button", class: "ack-all", disabled: openSeqs.length && !this.busy.has("*") ? undefined : true, onclick: () => this.ack("*", openSeqs) },
            openSeqs.length ? t("triage.ackAll", { n: openSeqs.length }) : t("triage.ackAllNone"),
          )
        : null,
    );
    const parts = [head];
    if (this.error) parts.push(el("p", { class: "error", role: "alert" }, this.error));
    const titles = { now: "triage.needsYou", repeat: "triage.awaitingRepeat", hand: "triage.inHand", other: "triage.other" };
    for (const g of ["now", "repeat", "hand", "other"]) {
      const list = cards.filter((c) => c.group === g);
      if (!list.length) continue;
      parts.push(
        el(
          "section",
          { class: `triage-group g-${g}`, dataset: { group: g } },
          el("h3", {}, t(titles[g]), " ", el("span", { class: "n" }, String(list.length))),
          el("ul", { class: "triage-list" }, ...list.map((c) => (c.inc ? this.incidentCard(c, canAck) : this.alertCard(c, canAck)))),
        ),
      );
    }
    if (!cards.length) parts.push(el("p", { class: "empty" }, t(all.length ? "triage.emptyFiltered" : "triage.empty")));
    this.root.replaceChildren(...parts);
  }

  incidentCard(c, canAck) {
    const inc = c.inc;
    const tr = inc.trigger || {};
    const now = this.now();
    const age = formatDuration(now - new Date(inc.opened_at));
    const rp = inc.repeat;
    const lines = [];
    if (rp && rp.state === "awaiting_repeat") {
      const left = new Date(rp.due) - now;
      lines.push(el("span", { class: "repeat" }, t("triage.repeats", { n: (rp.repeats || []).filter((x) => x.verdict !== "invalid").length, need: rp.needed }), " · ", left >= 0 ? t("triage.repeatLeft", { d: formatDuration(left) }) : t("triage.over", { d: formatDuration(-left) })));
    } else if (inc.due) {
      const left = new Date(inc.due) - now;
      lines.push(el("span", { class: left < 0 ? "sla over" : "sla" }, left >= 0 ? t("triage.left", { d: formatDuration(left) }) : t("triage.over", { d: formatDuration(-left) })));
    }
    const site = this.o.siteName(tr.subject_id) || inc.subject_name || "";
    const team = inc.team_id ? this.o.teamName(inc.team_id) : t("incident.noTeam");
    return el(
      "li",
      { class: `triage-card sev-${c.sev}`, dataset: { incident: inc.id, group: c.group, sev: String(c.sev), state: inc.state, repeat: rp ? rp.state : "" } },
      el(
        "div",
        { class: "top" },
        el("span", { class: `sev-badge sev-${c.sev}`, title: t("triage.sev") }, t(`triage.sev.${c.sev}`)),
        el("b", { class: "site" }, site || label("stall")),
        el("span", { class: `state-chip st-${inc.state}` }, rp && rp.state === "awaiting_repeat" && inc.state === "warned" ? label(rp.state) : label(inc.state)),
      ),
      el("div", { class: "what" }, [label(tr.kind), tr.description, tr.item].filter(Boolean).join(" · ")),
      c.why.length ? el("div", { class: "why" }, ...c.why.map((w) => el("span", { class: `why-chip w-${w}`, dataset: { why: w } }, t(`triage.why.${w}`)))) : null,
      el("div", { class: "meta" }, el("span", { class: "age" }, t("triage.age", { d: age })), ...lines, el("span", { class: "team" }, team)),
      el("div", { class: "next" }, nextAction(inc)),
      el(
        "div",
        { class: "actions" },
        c.open.length ? el("span", { class: "folded" }, t("triage.alerts", { n: c.open.length })) : null,
        canAck && c.open.length
          ? el("button", { type: "button", class: "ack", disabled: this.busy.has(c.key) ? true : undefined, onclick: (ev) => (ev.stopPropagation(), this.ack(c.key, c.open.map((a) => a.seq))) }, t("triage.ackCard", { n: c.open.length }))
          : null,
        el("button", { type: "button", class: "open-incident", onclick: () => this.o.onIncident(inc.id) }, t("triage.open")),
      ),
      el("small", { class: "inc-no" }, inc.id),
    );
  }

  alertCard(c, canAck) {
    const what = has(`alertCode.${c.code}`) ? t(`alertCode.${c.code}`) : label(c.code);
    const latest = c.alerts[0];
    return el(
      "li",
      { class: `triage-card alert-card sev-${c.sev}`, dataset: { code: c.code, group: "other" } },
      el("div", { class: "top" }, el("span", { class: `sev-badge sev-${c.sev}` }, t(`triage.sev.${c.sev}`)), el("b", {}, t("triage.otherCount", { what, n: c.alerts.length }))),
      el("div", { class: "what" }, pickBilingual(latest.message)),
      el("div", { class: "meta" }, el("span", { class: "age" }, formatTime(latest.at, true))),
      canAck ? el("div", { class: "actions" }, el("button", { type: "button", class: "ack", disabled: this.busy.has(c.key) ? true : undefined, onclick: () => this.ack(c.key, c.open.map((a) => a.seq)) }, t("triage.ackCard", { n: c.open.length }))) : null,
    );
  }

  async ack(key, seqs) {
    if (!seqs.length) return;
    this.busy.add(key);
    this.error = "";
    this.render();
    try {
      const res = await api.ackAlarms(seqs);
      this.o.onAcked(res.acked || []);
    } catch (err) {
      this.error = t("triage.ackFailed", { msg: err.message });
    } finally {
      this.busy.delete(key);
      this.render();
    }
  }
}

function dueOf(c) {
  const inc = c.inc;
  if (!inc) return Number.MAX_SAFE_INTEGER;
  const d = inc.repeat && inc.repeat.state === "awaiting_repeat" ? inc.repeat.due : inc.due;
  return d ? new Date(d).getTime() : Number.MAX_SAFE_INTEGER;
}
