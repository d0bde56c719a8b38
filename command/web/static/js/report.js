// report: the printable report of an event (report.html?event=&date=): the
// daily report (日报) of one day, or without date the end-of-event report
// (总结报告). It renders whatever sections GET /api/v1/events/{id}/report
// sends (each a table: columns, rows, totals), so a new section on the
// server needs nothing here. A4 print CSS in report.css; the same report as
// a workbook is the "Excel" link (…/report.xlsx).

import { formatWhen } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import { el, replace } from "./dom.js";
import { t, applyI18n, getLang, setLang, pickBilingual } from "./i18n.js";

const L = (l) => (l ? (getLang() === "en" ? l.en : l.zh) : "");
// The report is the event's record: its times are China time, whatever the
// reader's browser is set to (the server writes the table cells so too).
const chinaTime = (iso) => formatWhen(iso);
let report = null;

function render() {
  const r = report;
  document.title = `${L(r.title)} · ${r.event_name}`;
  const period = r.from === r.to ? r.from : `${r.from} — ${r.to}`;
  const cell = (v) => el("td", { class: typeof v === "number" ? "n" : "" }, v === null || v === undefined ? "" : String(v));
  replace(
    document.querySelector("#page"),
    el("h1", {}, L(r.title)),
    el("p", { class: "subtitle" }, r.event_name),
    el(
      "div",
      { class: "meta" },
      el("span", {}, t("rep.period", { p: period })),
      el("span", {}, t("rep.eventDays", { a: r.first_day, b: r.last_day })),
      r.organiser ? el("span", {}, t("rep.organiser", { o: r.organiser })) : null,
    ),
    el(
      "div",
      { class: "summary" },
      r.summary.map((f) => el("div", { class: "figure", dataset: { figure: f.id } }, el("span", { class: "v" }, f.value), el("span", { class: "l" }, L(f.label)))),
    ),
    r.sections.map((s) =>
      el(
        "section",
        { id: `sec-${s.id}`, dataset: { section: s.id, rows: s.rows.length } },
        el("h2", {}, L(s.title)),
        s.rows.length === 0 && !s.totals
          ? el("p", { class: "empty" }, L(s.empty))
          : el(
              "table",
              {},
              el("thead", {}, el("tr", {}, s.columns.map((c) => el("th", {}, getLang() === "en" ? c.en : c.zh, getLang() === "en" ? null : el("small", {}, c.en))))),
              el(
                "tbody",
                {},
                s.rows.length === 0 ? el("tr", {}, el("td", { colspan: String(s.columns.length) }, L(s.empty))) : null,
                s.rows.map((row) => el("tr", {}, row.map(cell))),
                s.totals && s.rows.length ? el("tr", { class: "totals" }, s.totals.map(cell)) : null,
              ),
            ),
        s.note ? el("p", { class: "note" }, pickBilingual(s.note)) : null,
      ),
    ),
    el(
      "div",
      { class: "sign" },
      r.sign_off.map((sl) => el("div", {}, el("b", {}, `${L(sl.role)}：`), sl.name || "")),
    ),
    el("p", { class: "footer" }, t("rep.generated", { t: chinaTime(r.generated_at) }), " · ", r.event_id),
  );
}

async function main() {
  applyI18n(document);
  document.title = t("rep.title");
  const q = new URLSearchParams(location.search);
  const ev = q.get("event") || "";
  const date = q.get("date") || "";
  const qs = date ? `?date=${encodeURIComponent(date)}` : "";
  document.querySelector("#print").addEventListener("click", () => window.print());
  document.querySelector("#xlsx").href = `/api/v1/events/${encodeURIComponent(ev)}/report.xlsx${qs}`;
  document.querySelector("#lang").addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    if (report) render();
  });
  const resp = await fetch(`/api/v1/events/${encodeURIComponent(ev)}/report${qs}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const box = document.querySelector("#error");
    box.textContent = t("rep.failed", { msg: pickBilingual((data && data.error && data.error.message) || `HTTP ${resp.status}`) });
    box.hidden = false;
    document.body.dataset.state = "error";
    return;
  }
  report = data;
  render();
  document.body.dataset.state = "ready";
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.state = "error";
});
