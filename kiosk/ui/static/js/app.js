// app: the kiosk operator screen. It renders the whole screen from the
// state the kiosk sends (/api/events, server-sent events) and calls the
// small local API for the operator's actions. Everything comes from this
// kiosk (localhost): the screen works the same with the network cut.
//
// Views: stall → sample → test → waiting → result, and history. A new
// result always opens the result view; a blocking overlay covers the
// screen when a result could not be saved.

import { t, setLang, currentLang, applyI18n, commonSamples, table } from "./i18n.js";
import { installScanner, parseStallCode, parseLotCode } from "./scan.js";
import { el } from "./dom.js"; // served by internal/jsdom, shared with the command's pages
import { formatClock } from "./when.js"; // served by internal/jswhen: Beijing time whatever the system's zone

const $ = (id) => document.getElementById(id);

const CATEGORIES = ["cat.vegetable", "cat.fruit", "cat.meat", "cat.aquatic", "cat.soy", "cat.drink", "cat.other"];

const ui = {
  state: null,
  ready: false,
  connected: false,
  view: "stall",
  seenKey: null,
  form: { stall_id: "", sample: { name: "", category: "", batch: "", supplier: "" }, device_id: "", item: "", repeat_of: "", lot: "", lot_expires: "", lot_other: false },
  toastTimer: 0,
  shown: "",
  scans: 0,
};

// Test hooks (browser tests read these; the screen does not depend on them).
window.shian = {
  get state() {
    return ui.state;
  },
  get view() {
    return ui.view;
  },
  get form() {
    return ui.form;
  },
  get ready() {
    return ui.ready;
  },
  get connected() {
    return ui.connected;
  },
  get scans() {
    return ui.scans;
  },
  parseStallCode,
  parseLotCode,
  lang: currentLang,
  missingKeys: () => Object.entries(table).filter(([, v]) => !v.zh || !v.en).map(([k]) => k),
};

// ---- time ----

/** An instant as "HH:mm" today, else "YYYY-MM-DD HH:mm", on the event's clock (when.js). */
function fmtTime(iso) {
  return formatClock(iso);
}

function fmtElapsed(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return m + ":" + String(s % 60).padStart(2, "0");
}

// ---- helpers over the state ----

function stallName(id) {
  const s = ui.state && ui.state.stalls.find((x) => x.id === id);
  return s && s.name ? s.name : "";
}

function stallLabel(id) {
  if (!id) return t("step.none");
  const n = stallName(id);
  return n ? n + "（" + id + "）" : id;
}

function instrument(id) {
  return ui.state && (ui.state.instruments || []).find((x) => x.id === id);
}

function instState(is) {
  const s = is ? is.state : "unknown";
  return ["ready", "measuring", "down"].includes(s) ? s : "unknown";
}

function verdictLabel(v) {
  return table["verdict." + v] ? t("verdict." + v) : v;
}

// ---- API ----

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(j.message || r.statusText);
    e.code = j.code;
    e.params = j.params || {};
    throw e;
  }
  return j;
}

function errText(e) {
  return e.code && table["err." + e.code] ? t("err." + e.code, e.params) : t("err.other", { msg: e.message });
}

function toast(msg, kind) {
  const box = $("toast");
  box.textContent = msg;
  box.dataset.kind = kind || "info";
  box.hidden = false;
  clearTimeout(ui.toastTimer);
  ui.toastTimer = setTimeout(() => (box.hidden = true), 4000);
}

async function act(path, body) {
  try {
    const s = await post(path, body);
    onState(s);
    return true;
  } catch (e) {
    toast(errText(e), "error");
    return false;
  }
}

// ---- actions ----

function go(view) {
  ui.view = view;
  render();
}

function chooseStall(id) {
  ui.form.stall_id = id;
  ui.form.repeat_of = "";
  go("sample");
}

function onScan(code, parsed) {
  ui.scans++;
  if (ui.state && ui.state.waiting) {
    toast(t("scan.busy"), "warn");
    return;
  }
  const lot = parseLotCode(code);
  if (lot) {
    chooseLot(lot.lot, lot.expires || "");
    toast(lot.expires ? t("lot.scanned", { lot: lot.lot, date: lot.expires }) : t("lot.scannedNoDate", { lot: lot.lot }), "ok");
    return;
  }
  if (!parsed.id) {
    toast(t("scan.bad", { code: code.slice(0, 60) }), "error");
    return;
  }
  const known = stallName(parsed.id) || (ui.state && ui.state.stalls.some((s) => s.id === parsed.id));
  chooseStall(parsed.id);
  toast(known ? t("stall.scanned", { id: stallLabel(parsed.id) }) : t("stall.unlisted", { id: parsed.id }), "ok");
}

/** chooseLot takes a lot from the list, a scan or the form; a lot the book lists takes the book's expiry. */
function chooseLot(id, expires) {
  const f = ui.form;
  const known = ui.state && (ui.state.lots || []).find((l) => l.id === id);
  f.lot = id;
  f.lot_expires = known ? known.expires : expires;
  f.lot_other = !known && !!id;
  $("lot-id").value = f.lot_other ? id : "";
  $("lot-exp").value = f.lot_other ? f.lot_expires : "";
  if (ui.view === "test") render();
}

function startBody(form) {
  return {
    session: {
      stall_id: form.stall_id,
      sample: { ...form.sample },
      repeat_of: form.repeat_of || undefined,
      lot: form.lot || undefined,
      lot_expires: form.lot_expires || undefined,
    },
    device_id: form.device_id,
    item: form.item,
  };
}

function start() {
  act("/api/start", startBody(ui.form));
}

/** Start the same sample again: a repeat of original (or a redo when original is ""). */
function again(r, original) {
  const f = ui.form;
  f.stall_id = r.stall_id;
  f.sample = { name: r.sample.name || "", category: r.sample.category || "", batch: r.sample.batch || "", supplier: r.sample.supplier || "" };
  f.device_id = r.device_id;
  f.item = r.item || "";
  f.repeat_of = original;
  f.lot = r.lot || "";
  f.lot_expires = r.lot_expires || "";
  act("/api/start", startBody(f));
}

function nextSample() {
  ui.form.sample = { name: "", category: "", batch: "", supplier: "" };
  ui.form.repeat_of = "";
  go("sample");
}

// ---- state ----

function onState(s) {
  ui.state = s;
  if (!ui.ready) {
    ui.ready = true;
    ui.seenKey = s.latest ? s.latest.key : null;
    if (!ui.form.stall_id && s.kiosk.default_stall) ui.form.stall_id = s.kiosk.default_stall;
    if (s.waiting) ui.view = "waiting";
    else if (s.latest && (s.alarm.active || (s.latest.error && !s.latest.error_noted))) ui.view = "result";
  } else if (s.latest && s.latest.key !== ui.seenKey) {
    ui.seenKey = s.latest.key;
    ui.view = "result";
  } else if (s.waiting && ui.view !== "waiting" && ui.view !== "history") {
    ui.view = "waiting";
  } else if (!s.waiting && ui.view === "waiting") {
    ui.view = "test";
  }
  render();
}

function connect() {
  const es = new EventSource("api/events");
  es.addEventListener("state", (ev) => {
    ui.connected = true;
    $("conn").hidden = true;
    onState(JSON.parse(ev.data));
  });
  es.onerror = () => {
    ui.connected = false;
    const c = $("conn");
    c.textContent = t(ui.ready ? "app.lost" : "app.connecting");
    c.hidden = false;
  };
}

// ---- rendering ----

function render() {
  const s = ui.state;
  if (!s) return;
  renderStatus(s);
  renderAlarm(s);
  renderSteps();
  for (const v of ["stall", "sample", "test", "waiting", "result", "history"]) $("view-" + v).hidden = ui.view !== v;
  document.body.dataset.view = ui.view;
  if (ui.shown !== ui.view) {
    // A message belongs to the screen it was shown on.
    ui.shown = ui.view;
    $("toast").hidden = true;
  }
  if (ui.view === "stall") renderStall(s);
  if (ui.view === "sample") renderSample(s);
  if (ui.view === "test") renderTest(s);
  if (ui.view === "waiting") renderWaiting(s);
  if (ui.view === "result") renderResult(s);
  if (ui.view === "history") renderHistory(s);
  renderStorage(s);
}

function setPill(id, text, state, host) {
  const p = $(id);
  p.textContent = "";
  if (id === "st-link") {
    p.append(el("span", { class: "dot" }), el("span", { id: "st-link-text" }, text));
    // The command instance's host, on screens wide enough for it (app.css).
    if (host) p.append(el("span", { id: "st-link-host", class: "link-host" }, "· " + host));
  } else {
    p.textContent = text;
  }
  p.dataset.state = state;
}

// linkHost is the host (and port) of a command URL, "" when it has none.
function linkHost(u) {
  try {
    return u ? new URL(u).host : "";
  } catch {
    return "";
  }
}

function renderStatus(s) {
  $("kiosk-id").textContent = s.kiosk.name ? s.kiosk.name : s.kiosk.id;
  $("kiosk-id").title = s.kiosk.id;
  const online = s.link.online;
  // With several command instances (command.urls) the pill names the one
  // the link uses (hidden on an 800-wide screen: no room); the title always
  // gives the whole URL.
  const host = linkHost(s.link.url);
  const several = (s.link.urls || 0) > 1 && host;
  setPill("st-link", t(online ? "status.online" : "status.offline"), online ? "ok" : "bad", online && several ? host : "");
  const where = s.link.url ? t("status.linkURL", { url: s.link.url }) : "";
  $("st-link").title = online ? where : t("status.offlineNote") + (s.link.last_error ? " — " + s.link.last_error : "") + (where ? " — " + where : "");
  const n = s.queue.pending;
  setPill("st-pending", t("status.pending", { n }), n > 0 ? "warn" : "ok");
  const rj = s.queue.rejected || 0;
  $("st-rejected").hidden = rj === 0;
  if (rj) setPill("st-rejected", t("status.rejected", { n: rj }), "bad");
  setPill("st-sync", s.link.last_sync ? t("status.lastSync", { time: fmtTime(s.link.last_sync) }) : t("status.neverSynced"), "plain");
  setPill("st-storage", t(s.storage.ok ? "status.storageOk" : "status.storageBad"), s.storage.ok ? "ok" : "bad");
  $("st-storage").title = s.storage.error || "";
  const rules = s.rules || { builtin: true };
  setPill("st-rules", rules.builtin ? t("status.rulesBuiltin") : t("status.rules", { v: rules.version }), rules.builtin ? "warn" : "plain");
  $("st-rules").title = rules.builtin ? t("status.rulesBuiltinNote") : t("status.rulesNote", { v: rules.version, time: fmtTime(rules.issued_at) });
  $("lang").textContent = t("lang.switch");
}

function renderAlarm(s) {
  const box = $("alarm");
  // On the verdict of the result that raised it, the alarm is acknowledged
  // from the verdict itself; elsewhere a bar above every screen.
  const here = !!(s.alarm.active && ui.view === "result" && s.latest && s.latest.key === s.alarm.reason && !s.alarm.error);
  box.hidden = !s.alarm.active || here;
  $("v-ack").hidden = !here;
  document.body.classList.toggle("alarming", !!s.alarm.active);
  if (!s.alarm.active) return;
  const r = s.alarm_result;
  let text = r ? t("alarm.text", { stall: stallLabel(r.stall_id), sample: r.sample_name || "—" }) : t("alarm.textNoResult");
  if (s.alarm.error) text += " · " + t("alarm.pinError", { err: s.alarm.error });
  $("alarm-text").textContent = text;
}

function renderSteps() {
  const f = ui.form;
  $("sv-stall").textContent = f.stall_id ? stallLabel(f.stall_id) : t("step.none");
  $("sv-sample").textContent = f.sample.name || t("step.none");
  const inst = instrument(f.device_id);
  $("sv-test").textContent = inst ? inst.model || inst.id : t("step.none");
  for (const b of document.querySelectorAll(".step")) {
    b.classList.toggle("current", b.dataset.view === ui.view);
  }
  for (const id of ["sv-stall", "sv-sample", "sv-test"]) {
    $(id).classList.toggle("unset", $(id).textContent === t("step.none"));
  }
}

function renderStall(s) {
  const q = $("stall-filter").value.trim().toLowerCase();
  const py = q.replace(/\s+/g, ""); // "ma la tang" as "malatang"
  // By id, name, category, or the name's pinyin / initials (the server's keys: "malatang", "mlt").
  const match = (st) =>
    !q ||
    st.id.toLowerCase().includes(q) ||
    (st.name || "").toLowerCase().includes(q) ||
    (st.category || "").includes(q) ||
    (py && /^[a-z0-9]+$/.test(py) && ((st.pinyin || "").includes(py) || (st.initials || "").includes(py)));
  const box = $("stall-lists");
  box.textContent = "";
  const btn = (st) =>
    el(
      "button",
      { type: "button", class: "stall" + (st.id === ui.form.stall_id ? " chosen" : ""), dataset: { stall: st.id }, onclick: () => chooseStall(st.id) },
      el("span", { class: "stall-name" }, st.name || st.id),
      el("span", { class: "stall-sub" },
        st.category ? el("span", { class: "stall-cat" }, st.category) : null,
        st.name ? el("span", { class: "stall-id" }, st.id) : null),
    );
  const recent = (s.recent_stalls || []).map((id) => s.stalls.find((x) => x.id === id) || { id }).filter(match);
  if (recent.length) {
    box.append(el("h2", {}, t("stall.recent")), el("div", { class: "grid" }, recent.slice(0, 6).map(btn)));
  }
  const all = s.stalls.filter(match);
  if (all.length) box.append(el("h2", {}, t("stall.all")), el("div", { class: "grid" }, all.map(btn)));
  if (!s.stalls.length) box.append(el("p", { class: "empty" }, t("stall.empty")));
  else if (!all.length && !recent.length) box.append(el("p", { class: "empty" }, t("stall.noMatch")));
}

/** The samples offered for the chosen stall: its category's, then the stall's recent ones. */
function suggestions(s) {
  const st = s.stalls.find((x) => x.id === ui.form.stall_id);
  const table = s.samples || {};
  const list = (st && st.category && table[st.category]) || table[""] || commonSamples.map((n) => ({ name: n, category: "蔬菜" }));
  const out = list.slice();
  for (const r of s.recent || []) {
    if (r.stall_id === ui.form.stall_id && r.sample_name && !out.some((x) => x.name === r.sample_name)) out.push({ name: r.sample_name });
  }
  return { category: st && st.category, list: out };
}

function renderSample(s) {
  const f = ui.form;
  const name = $("s-name");
  if (document.activeElement !== name) name.value = f.sample.name;
  if (document.activeElement !== $("s-batch")) $("s-batch").value = f.sample.batch;
  if (document.activeElement !== $("s-supplier")) $("s-supplier").value = f.sample.supplier;
  const sug = suggestions(s);
  $("sample-for").textContent = sug.category ? t("sample.forCat", { cat: sug.category }) : "";
  const chips = $("name-chips");
  chips.textContent = "";
  for (const sg of sug.list.slice(0, 8)) {
    chips.append(
      el("button", { type: "button", class: "chip" + (sg.name === f.sample.name ? " on" : ""), dataset: { sample: sg.name, cat: sg.category || "" }, onclick: () => {
        f.sample.name = sg.name;
        if (sg.category) f.sample.category = sg.category;
        else if (!f.sample.category) f.sample.category = table["cat.vegetable"].zh;
        render();
      } }, sg.name, currentLang() === "en" && sg.name_en ? el("small", { class: "chip-en" }, sg.name_en) : null),
    );
  }
  const cats = $("cat-chips");
  cats.textContent = "";
  for (const k of CATEGORIES) {
    const v = table[k].zh; // stored in Chinese, the language of the records
    cats.append(
      el("button", { type: "button", class: "chip" + (v === f.sample.category ? " on" : ""), onclick: () => {
        f.sample.category = f.sample.category === v ? "" : v;
        render();
      } }, t(k)),
    );
  }
  $("to-test").disabled = !f.sample.name.trim();
}

function startBlocker(s) {
  const f = ui.form;
  if (!f.stall_id) return t("test.needStall");
  if (!f.sample.name.trim()) return t("test.needSample");
  const inst = instrument(f.device_id);
  if (!inst) return t("test.needDevice");
  if (instState(inst) === "down") return t("test.deviceDown");
  if (f.lot_other && !f.lot) return t("test.needLotId");
  if (lotsHere(s).some((l) => !l.expired) && !f.lot) return t("test.needLot");
  if (f.lot && !f.lot_expires) return t("test.needLotExpiry");
  return "";
}

/** lotsHere: the rule book's lots for the chosen instrument and item. */
function lotsHere(s) {
  const inst = instrument(ui.form.device_id);
  if (!inst || !inst.lots) return [];
  const ids = inst.lots[ui.form.item || ""] || inst.lots[""] || [];
  return (s.lots || []).filter((l) => ids.includes(l.id));
}

function renderLots(s) {
  const f = ui.form;
  const lots = lotsHere(s);
  const box = $("lot-chips");
  box.textContent = "";
  if (f.lot && !f.lot_other && !lots.some((l) => l.id === f.lot)) {
    // The lot chosen belongs to another instrument or item.
    f.lot = "";
    f.lot_expires = "";
  }
  const chip = (label, on, onclick, extra) =>
    el("button", { type: "button", class: "chip" + (on ? " on" : ""), onclick, ...extra }, label);
  if (!lots.some((l) => !l.expired)) {
    box.append(chip(t("lot.none"), !f.lot && !f.lot_other, () => {
      f.lot_other = false;
      chooseLot("", "");
    }, { dataset: { lot: "" } }));
  }
  for (const l of lots) {
    const when = l.expired ? t("lot.expired", { date: l.expires }) : t("lot.until", { date: l.expires });
    box.append(
      chip([l.id, el("small", { class: "lot-date" }, " " + when)], f.lot === l.id && !f.lot_other, () => chooseLot(l.id, l.expires), {
        dataset: { lot: l.id, expired: l.expired ? "1" : "" },
        disabled: l.expired,
        title: l.name || l.analyte || "",
      }),
    );
  }
  box.append(chip(t("lot.other"), f.lot_other, () => {
    f.lot_other = true;
    f.lot = $("lot-id").value.trim();
    f.lot_expires = $("lot-exp").value;
    render();
    $("lot-id").focus();
  }, { dataset: { lot: "other" } }));
  $("lot-other").hidden = !f.lot_other;
}

function renderTest(s) {
  const f = ui.form;
  const insts = s.instruments || [];
  if (!instrument(f.device_id) && insts.length) {
    const ready = insts.find((i) => instState(i) !== "down") || insts[0];
    f.device_id = ready.id;
  }
  const box = $("instruments");
  box.textContent = "";
  if (!insts.length) box.append(el("p", { class: "empty" }, t("test.noInstruments")));
  for (const is of insts) {
    const st = instState(is);
    box.append(
      el(
        "button",
        { type: "button", class: "inst" + (is.id === f.device_id ? " chosen" : ""), dataset: { device: is.id, state: st }, onclick: () => {
          f.device_id = is.id;
          f.item = "";
          render();
        } },
        el("span", { class: "inst-name" }, is.model || is.id, el("small", {}, " " + is.id)),
        el("span", { class: "badge", dataset: { state: st } }, t("inst." + st)),
        el("span", { class: "inst-hint" }, st === "down" && is.last_error ? is.last_error : t(is.triggerable ? "test.triggerHint" : "test.pressStartHint")),
      ),
    );
  }
  const inst = instrument(f.device_id);
  const items = (inst && inst.items) || [];
  if (items.length && !items.includes(f.item)) f.item = items[0];
  $("items-box").hidden = !items.length;
  const chips = $("item-chips");
  chips.textContent = "";
  for (const it of items) {
    chips.append(el("button", { type: "button", class: "chip" + (it === f.item ? " on" : ""), onclick: () => {
      f.item = it;
      render();
    } }, it));
  }
  renderLots(s);
  const why = startBlocker(s);
  $("start").disabled = !!why;
  $("start-why").textContent = why;
}

function renderWaiting(s) {
  const w = s.waiting;
  if (!w) return;
  const inst = instrument(w.device_id);
  const st = instState(inst);
  let big = t("wait.pressStart");
  let mode = "press"; // the operator's turn: no spinner
  if (st === "measuring") [big, mode] = [t("wait.measuring"), "busy"];
  else if (w.mode === "triggered") [big, mode] = [t("wait.triggered"), "busy"];
  $("wait-big").textContent = big;
  $("wait-big").dataset.state = st;
  $("wait-big").dataset.mode = mode;
  $("wait-sub").textContent =
    (w.session.repeat_of ? t("wait.repeat") + " · " : "") + stallLabel(w.session.stall_id) + " · " + (w.session.sample.name || "") + (w.item ? " · " + w.item : "");
  const instText = inst ? (inst.model || inst.id) + " · " + t("inst." + st) : w.device_id;
  $("wait-inst").textContent = st === "down" ? t("wait.down", { err: (inst && inst.last_error) || "" }) : instText;
  $("wait-inst").dataset.state = st;
  tick();
}

function tick() {
  const s = ui.state;
  if (!s || !s.waiting || ui.view !== "waiting") return;
  $("wait-time").textContent = t("wait.elapsed", { t: fmtElapsed(Date.now() - Date.parse(s.waiting.since)) });
}

function rawRows(table, fields) {
  table.textContent = "";
  if (!fields || !fields.length) {
    table.append(el("tr", {}, el("td", { colspan: "2" }, t("raw.none"))));
    return;
  }
  for (const f of fields) {
    table.append(
      el("tr", { dataset: { key: f.key } }, el("th", {}, t("raw." + f.key)), el("td", {}, f.value + (f.unit ? " " + f.unit : ""))),
    );
  }
}

function reasonText(code) {
  if (!code) return t("reason.none");
  return code
    .split("+")
    .map((c) => (table["reason." + c] ? t("reason." + c) : c))
    .join("；");
}

function invalidTexts(reason) {
  let code = reason || "";
  if (code.startsWith("undecidable")) code = "undecidable";
  if (table["why." + code]) return [t("why." + code), t("how." + code)];
  return [t("why.other", { code: code || "—" }), t("how.other")];
}

function renderResult(s) {
  const lv = s.latest;
  const box = $("view-result");
  if (!lv) {
    box.hidden = true;
    return;
  }
  const r = lv.result;
  const v = r.verdict;
  box.dataset.verdict = v;
  box.dataset.key = lv.key;
  $("verdict").dataset.verdict = v;
  $("v-label").textContent = verdictLabel(v);
  const m = lv.main;
  $("v-main").textContent = m ? (table["main." + m.unit] ? t("main." + m.unit) : t("main.other")) + " " + m.value + (m.unit === "T/C" || m.unit === "T" ? "" : " " + m.unit) : "";
  const ser = lv.series;
  const isRepeat = !!r.repeat_of;
  const meta = $("v-meta");
  meta.textContent = "";
  for (const part of [
    el("span", { class: "meta-main" }, t("result.meta", { stall: stallLabel(r.stall_id), sample: r.sample.name || "—", time: fmtTime(r.measured_at) })),
    r.item ? el("span", {}, t("result.item", { item: r.item })) : null,
    r.lot ? el("span", { class: "meta-lot" }, t("result.lot", { lot: r.lot })) : null,
    isRepeat && ser && ser.original ? el("span", { class: "meta-repeat" }, t("result.isRepeat", { verdict: verdictLabel(ser.original.verdict) })) : null,
  ]) {
    if (part) meta.append(part);
  }
  rawRows($("v-raw"), lv.fields);

  const saved = $("v-saved");
  if (!lv.saved) {
    saved.textContent = t("storage.title");
    saved.dataset.state = "bad";
  } else if (lv.state === "acked") {
    saved.textContent = "✓ " + t("saved.acked");
    saved.dataset.state = "ok";
  } else if (lv.state === "rejected") {
    saved.textContent =
      lv.reject && lv.reject.code === "out_of_scope"
        ? t("saved.outOfScope")
        : t("saved.rejected", { msg: (lv.reject && lv.reject.message) || "" });
    saved.dataset.state = "bad";
  } else {
    saved.textContent = "✓ " + t(s.link.online ? "saved.pending" : "saved.pendingOffline", { seq: r.seq });
    saved.dataset.state = "ok";
  }

  const next = $("v-next");
  next.textContent = "";
  const li = (text, cls, ...extra) => next.append(el("li", { class: cls || "" }, text, ...extra));
  const actions = $("v-actions");
  actions.textContent = "";
  const orig = ser && ser.original;
  const origVerdict = orig ? orig.verdict : v;
  const repeats = ser ? ser.repeats : [];
  const repeatChips = repeats.length
    ? el("span", { class: "rep-chips" }, repeats.map((rp) => el("span", { class: "vchip", dataset: { verdict: rp.verdict } }, verdictLabel(rp.verdict))))
    : null;
  let canRepeat = false;
  if (origVerdict === "positive") {
    li(t("next.seal"), "step-seal");
    const rs = ser && ser.retest;
    const req = (ser && ser.required) || 0;
    if (rs && rs.state === "confirmation_pending") li(t("next.stands"), "step-stands", repeatChips);
    else if (rs && rs.state === "not_reproduced") li(t("next.notReproduced"), "step-nr", repeatChips);
    else if (req) li(t("next.repeats", { req, done: rs ? rs.repeats_valid : repeats.length }), "step-repeats", repeatChips);
    else if (repeats.length) li(t("next.repeatsDone", { done: repeats.length }), "step-repeats", repeatChips);
    canRepeat = lv.saved && (!rs || rs.state === "repeat_required" || !req);
    if (lv.saved) {
      if (lv.incident_no && lv.repeat_incident_no) li(t("next.incidentRepeat", { no: lv.incident_no, own: lv.repeat_incident_no }), "step-incident");
      else if (lv.incident_no) li(t("next.incident", { no: lv.incident_no }), "step-incident");
      else li(t(s.link.online ? "next.incidentWait" : "next.incidentOffline"), "step-incident wait");
    }
    li(t("next.lab"), "step-lab");
    if (lv.retest_by) li(t("next.retest", { time: fmtTime(lv.retest_by) }), "step-retest");
  } else if (origVerdict === "suspicious") {
    li(t("next.suspicious"), "step-suspicious", repeatChips);
    canRepeat = lv.saved;
  }
  if (origVerdict !== "positive" && (origVerdict !== "suspicious" || isRepeat)) {
    switch (v) {
      case "negative":
        li(t("next.negative"));
        break;
      case "pass":
        li(t("next.pass"));
        break;
      case "caution":
      case "fail":
      case "na":
        li(t("next." + v, { reason: reasonText(r.reason) }));
        break;
    }
  }
  if (v === "invalid") {
    const [why, how] = invalidTexts(r.reason);
    li(t("next.invalidWhy", { why }), "step-why");
    li(t("next.invalidHow", { how }), "step-how");
    actions.append(el("button", { type: "button", class: "btn btn-main", id: "act-redo", onclick: () => again(r, r.repeat_of || "") }, t("act.redo")));
  }
  if (canRepeat && ser && v !== "invalid") {
    const n = repeats.length + 1;
    actions.append(el("button", { type: "button", class: "btn btn-main btn-repeat", id: "act-repeat", onclick: () => again(r, ser.original_id) }, t("act.repeat", { n })));
  }
  actions.append(
    el("button", { type: "button", class: "btn", id: "act-next", onclick: () => {
      ui.form.stall_id = r.stall_id;
      nextSample();
    } }, t("act.next")),
    el("button", { type: "button", class: "btn", id: "act-stall", onclick: () => go("stall") }, t("act.otherStall")),
    el("button", { type: "button", class: "btn", id: "act-history", onclick: () => go("history") }, t("step.history")),
  );
}

function renderHistory(s) {
  const tb = $("hist");
  tb.textContent = "";
  if (!s.recent.length) {
    tb.append(el("tr", {}, el("td", { class: "empty" }, t("hist.empty"))));
    return;
  }
  tb.append(
    el("tr", {}, ["hist.time", "hist.stall", "hist.sample", "hist.verdict", "hist.upload"].map((k) => el("th", {}, t(k)))),
  );
  for (const r of s.recent) {
    tb.append(
      el(
        "tr",
        { dataset: { id: r.result_id } },
        el("td", {}, fmtTime(r.measured_at)),
        el("td", {}, r.stall_name || r.stall_id),
        el("td", {}, (r.sample_name || "—") + (r.repeat_of ? " ↻" : "")),
        el("td", {}, el("span", { class: "vchip", dataset: { verdict: r.verdict } }, verdictLabel(r.verdict)), r.incident_no ? " " + r.incident_no : ""),
        el("td", { dataset: { state: r.state } }, t("hist." + (r.state || "pending"))),
      ),
    );
  }
}

function renderStorage(s) {
  const lv = s.latest;
  const show = !!(lv && lv.error && !lv.error_noted);
  $("storage").hidden = !show;
  document.body.classList.toggle("blocked", show);
  if (!show) return;
  $("storage-what").textContent = verdictLabel(lv.result.verdict) + " · " + stallLabel(lv.result.stall_id) + " · " + (lv.result.sample.name || "—") + " · " + fmtTime(lv.result.measured_at);
  $("storage-seal").hidden = lv.result.verdict !== "positive" && lv.result.verdict !== "fail";
  $("storage-err").textContent = t("storage.detail", { err: lv.error });
  rawRows($("storage-raw"), lv.fields);
}

// ---- wiring ----

function bind() {
  $("lang").addEventListener("click", () => {
    setLang(currentLang() === "zh" ? "en" : "zh");
    applyI18n();
    render();
  });
  for (const b of document.querySelectorAll(".step")) b.addEventListener("click", () => go(b.dataset.view));
  $("stall-filter").addEventListener("input", () => render());
  $("s-name").addEventListener("input", (e) => {
    ui.form.sample.name = e.target.value;
    $("to-test").disabled = !e.target.value.trim();
    renderSteps();
  });
  $("s-batch").addEventListener("input", (e) => (ui.form.sample.batch = e.target.value));
  $("s-supplier").addEventListener("input", (e) => (ui.form.sample.supplier = e.target.value));
  $("to-test").addEventListener("click", () => go("test"));
  $("lot-id").addEventListener("input", (e) => {
    ui.form.lot = e.target.value.trim();
    render();
  });
  $("lot-exp").addEventListener("input", (e) => {
    ui.form.lot_expires = e.target.value;
    render();
  });
  $("hist-back").addEventListener("click", () => go(ui.state && ui.state.latest ? "result" : "stall"));
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", () => act("/api/cancel"));
  $("alarm-ack").addEventListener("click", () => act("/api/alarm/ack"));
  $("v-ack").addEventListener("click", () => act("/api/alarm/ack"));
  $("storage-ack").addEventListener("click", () => act("/api/storage/ack"));
  installScanner({ onScan, isKnown: (id) => !!(ui.state && ui.state.stalls.some((s) => s.id === id)) });
  setInterval(tick, 1000);
}

setLang(currentLang());
applyI18n();
bind();
connect();
