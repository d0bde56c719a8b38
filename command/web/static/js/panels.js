// panels: the side panel (recent results, alerts, kiosks, stall detail),
// the header counts and the stall popup. Everything is built with DOM
// calls and textContent, never innerHTML, so that names and messages from
// the field cannot inject markup.

import { t, verdictLabel, methodLabel, formatTime, featureName, pickBilingual } from "./i18n.js";
import { VERDICT_ORDER } from "./venue-map.js";

const MAX_RESULTS = 200; // rows kept in the recent-results list
const MAX_ALERTS = 200;

/** el("li", {class: "x", dataset: {a: 1}}, child, "text", …) */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** A coloured verdict chip. */
export function verdictChip(v) {
  return el("span", { class: `chip v-${v || "none"}`, dataset: { verdict: v || "none" } }, verdictLabel(v));
}

/** The verdict the command stands by: its own derivation when it differs. */
export function effective(r) {
  const d = r.derived;
  return d ? { verdict: d.verdict, value: d.value, unit: d.unit, derived: true } : { verdict: r.verdict, value: r.value, unit: r.unit, derived: false };
}

/** "56.77 %" — a value with its unit, or "" when there is none. */
export function valueText(value, unit) {
  if (value === undefined || value === null || (value === 0 && !unit)) return "";
  return unit ? `${value} ${unit}` : String(value);
}

/** The header counts by verdict. */
export function renderCounts(container, counts) {
  container.replaceChildren();
  for (const v of VERDICT_ORDER) {
    const n = counts[v] || 0;
    // pass/caution/fail/na appear only when some site has them.
    if (n === 0 && ["pass", "caution", "fail", "na"].includes(v)) continue;
    container.append(
      el("span", { class: `count v-${v}`, dataset: { verdict: v } }, el("i", { class: "dot" }), el("span", { class: "label" }, verdictLabel(v === "none" ? "" : v)), el("b", { class: "n" }, n)),
    );
  }
}

/**
 * Panels owns the side panel's lists. siteName(id) names a site, and
 * onPick(id) is called when a row pointing at a site is clicked.
 */
export class Panels {
  constructor(root, { siteName, zoneName, onPick }) {
    this.root = root;
    this.siteName = siteName;
    this.zoneName = zoneName;
    this.onPick = onPick;
    this.results = []; // newest first
    this.alerts = []; // newest first, by seq
    this.kiosks = new Map();
    this.stallDetail = null; // {id, data|null, error|null}
    this.lists = {
      results: root.querySelector("#results"),
      alerts: root.querySelector("#alerts"),
      kiosks: root.querySelector("#kiosks"),
      stall: root.querySelector("#stall-detail"),
    };
    this.badges = {
      alerts: root.querySelector("#alerts-badge"),
      kiosks: root.querySelector("#kiosks-badge"),
    };
    for (const tab of root.querySelectorAll("[role=tab]")) {
      tab.addEventListener("click", () => this.show(tab.dataset.tab));
    }
  }

  /** Shows one tab of the side panel. */
  show(name) {
    for (const tab of this.root.querySelectorAll("[role=tab]")) {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      this.root.querySelector(`#${tab.getAttribute("aria-controls")}`).hidden = !on;
    }
  }

  // --- recent results ---

  setResults(list) {
    this.results = (list || []).slice(0, MAX_RESULTS);
    this.renderResults();
  }

  addResult(r) {
    if (this.results.some((x) => x.result_id === r.result_id)) return;
    this.results.unshift(r);
    if (this.results.length > MAX_RESULTS) this.results.length = MAX_RESULTS;
    const ul = this.lists.results;
    const empty = ul.querySelector(".empty");
    if (empty) empty.remove();
    const li = this.resultRow(r);
    li.classList.add("new");
    ul.prepend(li);
    while (ul.children.length > MAX_RESULTS) ul.lastElementChild.remove();
    if (this.stallDetail && this.stallDetail.id === r.stall_id && this.stallDetail.data) {
      this.stallDetail.data.results.unshift(r);
      this.renderStall();
    }
  }

  renderResults() {
    const ul = this.lists.results;
    ul.replaceChildren(...this.results.map((r) => this.resultRow(r)));
    if (!this.results.length) ul.append(el("li", { class: "empty" }, t("panel.noResults")));
  }

  resultRow(r) {
    const e = effective(r);
    const what = [r.sample && r.sample.name, r.item || methodLabel(r.method)].filter(Boolean).join(" · ");
    return el(
      "li",
      {
        class: `result v-${e.verdict}`,
        dataset: { resultId: r.result_id, stallId: r.stall_id || "", verdict: e.verdict },
        tabindex: "0",
        onclick: () => r.stall_id && this.onPick(r.stall_id),
        onkeydown: (ev) => ev.key === "Enter" && r.stall_id && this.onPick(r.stall_id),
      },
      el("span", { class: "time" }, formatTime(r.measured_at)),
      el("span", { class: "site" }, this.siteName(r.stall_id) || r.stall_id || "—"),
      verdictChip(e.verdict),
      el("span", { class: "what" }, what),
      el("span", { class: "value" }, valueText(e.value, e.unit)),
      e.derived ? el("span", { class: "flag", title: t("result.derived") }, "⚠") : null,
    );
  }

  // --- alerts ---

  setAlerts(list) {
    this.alerts = (list || []).slice(0, MAX_ALERTS);
    this.renderAlerts();
  }

  /** Adds an alert or updates it (an acknowledgement has the same seq). */
  upsertAlert(a) {
    const i = this.alerts.findIndex((x) => x.seq === a.seq);
    if (i >= 0) this.alerts[i] = a;
    else this.alerts.unshift(a);
    this.alerts.sort((x, y) => y.seq - x.seq);
    if (this.alerts.length > MAX_ALERTS) this.alerts.length = MAX_ALERTS;
    this.renderAlerts();
  }

  renderAlerts() {
    const ul = this.lists.alerts;
    ul.replaceChildren(
      ...this.alerts.map((a) =>
        el(
          "li",
          { class: `alert ${a.acked_at ? "acked" : "open"}`, dataset: { seq: a.seq, code: a.code } },
          el("span", { class: "time" }, formatTime(a.at, true)),
          el(
            "span",
            { class: "state" },
            [a.acked_at ? t("alert.acked", { who: a.acked_by || "" }) : t("alert.open"), a.kiosk_id && `${t("kind.kiosk")} ${a.kiosk_id}`].filter(Boolean).join(" · "),
          ),
          el("span", { class: "msg" }, pickBilingual(a.message) || a.code),
        ),
      ),
    );
    if (!this.alerts.length) ul.append(el("li", { class: "empty" }, t("panel.noAlerts")));
    const open = this.alerts.filter((a) => !a.acked_at).length;
    this.badges.alerts.textContent = open ? String(open) : "";
  }

  // --- kiosks ---

  setKiosks(list) {
    this.kiosks.clear();
    for (const k of list || []) this.kiosks.set(k.kiosk_id, k);
    this.renderKiosks();
  }

  upsertKiosk(k) {
    this.kiosks.set(k.kiosk_id, { ...(this.kiosks.get(k.kiosk_id) || {}), ...k });
    this.renderKiosks();
  }

  renderKiosks() {
    const ul = this.lists.kiosks;
    const list = [...this.kiosks.values()].sort((a, b) => a.kiosk_id.localeCompare(b.kiosk_id));
    ul.replaceChildren(
      ...list.map((k) =>
        el(
          "li",
          { class: `kiosk ${k.online ? "online" : "offline"}`, dataset: { kioskId: k.kiosk_id, online: k.online ? "1" : "0" } },
          el("i", { class: "dot" }),
          el("span", { class: "name" }, k.name || k.kiosk_id),
          el("span", { class: "state" }, k.online ? t("kiosk.online") : t("kiosk.offline")),
          k.pending ? el("span", { class: "pending" }, t("kiosk.pending", { n: k.pending })) : null,
          el("span", { class: "seen" }, k.last_seen ? t("kiosk.lastSeen", { time: formatTime(k.last_seen, true) }) : t("kiosk.never")),
        ),
      ),
    );
    if (!list.length) ul.append(el("li", { class: "empty" }, t("panel.noKiosks")));
    const online = list.filter((k) => k.online).length;
    this.badges.kiosks.textContent = list.length ? `${online}/${list.length}` : "";
  }

  // --- stall detail ---

  /** Shows a site's recent results; load() returns a promise of {site, latest, results}. */
  async openStall(id, load) {
    this.stallDetail = { id, data: null, error: null };
    this.show("stall");
    this.renderStall();
    try {
      const data = await load();
      if (this.stallDetail && this.stallDetail.id === id) this.stallDetail.data = data;
    } catch (err) {
      if (this.stallDetail && this.stallDetail.id === id) this.stallDetail.error = err.message;
    }
    this.renderStall();
  }

  renderStall() {
    const box = this.lists.stall;
    const d = this.stallDetail;
    if (!d) {
      box.replaceChildren(el("p", { class: "empty" }, t("panel.pickStall")));
      return;
    }
    const name = this.siteName(d.id) || d.id;
    const parts = [el("h3", {}, t("stall.historyTitle", { name }))];
    if (d.error) parts.push(el("p", { class: "error" }, t("stall.loadFailed", { msg: d.error })));
    else if (!d.data) parts.push(el("p", { class: "empty" }, t("stall.loading")));
    else {
      const s = d.data.site || {};
      const facts = el("dl", { class: "facts" });
      const fact = (k, v) => v && facts.append(el("dt", {}, t(k)), el("dd", {}, v));
      fact("stall.zone", this.zoneName(s.zone_id) || s.zone_id);
      fact("stall.category", s.category);
      fact("stall.grade", s.grade);
      fact("stall.business", s.business);
      parts.push(facts);
      const rs = d.data.results || [];
      if (!rs.length) parts.push(el("p", { class: "empty" }, t("stall.empty")));
      else {
        const tbody = el("tbody");
        for (const r of rs) {
          const e = effective(r);
          tbody.append(
            el(
              "tr",
              { dataset: { resultId: r.result_id } },
              el("td", { class: "time" }, formatTime(r.measured_at, true)),
              el(
                "td",
                {},
                [r.sample && r.sample.name, r.item || methodLabel(r.method)].filter(Boolean).join(" · "),
                el("div", { class: "sub" }, [r.kiosk_id && `${t("result.kiosk")} ${r.kiosk_id}`, r.operator && `${t("result.operator")} ${r.operator}`].filter(Boolean).join(" · ")),
              ),
              el("td", { class: "num" }, valueText(e.value, e.unit)),
              el("td", {}, verdictChip(e.verdict)),
            ),
          );
        }
        parts.push(
          el(
            "table",
            { class: "history" },
            el("thead", {}, el("tr", {}, ...["result.time", "result.item", "result.value", "result.verdict"].map((k) => el("th", {}, t(k))))),
            tbody,
          ),
        );
      }
    }
    box.replaceChildren(...parts);
  }

  /** Re-renders everything in the current language. */
  relabel() {
    this.renderResults();
    this.renderAlerts();
    this.renderKiosks();
    this.renderStall();
  }
}

/**
 * The popup of a site: name, kind, zone, latest result and a button that
 * opens its recent results in the side panel.
 */
export function stallPopup(feature, state, zoneName, onHistory) {
  const p = feature.properties;
  const latest = state
    ? el(
        "div",
        { class: "latest" },
        verdictChip(state.verdict),
        el("span", { class: "value" }, valueText(state.value, state.unit)),
        el("div", { class: "sub" }, [methodLabel(state.method), formatTime(state.measured_at, true)].filter(Boolean).join(" · ")),
      )
    : el("div", { class: "latest none" }, t("stall.noResult"));
  const facts = el("dl", { class: "facts" });
  const fact = (k, v) => v && facts.append(el("dt", {}, t(k)), el("dd", {}, v));
  fact("stall.zone", zoneName(p.zone) || p.zone);
  fact("stall.category", p.category);
  fact("stall.grade", p.grade);
  return el(
    "div",
    { class: "popup", dataset: { stallId: String(feature.id) } },
    el("div", { class: "kind" }, t(`kind.${p.kind || "stall"}`), " · ", String(feature.id)),
    el("h3", {}, featureName(p)),
    facts,
    el("div", { class: "label" }, t("stall.latest")),
    latest,
    el("button", { type: "button", class: "history-link", onclick: onHistory }, t("stall.history")),
  );
}
