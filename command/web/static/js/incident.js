// incident: one incident (风险处置事件) in the side panel — what happened,
// where, who is on it, its deadline, evidence and history — and the steps
// the current user may take next.
//
// Only the steps the protocol allows from the current state are offered
// (the machine comes from GET /api/v1/ui-config, the roles too, and an
// inspector acts only on their own team's incidents); the API checks
// again and its refusals (another user moved the incident first, evidence
// missing, the re-test window still open) are shown in the page's
// language with the server's detail under them.
//
// Steps that need evidence (a lab report, a disposal photo, the party's
// signed waiver) upload the file first (POST …/evidence) and cite the ref
// it returns.

import { personName } from "./people.js";
import * as api from "./api.js";
import { t, has, label, formatTime, formatDuration, formatDistance, pickBilingual } from "./i18n.js";
import { el } from "./panels.js";

/** Target states that need a file, and its evidence kind. */
const EVIDENCE = { confirmed_positive: "lab_report", disposed: "photo" };

export class IncidentView {
  /**
   * @param {HTMLElement} box
   * @param {object} o
   * @param {() => object} o.me the user ({name, role, team_id})
   * @param {() => object} o.cfg the page configuration
   * @param {(id: string) => string} o.siteName
   * @param {(id: string) => string} o.teamName
   * @param {(inc: object) => void} o.onChanged an incident came back from the API
   * @param {(inc: object) => void} o.onLocate show the incident on the map
   */
  constructor(box, o) {
    this.box = box;
    this.o = o;
    this.inc = null;
    this.id = null;
    this.form = null; // {to, nearest?, busy, error}
    this.error = null;
    this.notice = "";
    this.loading = false;
  }

  /** Shows incident id (inc when already known). */
  async open(id, inc) {
    if (this.id !== id) {
      this.form = null;
      this.error = null;
      this.notice = "";
    }
    this.id = id;
    this.inc = inc || (this.inc && this.inc.id === id ? this.inc : null);
    this.render();
    try {
      const fresh = await api.incident(id);
      if (this.id === id) this.update(fresh, true);
    } catch (err) {
      if (this.id === id && !this.inc) {
        this.error = err;
        this.render();
      }
    }
  }

  /** A newer copy of an incident (a delta or an API answer). */
  update(inc, force) {
    if (!this.id || inc.id !== this.id) return;
    const moved = !this.inc || this.inc.state !== inc.state || this.inc.team_id !== inc.team_id;
    this.inc = inc;
    if (moved && this.form && !this.form.busy) this.form = null; // the form was for the old state
    if (moved || force || !this.form) this.render();
    else this.renderInfo();
  }

  /** The steps the current user may take now. */
  steps() {
    const inc = this.inc;
    const me = this.o.me();
    const m = this.o.cfg().incident;
    if (!inc || !me || !m) return [];
    const next = m.next[inc.state] || [];
    return next.filter((to) => {
      const roles = m.roles[to] || [];
      if (!roles.includes(me.role)) return false;
      if (me.role === "inspector" && m.team.includes(to) && inc.team_id && inc.team_id !== me.team_id) return false;
      return true;
    });
  }

  /** Whether the party's re-test waiver can be recorded now. */
  canWaive() {
    const inc = this.inc;
    const me = this.o.me();
    if (!inc || !me || !["admin", "commander", "inspector", "operator"].includes(me.role)) return false;
    const rapid = inc.trigger && (inc.trigger.kind === "positive_result" || inc.trigger.kind === "suspicious_result");
    return rapid && !inc.retest && !inc.retest_waived && ["warned", "assigned", "on_site", "controlled"].includes(inc.state);
  }

  render() {
    const box = this.box;
    box.replaceChildren();
    box.dataset.incident = this.id || "";
    if (!this.inc) {
      box.append(el("p", { class: this.error ? "error" : "empty" }, this.error ? t("incident.loadFailed", { msg: this.error.message }) : t("incident.loading")));
      return;
    }
    box.dataset.state = this.inc.state;
    this.infoEl = el("div", { class: "inc-info" });
    this.complaintEl = el("div", { class: "inc-complaint" });
    this.actionsEl = el("div", { class: "inc-actions" });
    this.evidenceEl = el("div", { class: "inc-evidence" });
    this.historyEl = el("div", { class: "inc-history" });
    box.append(this.infoEl, this.complaintEl, this.actionsEl, this.evidenceEl, this.historyEl);
    this.renderInfo();
    this.renderComplaint();
    this.renderActions();
  }

  renderInfo() {
    const inc = this.inc;
    const tr = inc.trigger || {};
    const subject = tr.subject_id ? this.o.siteName(tr.subject_id) || inc.subject_name || tr.subject_id : "";
    const head = el(
      "div",
      { class: "inc-head" },
      el("span", { class: `state-chip st-${inc.state}`, dataset: { state: inc.state } }, label(inc.state)),
      el("h3", {}, inc.id),
      el("button", { type: "button", class: "link-button", onclick: () => this.o.onLocate(inc) }, t("incident.locate")),
    );
    const facts = el("dl", { class: "facts" });
    const fact = (k, v, cls) => v && facts.append(el("dt", {}, t(k)), el("dd", { class: cls || "" }, v));
    fact("incident.trigger", label(tr.kind));
    fact("incident.subject", subject);
    fact("incident.item", [tr.description, tr.item].filter(Boolean).join(" · "));
    fact("incident.observed", formatTime(tr.observed_at, true));
    fact("incident.team", inc.team_id ? this.o.teamName(inc.team_id) : t("incident.noTeam"));
    if (inc.due) {
      const left = new Date(inc.due) - Date.now();
      const time = formatTime(inc.due); // "HH:mm" today, else with the date
      fact("incident.due", left >= 0 ? t("incident.dueIn", { time, left: formatDuration(left) }) : t("incident.overdue", { time, over: formatDuration(-left) }), left < 0 ? "overdue" : "");
    }
    if (inc.controls && inc.controls.length) fact("incident.controls", inc.controls.map(label).join("、"));
    if (inc.lab) fact("incident.lab", [inc.lab.lab, inc.lab.sample_id, inc.lab.method && inc.lab.method.name].filter(Boolean).join(" · "));
    if (inc.retest) fact("incident.retest", t("incident.retestRequested", { party: inc.retest.party, time: formatTime(inc.retest.requested_at, true) }));
    if (inc.retest_waived) fact("incident.retest", t("incident.retestWaived"));
    const parts = [head, facts];
    if (this.o.teamHint && inc.state !== "closed") parts.push(this.o.teamHint(inc));
    const ds = inc.dispatches || [];
    if (ds.length) {
      parts.push(
        el("div", { class: "label" }, t("incident.dispatches")),
        el(
          "ul",
          { class: "dispatches" },
          ...ds.map((d) =>
            el(
              "li",
              { dataset: { team: d.team_id } },
              el("b", {}, this.o.teamName(d.team_id)),
              " ",
              d.metres ? formatDistance(d.metres) : "",
              " · ",
              formatTime(d.at, true),
              " · ",
              d.auto ? t("incident.auto") : personName(d.by),
            ),
          ),
        ),
      );
    }
    if (this.notice) parts.push(el("p", { class: "notice", role: "status" }, this.notice));
    this.infoEl.replaceChildren(...parts);
    this.renderEvidence();
    this.renderHistory();
  }

  /** A complaint from the public page: its facts, and the reply the complainant sees. */
  renderComplaint() {
    const c = this.inc.complaint;
    const box = this.complaintEl;
    if (!c) {
      box.replaceChildren();
      return;
    }
    box.dataset.complaint = c.id;
    const me = this.o.me() || {};
    const parts = [
      el("div", { class: "label" }, t("complaint.title"), " ", c.id),
      el("p", { class: "sub" }, [c.whistleblower ? t("complaint.whistleblower") : null, c.photos ? t("complaint.photos", { n: c.photos }) : null,
        `${t("complaint.replyDue")} ${formatTime(c.reply_due, true)}`].filter(Boolean).join(" · ")),
    ];
    if (c.reply) parts.push(el("p", { class: "sub" }, t("complaint.replied", { who: personName(c.reply.by), time: formatTime(c.reply.at, true) })), el("blockquote", { class: "complaint-reply" }, c.reply.text));
    const open = !["signed_off", "closed"].includes(this.inc.state);
    if (open && (me.role === "commander" || me.role === "admin")) {
      // A delta re-renders the panel: the draft survives it.
      const ta = el("textarea", { class: "complaint-text", rows: "3", maxlength: "2000", placeholder: t("complaint.placeholder"), oninput: () => (this.replyDraft = { id: c.id, text: ta.value }) });
      ta.value = this.replyDraft && this.replyDraft.id === c.id ? this.replyDraft.text : c.reply ? c.reply.text : "";
      const msg = el("p", { class: "sub", role: "status" });
      const send = el("button", { type: "button", class: "step complaint-send", onclick: async () => {
        send.disabled = true;
        try {
          const inc = await api.replyComplaint(this.inc.id, ta.value);
          this.replyDraft = null;
          this.notice = t("complaint.sent");
          this.update(inc, true);
          this.o.onChanged(inc);
        } catch (err) {
          msg.replaceChildren(errorBox(err));
          send.disabled = false;
        }
      } }, t("complaint.send"));
      parts.push(el("label", { class: "label" }, t("complaint.reply"), ta), send, msg);
    }
    box.replaceChildren(...parts);
  }

  renderEvidence() {
    const files = this.inc.evidence_files || [];
    if (!files.length) {
      this.evidenceEl.replaceChildren();
      return;
    }
    const base = `/api/v1/incidents/${encodeURIComponent(this.inc.id)}/evidence/`;
    this.evidenceEl.replaceChildren(
      el("div", { class: "label" }, t("incident.evidence")),
      el(
        "div",
        { class: "thumbs" },
        ...files.map((f) =>
          el(
            "a",
            { href: base + encodeURIComponent(f.ref), target: "_blank", rel: "noopener", class: "thumb", dataset: { ref: f.ref, kind: f.kind }, title: `${label(f.kind)} · ${f.name || f.ref} · ${personName(f.by)}` },
            f.content_type && f.content_type.startsWith("image/") ? el("img", { src: base + encodeURIComponent(f.ref), alt: f.name || f.ref, loading: "lazy" }) : el("span", { class: "doc" }, "PDF"),
            el("small", {}, label(f.kind)),
          ),
        ),
      ),
    );
  }

  renderHistory() {
    const audit = (this.inc.audit || []).slice().reverse();
    this.historyEl.replaceChildren(
      el("div", { class: "label" }, t("incident.history")),
      el(
        "ol",
        { class: "audit" },
        ...audit.map((a) =>
          el(
            "li",
            { dataset: { to: a.to || "", action: a.action } },
            el("span", { class: "time" }, formatTime(a.at, true)),
            el("b", {}, a.action === "transition" ? `${label(a.from)} → ${label(a.to)}` : has(`audit.${a.action}`) ? t(`audit.${a.action}`) : label(a.action)),
            el("span", { class: "who" }, `${a.actor ? actorName(a.actor.user_id) : ""}${a.actor && a.actor.role ? `（${label(a.actor.role)}）` : ""}`),
            a.note ? el("div", { class: "note" }, pickBilingual(a.note)) : null,
            a.evidence && a.evidence.length ? el("div", { class: "sub" }, t("incident.evidenceCount", { n: a.evidence.length })) : null,
          ),
        ),
      ),
    );
  }

  renderActions() {
    const box = this.actionsEl;
    box.replaceChildren();
    const steps = this.steps();
    const waive = this.canWaive();
    if (this.error && this.inc) box.append(errorBox(this.error));
    if (!steps.length && !waive) {
      if (this.inc.state !== "closed") box.append(el("p", { class: "sub" }, t(this.o.me().role === "viewer" ? "incident.viewOnly" : "incident.noSteps")));
      return;
    }
    const buttons = el("div", { class: "step-buttons" });
    for (const to of steps) {
      const reassign = to === "assigned" && this.inc.state === "assigned";
      buttons.append(
        el(
          "button",
          {
            type: "button",
            class: `step st-${to}${this.form && this.form.to === to ? " active" : ""}`,
            dataset: { step: to },
            onclick: () => this.openForm(to),
          },
          reassign ? t("step.reassign") : has(`step.${to}`) ? t(`step.${to}`) : label(to),
        ),
      );
    }
    if (waive) buttons.append(el("button", { type: "button", class: `step waiver${this.form && this.form.to === "waiver" ? " active" : ""}`, dataset: { step: "waiver" }, onclick: () => this.openForm("waiver") }, t("step.waiver")));
    box.append(el("div", { class: "label" }, t("incident.next")), buttons);
    if (this.form) box.append(this.formEl());
  }

  openForm(to) {
    this.error = null;
    this.notice = "";
    this.form = { to, busy: false, nearest: null, nearestError: null };
    this.renderInfo();
    this.renderActions();
    if (to === "assigned") this.loadNearest();
  }

  async loadNearest() {
    const inc = this.inc;
    const w = inc.trigger && inc.trigger.where;
    const f = this.form;
    if (!w) {
      f.nearestError = t("incident.noPosition");
      this.renderActions();
      return;
    }
    try {
      f.nearest = await api.nearestTeams(w.lon, w.lat, inc.trigger.subject_id);
    } catch (err) {
      f.nearestError = err.message;
    }
    if (this.form === f) this.renderActions();
  }

  /** The inputs of the open step. */
  formEl() {
    const f = this.form;
    const to = f.to;
    const form = el("form", { class: "step-form", dataset: { step: to }, onsubmit: (ev) => (ev.preventDefault(), this.submit(form)) });
    const note = (required) =>
      el("label", {}, t(required ? "form.noteRequired" : "form.note"), el("textarea", { name: "note", rows: "2", required: required ? true : undefined, placeholder: t(`form.notePlaceholder.${to}`) }));
    const file = (kind, required) =>
      el(
        "label",
        {},
        t(`form.file.${kind}`),
        el("input", { type: "file", name: "file", accept: "image/*,application/pdf", capture: kind === "photo" ? "environment" : undefined, required: required ? true : undefined, dataset: { kind } }),
      );
    const submit = (text) => el("button", { type: "submit", class: "primary", disabled: f.busy ? true : undefined }, f.busy ? t("form.busy") : text);
    switch (to) {
      case "assigned": {
        if (f.nearestError) form.append(el("p", { class: "error" }, f.nearestError));
        else if (!f.nearest) form.append(el("p", { class: "sub" }, t("form.nearestLoading")));
        else {
          const best = f.nearest.nearest_available;
          if (best)
            form.append(
              el(
                "button",
                { type: "button", class: "primary nearest", dataset: { team: best.id, metres: Math.round(best.metres) }, disabled: f.busy ? true : undefined, onclick: () => this.submit(form, { team_id: best.id }) },
                t("form.assignNearest", { team: this.o.teamName(best.id), dist: formatDistance(best.metres) }),
              ),
            );
          else form.append(el("p", { class: "error" }, t("form.noneAvailable")));
          const rows = (f.nearest.teams || []).slice(0, 8);
          form.append(
            el(
              "ul",
              { class: "nearest-list" },
              ...rows.map((tm) =>
                el(
                  "li",
                  { dataset: { team: tm.id, eligible: tm.eligible ? "1" : "0" } },
                  el("span", { class: "name" }, this.o.teamName(tm.id)),
                  el("span", { class: "dist" }, formatDistance(tm.metres)),
                  el("span", { class: `status st-${tm.status}` }, label(tm.status)),
                  el("button", { type: "button", disabled: f.busy ? true : undefined, onclick: () => this.submit(form, { team_id: tm.id }) }, t("form.assignThis")),
                ),
              ),
            ),
          );
        }
        form.append(note(false));
        break;
      }
      case "controlled":
        form.append(
          el(
            "fieldset",
            { class: "controls" },
            el("legend", {}, t("form.controls")),
            ...this.o.cfg().incident.controls.map((c) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "controls", value: c, checked: c !== "recalled" ? true : undefined }), label(c))),
          ),
          note(false),
          submit(t("step.controlled")),
        );
        break;
      case "lab_sent":
        form.append(
          el("label", {}, t("form.lab"), el("input", { name: "lab", required: true, placeholder: t("form.labPlaceholder") })),
          el("label", {}, t("form.sampleId"), el("input", { name: "sample_id", required: true, placeholder: "NT-2026-001" })),
          el("label", {}, t("form.method"), el("input", { name: "method", required: true, value: "GB 23200.113-2018 GC-MS/MS" })),
          note(false),
          submit(t("step.lab_sent")),
        );
        break;
      case "cleared":
        if (this.inc.state === "lab_sent") form.append(file("lab_report", true));
        form.append(note(this.inc.state !== "lab_sent"), submit(t("step.cleared")));
        break;
      case "waiver":
        form.append(
          el("label", {}, t("form.party"), el("input", { name: "party", required: true, value: this.inc.business || this.inc.subject_name || "" })),
          file("signature", true),
          note(false),
          submit(t("step.waiver")),
        );
        break;
      default:
        if (EVIDENCE[to]) form.append(file(EVIDENCE[to], true));
        form.append(note(false), submit(has(`step.${to}`) ? t(`step.${to}`) : label(to)));
    }
    form.append(el("button", { type: "button", class: "link-button", onclick: () => ((this.form = null), (this.error = null), this.renderActions()) }, t("form.cancel")));
    return form;
  }

  /** Uploads the form's file (if any), then takes the step. */
  async submit(form, extra) {
    const f = this.form;
    if (!f || f.busy) return;
    const inc = this.inc;
    const to = f.to;
    const data = new FormData(form);
    f.busy = true;
    this.error = null;
    this.renderActions();
    try {
      const evidence = [];
      const fileInput = form.querySelector("input[type=file]");
      if (fileInput && fileInput.files.length) {
        const ev = await api.uploadEvidence(inc.id, fileInput.files[0], fileInput.dataset.kind);
        evidence.push({ kind: ev.kind, ref: ev.ref });
      }
      const note = String(data.get("note") || "").trim();
      let out;
      if (to === "waiver") {
        out = await api.waiveRetest(inc.id, { party: String(data.get("party") || "").trim(), note, evidence });
      } else {
        const step = { to, note, evidence, ...(extra || {}) };
        if (to === "controlled") step.controls = data.getAll("controls");
        if (to === "lab_sent") step.lab = { lab: String(data.get("lab") || "").trim(), sample_id: String(data.get("sample_id") || "").trim(), method: { kind: "lab", name: String(data.get("method") || "").trim() } };
        out = await api.incidentStep(inc.id, step);
      }
      this.form = null;
      this.notice = to === "waiver" ? t("incident.waived") : t("incident.moved", { state: label(out.state) });
      this.inc = out;
      this.o.onChanged(out);
      this.render();
    } catch (err) {
      f.busy = false;
      this.error = err;
      if (err.status === 409) {
        // Someone else may have moved it: show the current state under the error.
        api.incident(inc.id).then((fresh) => {
          if (this.id === fresh.id) {
            this.inc = fresh;
            this.o.onChanged(fresh);
            this.renderInfo();
            this.renderActions();
          }
        }, () => {});
      }
      this.renderActions();
    }
  }

  relabel() {
    if (this.inc) this.render();
  }
}

/** An API refusal in the page's language, with the server's detail under it. */
export function errorBox(err) {
  const b = err.body || {};
  const code = b.code || err.code;
  let head;
  switch (code) {
    case "illegal_transition":
      head = t("err.illegal", { from: label(b.from), to: label(b.to), allowed: (b.allowed || []).map(label).join("、") || t("err.nothing") });
      break;
    case "precondition_failed":
      head = has(`rule.${b.rule}`) ? t(`rule.${b.rule}`) : t("err.precondition");
      break;
    case "forbidden":
      head = t("err.forbidden");
      break;
    case "invalid":
      head = t("err.invalid", { field: b.field || "" });
      break;
    case "retest_refused":
      head = b.reason ? label(b.reason) : t("err.precondition");
      break;
    case "too_large":
      head = t("err.tooLarge");
      break;
    case "network":
      head = t("err.network");
      break;
    default:
      head = t("err.generic", { status: err.status || "" });
  }
  return el("div", { class: "api-error", role: "alert", dataset: { code: code || "", rule: b.rule || "" } }, el("b", {}, head), el("small", {}, err.message));
}

/** Who acted, for people: a display name (people.js), "系统自动" for the engine. */
function actorName(id) {
  return personName(id);
}
