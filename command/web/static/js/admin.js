// admin: the admin's page of users, API tokens and the audit log
// (admin.html; the routes are GET/PATCH /api/v1/users, GET/POST/DELETE
// /api/v1/tokens and GET /api/v1/audit, all admin-only). Every server
// string reaches the screen through dom.js (text nodes). The model is
// docs/decisions/0020-credentials-and-audit.md.

import { formatWhen } from "./when.js"; // served by internal/jswhen: Beijing time whatever the browser's zone
import { el } from "./dom.js";
import { getLang, setLang, pickBilingual } from "./i18n.js";
import { loadPeople, personName } from "./people.js";

// The page's own strings, zh-CN first, with the glossary's labels.
const S = {
  title: ["用户与访问管理", "Users and access"],
  back: ["返回地图", "Back to the map"],
  lang: ["English", "中文"],
  "tab.users": ["用户", "Users"],
  "tab.tokens": ["接口令牌", "API tokens"],
  "tab.audit": ["审计日志", "Audit log"],
  login: ["请先在指挥中心登录，再打开本页", "Log in to the command centre first, then open this page"],
  notAdmin: ["本页仅管理员可用", "This page is for administrators"],
  failed: ["操作失败：{msg}", "Failed: {msg}"],
  name: ["用户名", "User name"],
  display: ["姓名", "Name"],
  role: ["角色", "Role"],
  events: ["活动范围", "Events"],
  allEvents: ["全部", "All"],
  state: ["状态", "State"],
  enabled: ["启用", "Enabled"],
  disabled: ["已停用", "Disabled"],
  disable: ["停用", "Disable"],
  enable: ["启用", "Enable"],
  confirmDisable: ["停用用户 {name}？其登录会话将结束，实时地图将断开。", "Disable {name}? Their sessions end and their live maps close."],
  tokenName: ["名称", "Name"],
  user: ["用户", "User"],
  createdBy: ["创建人", "Made by"],
  created: ["创建时间", "Made"],
  expires: ["到期", "Expires"],
  never: ["不过期（旧令牌）", "never (an older token)"],
  valid: ["有效", "Valid"],
  expired: ["已过期", "Expired"],
  revoke: ["吊销", "Revoke"],
  confirmRevoke: ["吊销令牌“{name}”？使用它的程序将无法再访问。", "Revoke the token “{name}”? Programs using it lose access."],
  days: ["有效天数", "Valid (days)"],
  make: ["生成令牌", "Make a token"],
  made: ["新令牌（只显示这一次，请立即复制）：", "The new token (shown only this once; copy it now):"],
  none: ["暂无", "None"],
  at: ["时间", "Time"],
  kind: ["类别", "Kind"],
  addr: ["地址", "Address"],
  action: ["操作", "Request"],
  status: ["结果", "Status"],
  note: ["说明", "Note"],
  allKinds: ["全部类别", "All kinds"],
  more: ["更多", "More"],
  exportAudit: ["导出（所选类别）", "Export (the chosen kind)"],
  csv: ["CSV 表格", "CSV"],
  xlsx: ["Excel 电子表格", "Excel"],
  "kind.login": ["登录", "Login"],
  "kind.login_failed": ["登录失败", "Failed login"],
  "kind.logout": ["退出", "Logout"],
  "kind.refused": ["拒绝访问", "Refused"],
  "kind.change": ["变更", "Change"],
  "role.admin": ["管理员", "Administrator"],
  "role.commander": ["指挥员", "Commander"],
  "role.inspector": ["监督员", "Inspector"],
  "role.operator": ["检测员", "Test operator"],
  "role.viewer": ["只读用户", "Viewer"],
};

function s(key, params) {
  const row = S[key];
  let v = row ? row[getLang() === "en" ? 1 : 0] : key;
  for (const [k, x] of Object.entries(params || {})) v = v.replace(`{${k}}`, String(x));
  return v;
}

const fmtTime = (iso) => formatWhen(iso) || iso || "";

async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  // A state-changing call always says JSON, even without a body (the
  // service's CSRF guard refuses anything else).
  if (method !== "GET") init.headers["Content-Type"] = "application/json";
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = new Error((data && data.error && data.error.message) || `HTTP ${resp.status}`);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function showError(err) {
  const box = document.querySelector("#error");
  box.textContent = err.status === 401 ? s("login") : err.status === 403 ? s("notAdmin") : s("failed", { msg: err.message });
  box.hidden = false;
}

/** A table with a header row; each cell names its column for the phone layout. */
function table(cols, rows) {
  if (rows.length === 0) return el("p", { class: "empty" }, s("none"));
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, cols.map((c) => el("th", {}, s(c))))),
    el(
      "tbody",
      {},
      rows.map((r) => el("tr", { class: r.off ? "off" : null }, r.cells.map((c, i) => el("td", { "data-label": cols[i] ? s(cols[i]) : null, class: c && c.mono ? "mono" : null }, c && c.node !== undefined ? c.node : c)))),
    ),
  );
}

async function renderUsers() {
  const pane = document.querySelector("#users");
  const users = await call("GET", "/api/v1/users");
  pane.replaceChildren(
    el("h2", {}, s("tab.users")),
    table(
      ["name", "display", "role", "events", "state", ""],
      users.map((u) => ({
        off: u.disabled,
        cells: [
          { node: u.name, mono: true },
          u.display_name || "",
          s(`role.${u.role}`),
          (u.events || []).join(", ") || s("allEvents"),
          { node: el("span", { class: u.disabled ? "badge off" : "badge" }, s(u.disabled ? "disabled" : "enabled")) },
          {
            node: el(
              "button",
              {
                type: "button",
                class: u.disabled ? null : "danger",
                dataset: { user: u.name, act: u.disabled ? "enable" : "disable" },
                onclick: async () => {
                  if (!u.disabled && !confirm(s("confirmDisable", { name: u.name }))) return;
                  try {
                    await call("PATCH", `/api/v1/users/${encodeURIComponent(u.name)}`, { disabled: !u.disabled });
                    await renderUsers();
                  } catch (err) {
                    showError(err);
                  }
                },
              },
              s(u.disabled ? "enable" : "disable"),
            ),
          },
        ],
      })),
    ),
  );
  return users;
}

async function renderTokens(users, made) {
  const pane = document.querySelector("#tokens");
  const tokens = await call("GET", "/api/v1/tokens");
  const form = el(
    "form",
    { class: "row", id: "make-token" },
    el("label", {}, s("user"), el("select", { name: "user" }, users.filter((u) => !u.disabled).map((u) => el("option", { value: u.name }, u.name)))),
    el("label", {}, s("tokenName"), el("input", { name: "name", maxlength: "100", required: true })),
    el("label", {}, s("days"), el("input", { name: "days", type: "number", min: "1", max: "366", value: "90" })),
    el("button", { type: "submit", class: "primary" }, s("make")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      const r = await call("POST", "/api/v1/tokens", { user: f.get("user"), name: f.get("name"), ttl_days: Number(f.get("days")) });
      await renderTokens(users, r);
    } catch (err) {
      showError(err);
    }
  });
  pane.replaceChildren(
    el("h2", {}, s("tab.tokens")),
    form,
    made ? el("div", { class: "made", id: "made-token" }, s("made"), el("span", { class: "mono" }, made.token)) : null,
    table(
      ["tokenName", "user", "createdBy", "created", "expires", "state", ""],
      tokens.map((tk) => ({
        off: tk.expired,
        cells: [
          tk.name || { node: tk.id, mono: true },
          { node: tk.user, mono: true },
          tk.created_by || "",
          fmtTime(tk.created_at),
          tk.expires_at ? fmtTime(tk.expires_at) : s("never"),
          { node: el("span", { class: tk.expired ? "badge bad" : "badge" }, s(tk.expired ? "expired" : "valid")) },
          {
            node: el(
              "button",
              {
                type: "button",
                class: "danger",
                dataset: { token: tk.id },
                onclick: async () => {
                  if (!confirm(s("confirmRevoke", { name: tk.name || tk.id }))) return;
                  try {
                    await call("DELETE", `/api/v1/tokens/${encodeURIComponent(tk.id)}`);
                    await renderTokens(users);
                  } catch (err) {
                    showError(err);
                  }
                },
              },
              s("revoke"),
            ),
          },
        ],
      })),
    ),
  );
}

const KINDS = ["login", "login_failed", "logout", "refused", "change"];

async function renderAudit() {
  const pane = document.querySelector("#audit");
  const kind = el("select", { name: "kind" }, el("option", { value: "" }, s("allKinds")), KINDS.map((k) => el("option", { value: k }, s(`kind.${k}`))));
  const holder = el("div", {});
  const more = el("button", { type: "button", class: "more", hidden: true }, s("more"));
  let entries = [];
  const load = async (before) => {
    const q = new URLSearchParams({ limit: "50" });
    if (kind.value) q.set("kind", kind.value);
    if (before) q.set("before", String(before));
    const page = await call("GET", `/api/v1/audit?${q}`);
    entries = before ? entries.concat(page) : page;
    more.hidden = page.length < 50;
    holder.replaceChildren(
      table(
        ["at", "kind", "user", "addr", "action", "status", "note"],
        entries.map((e) => ({
          off: false,
          cells: [
            fmtTime(e.at),
            { node: el("span", { class: e.kind === "refused" || e.kind === "login_failed" ? "badge bad" : "badge" }, s(`kind.${e.kind}`)) },
            e.actor ? who(e.actor, e.role) : "",
            { node: e.addr, mono: true },
            { node: `${e.method} ${e.path}`, mono: true },
            String(e.status),
            pickBilingual(e.note || ""), // the page's language only, not "新建用户 … / user … created"
          ],
        })),
      ),
    );
  };
  // The export links take the kind filter; the server sends every entry of it.
  const exportLink = (ext) => el("a", { class: "export-link", download: "", dataset: { export: "audit", format: ext } }, s(ext));
  const links = [exportLink("csv"), exportLink("xlsx")];
  const setLinks = () => {
    for (const a of links) a.href = `/api/v1/export/audit.${a.dataset.format}${kind.value ? `?kind=${encodeURIComponent(kind.value)}` : ""}`;
  };
  setLinks();
  kind.addEventListener("change", () => (setLinks(), load().catch(showError)));
  more.addEventListener("click", () => load(entries.length ? entries[entries.length - 1].seq : 0).catch(showError));
  pane.replaceChildren(
    el("h2", {}, s("tab.audit")),
    el("form", { class: "row" }, el("label", {}, s("kind"), kind), el("span", { class: "exports" }, s("exportAudit"), " ", ...links)),
    holder,
    more,
  );
  await load();
}

function applyText() {
  document.documentElement.lang = getLang() === "en" ? "en" : "zh-CN";
  document.title = `${getLang() === "en" ? "Shian" : "食安"} · ${s("title")}`;
  document.querySelector("#title").textContent = s("title");
  document.querySelector("#back").textContent = s("back");
  document.querySelector("#lang").textContent = s("lang");
  for (const b of document.querySelectorAll(".tabs button")) b.textContent = s(`tab.${b.dataset.tab}`);
}

function select(tab) {
  for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  for (const p of document.querySelectorAll(".pane")) p.hidden = p.id !== tab;
  document.body.dataset.tab = tab;
}

/** An audit entry's user: the display name with the id an admin needs, and the role. */
function who(id, role) {
  const name = personName(id);
  const both = name && name !== id ? `${name} ${id}` : id;
  return role ? `${both}（${s(`role.${role}`)}）` : both;
}

async function render() {
  applyText();
  await loadPeople(true);
  const users = await renderUsers();
  await renderTokens(users);
  await renderAudit();
}

async function main() {
  applyText();
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => select(b.dataset.tab));
  document.querySelector("#lang").addEventListener("click", async () => {
    setLang(getLang() === "en" ? "zh" : "en");
    await render().catch(showError);
  });
  select(new URLSearchParams(location.search).get("tab") || "users");
  try {
    await render();
  } catch (err) {
    showError(err);
    document.body.dataset.state = "error";
    return;
  }
  document.body.dataset.state = "ready";
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.state = "error";
});
