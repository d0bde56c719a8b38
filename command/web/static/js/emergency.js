// emergency: the page of emergencies (应急处置) and the stationed team's
// duty logs (驻点保障工作日志), emergency.html?event=&date=. On a phone an
// inspector logs the morning checks, retained samples (留样), process
// checks and problems of each meal, and reports a suspected food
// poisoning; at the command centre a commander follows the emergency — its
// level, the frozen samples with their dishes' rapid tests, the teams sent,
// the plan's steps and the timeline — sends more teams and closes it with a
// conclusion. Routes: command/README.md (meals, emergencies, reports).
// Every server string reaches the page through dom.js (el, text nodes).

import { loadPeople, personName } from "./people.js";
import { setUTCOffset, eventDay, formatClock, isoToWall, wallToISO } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import { el, replace } from "./dom.js";
import { t, label, applyI18n, getLang, setLang, formatTime, verdictLabel, setServerLabels, pickBilingual } from "./i18n.js";

const RANK = { admin: 5, commander: 4, inspector: 3, operator: 2, viewer: 1 };
const SYMPTOMS = [
  ["腹痛", "abdominal pain"],
  ["腹泻", "diarrhoea"],
  ["呕吐", "vomiting"],
  ["恶心", "nausea"],
  ["发热", "fever"],
  ["头晕", "dizziness"],
];
const POLL_MS = 4000;

const state = { me: null, events: [], eventID: "", date: "", meals: [], emergencies: [], teams: [], sel: null, dirty: false };

/** A REST call; throws an Error carrying the service's code, status and details. */
async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const txt = await resp.text();
  let data = null;
  try {
    data = txt ? JSON.parse(txt) : null;
  } catch (_) {
    data = null;
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    const err = new Error(e.message || `${method} ${path}: HTTP ${resp.status}`);
    err.status = resp.status;
    err.code = e.code || "";
    err.body = e;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;
const L = (l) => (l ? (getLang() === "en" ? l.en : l.zh) : "");
const can = (role) => state.me && (RANK[state.me.role] || 0) >= RANK[role];
const chinaToday = () => eventDay();
const hm = (iso) => formatClock(iso);
const teamName = (id) => {
  const tm = state.teams.find((x) => x.id === id);
  return tm ? (getLang() === "en" && tm.name_en ? tm.name_en : tm.name) : id;
};
let names = {}; // user id → display name, from the emergency shown
const who = (id) => (id === "system" ? t("em.system") : names[id] || personName(id));

function field(labelKey, input) {
  return el("label", { class: "field" }, el("span", {}, t(labelKey)), input);
}

function check(name, labelKey, on) {
  return el("label", { class: "tick" }, el("input", { type: "checkbox", name, checked: on }), t(labelKey));
}

/** errorBox shows a refusal in both the page's words and the server's. */
function showError(form, err) {
  let box = form.querySelector(".api-error");
  if (!box) {
    box = el("p", { class: "api-error", role: "alert" });
    form.append(box);
  }
  box.dataset.code = err.code || "";
  box.dataset.rule = (err.body && err.body.rule) || "";
  replace(box, t("em.failed", { msg: pickBilingual(err.message) }));
}

/** submitting wires a form to an async action; the detail re-renders after it. */
function submitting(form, fn) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button[type=submit]");
    if (btn) btn.disabled = true;
    try {
      await fn(new FormData(form));
      state.dirty = false;
      state.shown = "";
      await refresh(true);
    } catch (err) {
      console.error(err);
      showError(form, err);
    } finally {
      if (btn) btn.disabled = false;
    }
  });
  form.addEventListener("input", () => (state.dirty = true));
  return form;
}

// ---------- lists ----------

function renderLists() {
  const ems = document.querySelector("#emergencies");
  replace(
    ems,
    state.emergencies.length === 0
      ? el("li", { class: "empty" }, t("em.noEmergencies"))
      : state.emergencies.map((em) =>
          el(
            "li",
            {
              class: `card emergency ${em.state} level-${em.level}${em.drill ? " drill" : ""}${state.sel && state.sel.id === em.id ? " on" : ""}`,
              dataset: { emergency: em.id, state: em.state, level: em.level },
              tabindex: "0",
              onclick: () => select("emergency", em.id),
            },
            el("b", {}, em.drill ? `${t("em.isDrill")} · ${label(em.level)}` : label(em.level)),
            el("span", {}, `${em.kitchen_name || em.kitchen_id} · ${t("em.ill")} ${em.report.ill}`),
            el("span", { class: "muted" }, `${em.id} · ${label(em.state)} · ${formatTime(em.opened_at, true)}`),
          ),
        ),
  );
  const meals = document.querySelector("#meals");
  replace(
    meals,
    state.meals.length === 0
      ? el("li", { class: "empty" }, t("em.noMeals"))
      : state.meals.map((m) => {
          const alarms = m.gaps.filter((g) => g.alarm).length;
          return el(
            "li",
            {
              class: `card meal${alarms ? " alarm" : ""}${state.sel && state.sel.id === m.id ? " on" : ""}`,
              dataset: { meal: m.id, gaps: m.gaps.length, alarms },
              tabindex: "0",
              onclick: () => select("meal", m.id),
            },
            el("b", {}, `${m.kitchen_name || m.kitchen_id} · ${m.name || L(m.meal_label)}`),
            el("span", {}, `${hm(m.start)}–${hm(m.end)} · ${t("em.diners", { n: m.diners, t: m.tables || 0 })}`),
            el("span", { class: m.gaps.length ? "gaps bad" : "gaps ok" }, m.gaps.length ? t("em.gaps", { n: m.gaps.length }) : t("em.complete")),
          );
        }),
  );
}

function select(kind, id) {
  state.sel = { kind, id };
  state.dirty = false;
  state.shown = "";
  const q = new URLSearchParams(location.search);
  q.set(kind, id);
  q.delete(kind === "meal" ? "emergency" : "meal");
  history.replaceState(null, "", `?${q}`);
  renderLists();
  renderDetail().then(() => document.querySelector("#detail").scrollIntoView({ block: "start" }));
}

// ---------- a meal's duty log ----------

/** unchanged reports whether box already shows exactly this record (the poll then leaves it alone). */
function unchanged(box, kind, rec) {
  const json = JSON.stringify(rec) + getLang();
  if (box.dataset.kind === kind && box.dataset.id === rec.id && state.shown === json) return true;
  state.shown = json;
  return false;
}

async function renderMeal(id) {
  const m = await call("GET", `/api/v1/meals/${enc(id)}`);
  const box = document.querySelector("#detail");
  if (unchanged(box, "meal", m)) return;
  const write = can("inspector");
  const log = m.log || {};
  const post = (entry) => call("POST", `/api/v1/meals/${enc(id)}/duty`, entry);
  const samples = log.samples || [];
  const sampleOf = (dish) => samples.find((s) => s.dish_id === dish && !s.discarded_at);
  const parts = [];

  parts.push(
    el(
      "header",
      { class: "detail-head" },
      el("h2", {}, `${m.kitchen_name || m.kitchen_id} · ${m.name || L(m.meal_label)}`),
      el("p", { class: "muted" }, `${L(m.meal_label)} ${formatTime(m.start, true)}–${hm(m.end)} · ${t("em.diners", { n: m.diners, t: m.tables || 0 })}`),
      m.gaps.length
        ? el("ul", { class: "gap-list" }, m.gaps.map((g) => el("li", { class: g.alarm ? "gap alarm" : "gap", dataset: { kind: g.kind, ref: g.ref || "" } }, L(g.detail))))
        : el("p", { class: "ok" }, t("em.complete")),
    ),
  );

  if (can("operator")) {
    const open = el("button", { type: "button", class: "danger", id: "report-ill" }, t("em.reportIll"));
    const drill = can("commander") ? el("button", { type: "button", class: "quiet", id: "start-drill" }, t("em.drill")) : null;
    const slot = el("div", { class: "report-slot" });
    const show = (isDrill) => {
      state.dirty = true; // an open form is not replaced by the next poll
      replace(slot, reportForm(m, isDrill));
    };
    open.addEventListener("click", () => show(false));
    if (drill) drill.addEventListener("click", () => show(true));
    parts.push(el("div", { class: "actions" }, open, drill), slot);
  }

  // Morning checks.
  const morning = log.morning || [];
  parts.push(
    el(
      "section",
      { class: "block", id: "morning" },
      el("h3", {}, t("em.morning")),
      morning.length
        ? el(
            "table",
            {},
            el("tr", {}, ["em.worker", "em.post", "em.present", "em.healthy", "em.hands", "em.cert", ""].map((k) => el("th", {}, k ? t(k) : ""))),
            morning.map((c) => {
              const fit = c.present && c.healthy && c.hands_ok && c.certificate;
              const yn = (b) => (b ? "✓" : "✗");
              return el(
                "tr",
                { class: !c.present ? "absent" : fit ? "fit" : "unfit", dataset: { worker: c.worker } },
                el("td", {}, c.worker),
                el("td", {}, c.post || ""),
                el("td", {}, yn(c.present)),
                el("td", {}, yn(c.healthy)),
                el("td", {}, yn(c.hands_ok)),
                el("td", {}, yn(c.certificate)),
                el("td", {}, !c.present ? t("em.absent") : fit ? t("em.fit") : t("em.unfit"), c.note ? el("small", {}, ` ${c.note}`) : null),
              );
            }),
          )
        : el("p", { class: "muted" }, t("em.none")),
      write
        ? submitting(
            el(
              "form",
              { class: "inline", id: "morning-form" },
              field("em.worker", el("input", { name: "worker", required: true })),
              field("em.post", el("input", { name: "post" })),
              check("present", "em.present", true),
              check("healthy", "em.healthy", true),
              check("hands", "em.hands", true),
              check("cert", "em.cert", true),
              el("button", { type: "submit" }, t("em.addWorker")),
            ),
            (f) =>
              post({
                morning: [{ worker: f.get("worker"), post: f.get("post"), present: f.has("present"), healthy: f.has("healthy"), hands_ok: f.has("hands"), certificate: f.has("cert") }],
              }),
          )
        : null,
    ),
  );

  // Retained samples, one per dish.
  parts.push(
    el(
      "section",
      { class: "block", id: "samples" },
      el("h3", {}, t("em.samples")),
      el(
        "ul",
        { class: "dishes" },
        m.dishes.map((d) => {
          const s = sampleOf(d.id);
          return el(
            "li",
            { class: s ? (s.frozen_by ? "dish kept frozen" : "dish kept") : "dish missing", dataset: { dish: d.id } },
            el("b", {}, d.name),
            d.category ? el("span", { class: "muted" }, ` ${label(d.category)}`) : null,
            s
              ? el(
                  "span",
                  { class: "sample" },
                  ` · ${(s.mass / 1000).toFixed(0)} g · ${s.fridge_id} · ${s.by} · ${formatTime(s.at, true)}`,
                  s.frozen_by ? el("span", { class: "badge frozen" }, t("em.frozen", { id: s.frozen_by })) : null,
                )
              : el("span", { class: "badge bad" }, t("em.notRetained")),
            !s && write
              ? submitting(
                  el(
                    "form",
                    { class: "inline sample-form", dataset: { dish: d.id } },
                    field("em.massG", el("input", { name: "mass", type: "number", min: "1", step: "1", required: true, inputmode: "numeric" })),
                    field("em.fridge", el("input", { name: "fridge", required: true })),
                    field("em.by", el("input", { name: "by", required: true })),
                    el("button", { type: "submit" }, t("em.retain")),
                  ),
                  (f) => post({ sample: { dish_id: d.id, mass: Math.round(Number(f.get("mass")) * 1000), fridge_id: f.get("fridge"), by: f.get("by"), source: "manual" } }),
                )
              : null,
          );
        }),
      ),
    ),
  );

  // Process checks.
  const checks = log.checks || [];
  const kindSel = el(
    "select",
    { name: "kind" },
    ["core_temp_check", "cold_room_check", "tableware_disinfection"].map((k) => el("option", { value: k }, label(k))),
  );
  parts.push(
    el(
      "section",
      { class: "block", id: "checks" },
      el("h3", {}, t("em.checks")),
      checks.length
        ? el(
            "ul",
            { class: "checks" },
            checks.map((c) =>
              el(
                "li",
                { class: c.pass ? "pass" : "fail", dataset: { kind: c.kind } },
                el("b", {}, label(c.kind)),
                c.dish_id ? ` · ${(m.dishes.find((d) => d.id === c.dish_id) || {}).name || c.dish_id}` : "",
                c.temp !== undefined && c.temp !== null ? ` · ${(c.temp / 1000).toFixed(1)} °C` : "",
                c.method ? ` · ${c.method}` : "",
                el("span", { class: c.pass ? "badge ok" : "badge bad" }, c.pass ? t("em.pass") : t("em.fail")),
                el("small", { class: "muted" }, ` ${L(c.rule)} · ${hm(c.at)}`),
                c.fixed ? el("small", {}, ` · ${t("em.fixed")}：${c.fixed}`) : null,
              ),
            ),
          )
        : el("p", { class: "muted" }, t("em.none")),
      write
        ? submitting(
            el(
              "form",
              { class: "inline", id: "check-form" },
              field("em.kind", kindSel),
              field("em.dish", el("select", { name: "dish" }, el("option", { value: "" }, "—"), m.dishes.map((d) => el("option", { value: d.id }, d.name)))),
              field("em.tempC", el("input", { name: "temp", type: "number", step: "0.1", inputmode: "decimal" })),
              check("disinfected", "em.disinfected", false),
              field("em.method", el("input", { name: "method" })),
              field("em.fixed", el("input", { name: "fixed" })),
              el("button", { type: "submit" }, t("em.addCheck")),
            ),
            (f) => {
              const c = { kind: f.get("kind"), dish_id: f.get("dish") || undefined, disinfected: f.has("disinfected"), method: f.get("method") || undefined, fixed: f.get("fixed") || undefined, source: "manual" };
              if (f.get("temp") !== "") c.temp = Math.round(Number(f.get("temp")) * 1000);
              return post({ check: c });
            },
          )
        : null,
    ),
  );

  // Problems.
  const problems = log.problems || [];
  parts.push(
    el(
      "section",
      { class: "block", id: "problems" },
      el("h3", {}, t("em.problems")),
      problems.length
        ? el("ul", {}, problems.map((p) => el("li", { class: p.fixed ? "pass" : "fail" }, p.text, p.fix ? el("small", {}, ` · ${t("em.fixed")}：${p.fix}`) : null)))
        : el("p", { class: "muted" }, t("em.none")),
      write
        ? submitting(
            el(
              "form",
              { class: "inline", id: "problem-form" },
              field("em.problem", el("input", { name: "text", required: true })),
              field("em.fixed", el("input", { name: "fix" })),
              el("button", { type: "submit" }, t("em.addProblem")),
            ),
            (f) => post({ problem: { text: f.get("text"), fixed: f.get("fix") !== "", fix: f.get("fix") || undefined } }),
          )
        : null,
    ),
  );
  replace(box, ...parts);
  box.dataset.kind = "meal";
  box.dataset.id = m.id;
}

/** Now as a datetime-local value on the event's clock (not the browser's). */
function localNow() {
  return isoToWall(Date.now());
}

function reportForm(m, drill) {
  const form = el(
    "form",
    { class: "report-form", id: drill ? "drill-form" : "ill-form", dataset: { drill: drill ? "1" : "" } },
    el("h3", {}, drill ? t("em.drill") : t("em.reportIll")),
    field("em.reporter", el("input", { name: "reporter", required: true, value: (state.me && (state.me.display_name || state.me.name)) || "" })),
    field("em.phone", el("input", { name: "phone", type: "tel", inputmode: "tel" })),
    el(
      "fieldset",
      { class: "symptoms" },
      el("legend", {}, t("em.symptoms")),
      SYMPTOMS.map(([zh, en]) => el("label", { class: "tick" }, el("input", { type: "checkbox", name: "symptom", value: zh }), getLang() === "en" ? en : zh)),
    ),
    field("em.onset", el("input", { name: "onset", type: "datetime-local", required: true, value: localNow() })),
    field("em.tables", el("input", { name: "tables", inputmode: "numeric" })),
    field("em.ill", el("input", { name: "ill", type: "number", min: "1", step: "1", required: true, inputmode: "numeric" })),
    field("em.severe", el("input", { name: "severe", type: "number", min: "0", step: "1", value: "0", inputmode: "numeric" })),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "danger" }, t("em.submitReport")), el("button", { type: "button", class: "quiet cancel" }, t("em.cancel"))),
  );
  form.querySelector(".cancel").addEventListener("click", () => {
    state.dirty = false;
    form.remove();
  });
  form.addEventListener("input", () => (state.dirty = true));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const report = {
      reporter: f.get("reporter"),
      phone: f.get("phone") || undefined,
      meal_id: m.id,
      symptoms: f.getAll("symptom"),
      onset_at: wallToISO(f.get("onset")),
      tables: String(f.get("tables") || "")
        .split(/[,，、\s]+/)
        .filter(Boolean),
      ill: Number(f.get("ill")),
      severe: Number(f.get("severe") || 0),
    };
    try {
      const em = await call("POST", "/api/v1/emergencies", { report, drill });
      state.dirty = false;
      await refresh(false);
      select("emergency", em.id);
    } catch (err) {
      console.error(err);
      showError(form, err);
    }
  });
  return form;
}

// ---------- one emergency ----------

async function renderEmergency(id) {
  const v = await call("GET", `/api/v1/emergencies/${enc(id)}`);
  const box = document.querySelector("#detail");
  if (unchanged(box, "emergency", { ...v, teams: state.teams })) return;
  names = v.names || {};
  const open = v.state === "activated";
  const act = (body) => call("POST", `/api/v1/emergencies/${enc(id)}/actions`, body);
  const rep = v.report;
  const parts = [];
  parts.push(
    el(
      "header",
      { class: `detail-head emergency-head level-${v.level}` },
      el(
        "h2",
        {},
        v.drill ? el("span", { class: "badge drill" }, t("em.isDrill")) : null,
        el("span", { class: `badge level level-${v.level}`, id: "level" }, label(v.level)),
        ` ${v.kitchen_name || v.kitchen_id} · ${v.meal.name || label(v.meal.meal)}`,
      ),
      el("p", { class: "muted" }, `${v.id} · ${label(v.state)} · ${t("em.plan")}：${v.plan}`),
      el(
        "p",
        { class: "report-line" },
        t("em.reportOf", { reporter: rep.reporter, n: rep.ill, s: rep.severe || 0, sym: (rep.symptoms || []).join("、"), onset: formatTime(rep.onset_at, true) }),
      ),
      rep.tables && rep.tables.length ? el("p", { class: "tables", id: "tables" }, t("em.affectedTables", { t: rep.tables.join("、") })) : null,
      v.conclusion
        ? el("p", { class: "conclusion", id: "conclusion" }, t("em.closed", { cause: label(v.conclusion.cause), text: v.conclusion.text }))
        : null,
    ),
  );

  // Teams sent.
  const sent = new Set(v.dispatches.map((d) => d.team_id));
  const others = state.teams.filter((tm) => !sent.has(tm.id) && tm.on_duty);
  parts.push(
    el(
      "section",
      { class: "block", id: "teams" },
      el("h3", {}, t("em.teamsSent")),
      el(
        "ul",
        { class: "teams" },
        v.dispatches.map((d) =>
          el("li", { dataset: { team: d.team_id } }, el("b", {}, teamName(d.team_id)), ` · ${d.metres ? Math.round(d.metres) + (getLang() === "en" ? " m" : " 米") + " · " : ""}${hm(d.at)} · ${who(d.by)}`),
        ),
      ),
      open && can("commander") && others.length
        ? submitting(
            el(
              "form",
              { class: "inline", id: "send-form" },
              el("select", { name: "team" }, others.map((tm) => el("option", { value: tm.id }, teamName(tm.id)))),
              el("button", { type: "submit" }, t("em.sendTeam")),
            ),
            (f) => act({ teams: [f.get("team")] }),
          )
        : null,
    ),
  );

  // Plan steps.
  parts.push(
    el(
      "section",
      { class: "block", id: "steps" },
      el("h3", {}, t("em.steps")),
      el(
        "ol",
        { class: "steps" },
        v.steps.map((s) => {
          const li = el(
            "li",
            { class: s.done ? "done" : "todo", dataset: { step: s.id } },
            el("span", { class: "tick-mark" }, s.done ? "✓" : "○"),
            ` ${L(s.label)}`,
            s.done ? el("small", { class: "muted" }, ` ${hm(s.at)} · ${who(s.by)}`) : null,
          );
          if (!s.done && !s.auto && open && can("inspector")) {
            const b = el("button", { type: "button", class: "small step-done", dataset: { step: s.id } }, t("em.done"));
            b.addEventListener("click", async () => {
              b.disabled = true;
              try {
                await act({ step: s.id });
                state.shown = "";
                await refresh(true);
              } catch (err) {
                showError(li, err);
              }
            });
            li.append(" ", b);
          }
          return li;
        }),
      ),
    ),
  );

  // The meal's dishes: the retained sample (frozen) and the rapid tests.
  const resultChip = (r) =>
    el(
      "span",
      { class: `result v-${r.verdict}`, dataset: { result: r.result_id, verdict: r.verdict } },
      `${r.sample} · ${r.item} · `,
      el("b", {}, verdictLabel(r.verdict)),
      ` ${Number(r.value).toFixed(2)}${r.unit ? " " + r.unit : ""} · ${formatTime(r.at, true)}`,
    );
  parts.push(
    el(
      "section",
      { class: "block", id: "dishes" },
      el("h3", {}, t("em.dishes")),
      el(
        "table",
        { class: "dishes-table" },
        el("tr", {}, el("th", {}, t("em.dish")), el("th", {}, t("em.samples")), el("th", {}, t("em.results"))),
        v.dishes.map((d) =>
          el(
            "tr",
            { dataset: { dish: d.id, frozen: d.sample && d.sample.frozen_by ? d.sample.frozen_by : "" } },
            el("td", {}, el("b", {}, d.name)),
            el(
              "td",
              {},
              d.sample
                ? [
                    `${(d.sample.mass / 1000).toFixed(0)} g · ${d.sample.fridge_id} · ${formatTime(d.sample.at, true)} `,
                    d.sample.frozen_by ? el("span", { class: "badge frozen" }, t("em.frozen", { id: d.sample.frozen_by })) : null,
                  ]
                : el("span", { class: "badge bad" }, t("em.notRetained")),
            ),
            el("td", {}, d.results.length ? d.results.map(resultChip) : el("span", { class: "muted" }, t("em.noResults"))),
          ),
        ),
      ),
      v.other_results.length ? el("div", { class: "other" }, el("h4", {}, t("em.otherResults")), v.other_results.map(resultChip)) : null,
    ),
  );

  // Staff on duty.
  parts.push(
    el(
      "section",
      { class: "block", id: "staff" },
      el("h3", {}, t("em.staff")),
      v.staff.length
        ? el("ul", { class: "staff" }, v.staff.map((s) => el("li", { class: s.fit ? "fit" : "unfit" }, s.name, s.post ? ` · ${s.post}` : "", s.fit ? "" : ` · ${t("em.unfit")}`)))
        : el("p", { class: "muted" }, t("em.none")),
    ),
  );

  // Timeline.
  const refLabel = (e) => {
    if (!e.to) return "";
    if (e.action === "team_dispatched") return teamName(e.to);
    if (e.action === "step_done") return L((v.steps.find((s) => s.id === e.to) || {}).label) || e.to;
    if (e.action === "samples_frozen") return "";
    return label(e.to);
  };
  parts.push(
    el(
      "section",
      { class: "block", id: "timeline" },
      el("h3", {}, t("em.timeline")),
      el(
        "ol",
        { class: "timeline" },
        v.timeline.map((e) =>
          el(
            "li",
            { dataset: { action: e.action, to: e.to || "" } },
            el("time", {}, formatTime(e.at, true)),
            el("b", {}, label(e.action)),
            refLabel(e) ? el("span", { class: "ref" }, refLabel(e)) : null,
            el("span", { class: "actor" }, who(e.actor.user_id)),
            e.note ? el("span", { class: "note" }, pickBilingual(e.note)) : null,
          ),
        ),
      ),
      open && can("inspector")
        ? submitting(
            el("form", { class: "inline", id: "note-form" }, field("em.note", el("input", { name: "note", required: true })), el("button", { type: "submit" }, t("em.addNote"))),
            (f) => act({ note: f.get("note") }),
          )
        : null,
    ),
  );

  // Close (commanders).
  if (open && can("commander")) {
    const causes = v.drill ? ["drill_completed", "cause_undetermined"] : ["food_poisoning", "not_food_related", "cause_undetermined"];
    parts.push(
      submitting(
        el(
          "form",
          { class: "block close-form", id: "close-form" },
          el("h3", {}, t("em.close")),
          field("em.cause", el("select", { name: "cause" }, causes.map((c) => el("option", { value: c }, label(c))))),
          field("em.conclusionText", el("textarea", { name: "text", rows: "3", required: true })),
          el("button", { type: "submit", class: "danger" }, t("em.close")),
        ),
        (f) => act({ close: { cause: f.get("cause"), text: f.get("text") } }),
      ),
    );
  }
  replace(box, ...parts);
  box.dataset.kind = "emergency";
  box.dataset.id = v.id;
  box.dataset.state = v.state;
  box.dataset.level = v.level;
}

async function renderDetail() {
  const box = document.querySelector("#detail");
  if (!state.sel) {
    replace(box, el("p", { class: "hint" }, t("em.pick")));
    return;
  }
  try {
    if (state.sel.kind === "meal") await renderMeal(state.sel.id);
    else await renderEmergency(state.sel.id);
  } catch (err) {
    console.error(err);
    replace(box, el("p", { class: "api-error", role: "alert" }, t("em.failed", { msg: pickBilingual(err.message) })));
  }
}

// ---------- loading ----------

async function refresh(withDetail) {
  if (!state.eventID) return;
  const [meals, ems, teams] = await Promise.all([
    call("GET", `/api/v1/meals?event=${enc(state.eventID)}&date=${enc(state.date)}`),
    call("GET", `/api/v1/emergencies?event=${enc(state.eventID)}`),
    call("GET", "/api/v1/teams"),
  ]);
  state.meals = meals;
  state.emergencies = ems;
  state.teams = teams;
  renderLists();
  if (withDetail && !state.dirty) await renderDetail();
  const rl = document.querySelector("#report-link");
  rl.href = `report.html?event=${enc(state.eventID)}&date=${enc(state.date)}`;
  document.body.dataset.state = "ready";
}

async function main() {
  applyI18n(document);
  document.title = t("em.title");
  document.querySelector("#lang").addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    document.title = t("em.title");
    refresh(true);
  });
  try {
    state.me = await call("GET", "/api/v1/me");
  } catch (err) {
    if (err.status === 401) {
      document.querySelector("#login-needed").hidden = false;
      document.body.dataset.state = "login";
      return;
    }
    throw err;
  }
  replace(document.querySelector("#user"), state.me.display_name || state.me.name);
  const cfg = await call("GET", "/api/v1/ui-config");
  setServerLabels(cfg.labels);
  if (cfg.utc_offset_s !== undefined) setUTCOffset(cfg.utc_offset_s);
  await loadPeople();
  state.events = await call("GET", "/api/v1/events");
  const q = new URLSearchParams(location.search);
  const sel = document.querySelector("#event");
  replace(sel, state.events.length ? state.events.map((ev) => el("option", { value: ev.id }, ev.filing.name)) : el("option", { value: "" }, t("em.noEvent")));
  state.eventID = q.get("event") || (state.events[0] && state.events[0].id) || "";
  sel.value = state.eventID;
  const date = document.querySelector("#date");
  state.date = q.get("date") || chinaToday();
  date.value = state.date;
  sel.addEventListener("change", () => {
    state.eventID = sel.value;
    state.sel = null;
    refresh(true);
  });
  date.addEventListener("change", () => {
    state.date = date.value;
    refresh(false);
  });
  if (q.get("meal")) state.sel = { kind: "meal", id: q.get("meal") };
  if (q.get("emergency")) state.sel = { kind: "emergency", id: q.get("emergency") };
  await refresh(true);
  if (!state.eventID) document.body.dataset.state = "ready";
  setInterval(() => {
    if (document.visibilityState === "visible") refresh(!state.dirty).catch((err) => console.error(err));
  }, POLL_MS);
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.state = "error";
});

// Exposed for the browser tests.
window.shianEmergency = { state };
