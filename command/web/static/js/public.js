// public: the diners' page (command/public). A scanned label (/s/{id})
// shows the stall's published information; /complain is the general
// complaint form. Every string from the server reaches the screen through
// dom.js as text nodes, never as markup.

import { formatWhen } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import { el, replace } from "/js/dom.js";

const $ = (id) => document.getElementById(id);

/** zhen renders a {zh, en} label: zh-CN first, English second (small). */
function zhen(l) {
  if (!l) return "";
  return [l.zh, l.en && l.en !== l.zh ? el("small", {}, l.en) : null];
}

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || `HTTP ${r.status}`);
  return body;
}

function showError(node, err) {
  node.hidden = false;
  replace(node, err.message || String(err));
}

const state = { stall: null };

function renderStall(v) {
  state.stall = v;
  document.title = `${v.name} · 食安信息公示`;
  $("stall").hidden = false;
  $("stall").dataset.id = v.id;
  replace($("stall-name"), v.name);
  replace($("stall-en"), v.name_en || "");
  const facts = $("stall-facts");
  replace(facts);
  const fact = (zh, en, value) => {
    if (!value) return;
    facts.append(el("dt", {}, zh, el("small", {}, en)), el("dd", {}, value));
  };
  fact("摊位编号", "Stall no.", v.id);
  fact("所在区域", "Zone", v.zone ? [v.zone, v.zone_en ? el("small", {}, v.zone_en) : null] : "");
  fact("经营主体", "Business", v.business);
  fact("经营类别", "Category", v.category);
  const g = $("grade");
  if (v.grade) {
    g.dataset.grade = v.grade;
    replace(g, el("span", { class: "letter", "aria-hidden": "true" }, v.grade),
      el("div", {}, el("p", {}, el("strong", {}, "风险等级 "), zhen(v.grade_label)), el("p", {}, zhen(v.grade_meaning))));
  } else {
    replace(g, el("p", { class: "empty" }, "暂未评定风险等级", el("small", {}, "Not graded yet")));
  }
  const ev = $("event");
  if (v.event) {
    ev.hidden = false;
    replace(ev, el("strong", {}, v.event.today ? "今日保障活动：" : "保障活动：", el("small", {}, v.event.today ? "Today's event" : "Event")),
      " ", v.event.name, " · ", zhen(v.event.phase_label), el("br"), `${v.event.first_day} — ${v.event.last_day}`);
  } else ev.hidden = true;

  $("results-card").hidden = false;
  const list = $("results");
  if (!v.results.length) replace(list, el("li", { class: "empty" }, "暂无公示的检测结果", el("small", {}, "No published results yet")));
  else
    replace(list, v.results.map((x) => el("li", { dataset: { verdict: x.verdict } },
      el("span", { class: "what" }, [x.sample, x.item].filter(Boolean).join(" · ")),
      el("span", { class: "verdict", dataset: { verdict: x.verdict } }, x.verdict_label.zh),
      el("span", { class: "meta" }, x.date, " · ", x.method_label.zh, " ", el("span", { class: "tier" }, x.tier_label.zh), el("small", {}, `${x.verdict_label.en} · ${x.method_label.en} · ${x.tier_label.en}`)))));

  $("notices-card").hidden = !v.notices.length;
  replace($("notices"), v.notices.map((n) => el("li", {},
    el("span", { class: "what" }, zhen(n.kind_label)), el("span", {}, n.signed_off_on),
    el("span", { class: "meta" }, [n.what, `${n.date} 发现 / found`].filter(Boolean).join(" · ")))));

  const w = $("c-where-stall");
  w.hidden = false;
  replace(w, "投诉对象：", v.name, el("small", {}, `About: ${v.name_en || v.id}`));
  $("staff-link").href = `/#site=${encodeURIComponent(v.id)}`;
}

async function loadStall(id) {
  try {
    renderStall(await getJSON(`/api/public/stalls/${encodeURIComponent(id)}`));
    $("status").hidden = true;
    document.body.dataset.state = "ready";
  } catch (err) {
    $("status").classList.add("error");
    replace($("status"), err.message);
    document.body.dataset.state = "error";
  }
}

const point = { lon: null, lat: null };

function setupGeneral() {
  $("status").hidden = true;
  $("c-where-point").hidden = false;
  $("c-locate").addEventListener("click", () => {
    if (!navigator.geolocation) return replace($("c-located"), "此设备无法定位 / no location on this device");
    replace($("c-located"), "定位中… / locating…");
    navigator.geolocation.getCurrentPosition(
      (p) => {
        point.lon = p.coords.longitude;
        point.lat = p.coords.latitude;
        replace($("c-located"), `${point.lat.toFixed(5)}, ${point.lon.toFixed(5)}`);
      },
      () => replace($("c-located"), "无法获取位置，请在描述中写明地点 / no location; say where in the description"),
    );
  });
  document.body.dataset.state = "ready";
}

function setupForm() {
  const anon = $("c-anonymous");
  const sync = () => ($("c-contact-label").hidden = anon.checked);
  anon.addEventListener("change", sync);
  sync();
  $("complaint-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("c-error");
    err.hidden = true;
    const desc = $("c-description").value.trim();
    if (desc.length < 4) return showError(err, new Error("请写明发生了什么 / say what happened"));
    const files = [...$("c-photo").files];
    if (files.length > 3) return showError(err, new Error("最多 3 张照片 / at most 3 photos"));
    if (files.some((f) => f.size > 5 << 20)) return showError(err, new Error("每张照片不超过 5 MB / each photo at most 5 MB"));
    const fd = new FormData();
    fd.append("description", desc);
    if (state.stall) fd.append("stall", state.stall.id);
    else if (point.lon !== null) {
      fd.append("lon", String(point.lon));
      fd.append("lat", String(point.lat));
    } else return showError(err, new Error("请先点“使用我的位置”/ tap “Use my location” first"));
    if ($("c-when").value) fd.append("observed_at", $("c-when").value);
    if (anon.checked) fd.append("whistleblower", "1");
    else if ($("c-contact").value.trim()) fd.append("contact", $("c-contact").value.trim());
    for (const f of files) fd.append("photo", f, f.name);
    const btn = $("c-submit");
    btn.disabled = true;
    try {
      const r = await fetch("/api/public/complaints", { method: "POST", body: fd });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error((body.error && body.error.message) || `HTTP ${r.status}`);
      $("complaint-form").hidden = true;
      $("c-done").hidden = false;
      replace($("c-code"), body.code);
      $("f-code").value = body.code;
    } catch (x) {
      showError(err, x);
    } finally {
      btn.disabled = false;
    }
  });
  $("follow-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = $("f-result");
    out.hidden = false;
    const code = $("f-code").value.trim();
    if (!code) return replace(out, el("p", { class: "error" }, "请输入查询码 / enter the code"));
    try {
      const s = await getJSON(`/api/public/complaints/${encodeURIComponent(code)}`);
      out.dataset.stage = s.stage;
      replace(out,
        el("p", {}, "进展：", el("span", { class: "stage" }, zhen(s.stage_label))),
        el("p", {}, "受理时间：", formatWhen(s.received_at), s.subject ? ` · ${s.subject}` : ""),
        s.reply
          ? [el("p", {}, "答复 ", el("small", {}, "Reply"), "（", formatWhen(s.reply.at), "）："), el("blockquote", { class: "reply" }, s.reply.text)]
          : el("p", { class: "empty" }, "尚未答复，答复期限 ", formatWhen(s.reply_due), el("small", {}, "No reply yet")));
    } catch (x) {
      delete out.dataset.stage;
      replace(out, el("p", { class: "error" }, x.message));
    }
  });
}

setupForm();
const m = /^\/s\/([^/]+)$/.exec(location.pathname);
if (m) loadStall(decodeURIComponent(m[1]));
else setupGeneral();
