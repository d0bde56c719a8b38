// i18n: every on-screen string of the command centre, zh-CN first, English
// second. Labels follow docs/glossary.md (阴性/可疑/阳性（疑似）/无效, 摊位,
// 摊贩集中区, 快检终端, 指挥中心 …) and the verdict labels of
// protocols/assay (合格/注意/不合格). Add new strings here, never in the
// code that shows them.
//
// Static markup names its string with data-i18n="key" (text),
// data-i18n-placeholder, data-i18n-title or data-i18n-aria-label;
// applyI18n() fills them. Code calls t("key", {param: value}).

const STORAGE_KEY = "shian.lang";

/** The string table: key → {zh, en}. "{name}" is replaced by params.name. */
const table = {
  // Brand and page.
  "app.title": { zh: "食安 · 指挥中心", en: "Shian · Command centre" },
  "app.brand": { zh: "食安", en: "Shian" },
  "app.centre": { zh: "指挥中心", en: "Command centre" },
  "app.loading": { zh: "正在加载…", en: "Loading…" },
  "boot.noLeaflet": {
    zh: "地图组件未构建：请在代码目录运行 make web（或 make build）后重新编译 shian-command。",
    en: "The map library is not built: run make web (or make build) in the source tree, then rebuild shian-command.",
  },
  "boot.failed": { zh: "页面加载失败：{msg}", en: "The page failed to load: {msg}" },

  // Language toggle: the label names the language it switches TO.
  "lang.switch": { zh: "English", en: "中文" },
  "lang.switchTitle": { zh: "切换到英文", en: "Switch to Chinese" },

  // Login.
  "login.title": { zh: "登录指挥中心", en: "Log in to the command centre" },
  "login.user": { zh: "用户名", en: "User name" },
  "login.password": { zh: "密码", en: "Password" },
  "login.submit": { zh: "登录", en: "Log in" },
  "login.busy": { zh: "正在登录…", en: "Logging in…" },
  "login.bad": { zh: "用户名或密码错误", en: "Wrong user name or password" },
  "login.throttled": { zh: "登录失败次数过多，请一分钟后再试", en: "Too many failed logins; try again in a minute" },
  "login.error": { zh: "无法登录：{msg}", en: "Cannot log in: {msg}" },
  "login.expired": { zh: "登录已失效，请重新登录", en: "Your session ended; please log in again" },

  // Header.
  "header.user": { zh: "当前用户", en: "Signed in as" },
  "header.logout": { zh: "退出", en: "Log out" },
  "header.userName": { zh: "{display}（{name}）", en: "{display} ({name})" },
  "link.label": { zh: "实时连接：", en: "Live link:" },
  "link.online": { zh: "在线", en: "Online" },
  "link.offline": { zh: "离线，正在重连…", en: "Offline, reconnecting…" },
  "link.connecting": { zh: "连接中…", en: "Connecting…" },
  "counts.title": { zh: "按最新结果统计的摊位数", en: "Stalls by latest result" },

  // Verdicts (glossary / protocols/assay labels).
  "verdict.negative": { zh: "阴性", en: "Negative" },
  "verdict.suspicious": { zh: "可疑", en: "Suspicious" },
  "verdict.positive": { zh: "阳性（疑似）", en: "Positive (suspected)" },
  "verdict.invalid": { zh: "无效", en: "Invalid" },
  "verdict.pass": { zh: "合格", en: "Pass" },
  "verdict.caution": { zh: "注意", en: "Caution" },
  "verdict.fail": { zh: "不合格", en: "Fail" },
  "verdict.na": { zh: "仅记录", en: "Recorded only" },
  "verdict.none": { zh: "未检测", en: "Not tested" },
  "verdict.unknown": { zh: "未知", en: "Unknown" },

  // Test methods (protocols/assay method identifiers).
  "method.enzyme_inhibition": { zh: "酶抑制率法", en: "Enzyme inhibition" },
  "method.gold_line": { zh: "胶体金（消线法）", en: "Colloidal gold (line)" },
  "method.gold_ratio": { zh: "胶体金（比色法）", en: "Colloidal gold (ratio)" },
  "method.atp": { zh: "ATP 荧光检测", en: "ATP bioluminescence" },
  "method.frying_oil": { zh: "煎炸油品质", en: "Frying oil quality" },
  "method.core_temperature": { zh: "中心温度", en: "Core temperature" },
  "method.hot_holding": { zh: "热藏温度", en: "Hot holding" },
  "method.cold_holding": { zh: "冷藏温度", en: "Cold holding" },
  "method.frozen": { zh: "冷冻温度", en: "Frozen storage" },
  "method.surface_temperature": { zh: "表面温度", en: "Surface temperature" },
  "method.retention": { zh: "留样", en: "Sample retention" },

  // Map features and layers.
  "kind.stall": { zh: "摊位", en: "Stall" },
  "kind.kitchen": { zh: "供餐点 / 厨房", en: "Kitchen" },
  "kind.banquet": { zh: "农村集体聚餐", en: "Rural group dining" },
  "kind.zone": { zh: "摊贩集中区", en: "Vendor zone" },
  "kind.venue": { zh: "活动场馆", en: "Venue" },
  "kind.kiosk": { zh: "快检终端", en: "Test kiosk" },
  "layer.zones": { zh: "摊贩集中区 / 场馆", en: "Vendor zones / venues" },
  "layer.stalls": { zh: "摊位 / 供餐点", en: "Stalls / kitchens" },
  "layer.kiosks": { zh: "快检终端", en: "Test kiosks" },
  "map.home": { zh: "全场", en: "Whole venue" },
  "map.homeTitle": { zh: "显示整个场馆", en: "Show the whole venue" },
  "map.noSites": {
    zh: "尚未导入摊贩集中区和摊位（POST /api/v1/zones、/api/v1/stalls）。",
    en: "No vendor zones or stalls imported yet (POST /api/v1/zones, /api/v1/stalls).",
  },

  // Stall popup and panel.
  "stall.zone": { zh: "摊贩集中区", en: "Vendor zone" },
  "stall.category": { zh: "类别", en: "Category" },
  "stall.grade": { zh: "风险等级", en: "Risk grade" },
  "stall.business": { zh: "经营主体", en: "Food business" },
  "stall.latest": { zh: "最新结果", en: "Latest result" },
  "stall.noResult": { zh: "暂无检测结果", en: "No result yet" },
  "stall.history": { zh: "查看检测记录", en: "Recent results" },
  "stall.historyTitle": { zh: "{name}的检测记录", en: "Results at {name}" },
  "stall.loading": { zh: "正在加载检测记录…", en: "Loading results…" },
  "stall.loadFailed": { zh: "无法加载检测记录：{msg}", en: "Cannot load the results: {msg}" },
  "stall.empty": { zh: "该摊位暂无检测记录", en: "No results at this stall yet" },

  // Result fields.
  "result.time": { zh: "检测时间", en: "Measured" },
  "result.item": { zh: "检测项目", en: "Test item" },
  "result.sample": { zh: "样品", en: "Sample" },
  "result.value": { zh: "检测值", en: "Value" },
  "result.verdict": { zh: "结论", en: "Verdict" },
  "result.kiosk": { zh: "快检终端", en: "Test kiosk" },
  "result.operator": { zh: "检测员", en: "Test operator" },
  "result.derived": { zh: "指挥中心复核结论与终端不一致", en: "The command centre's re-check differs from the kiosk's verdict" },

  // Side panel.
  "panel.results": { zh: "最新结果", en: "Recent results" },
  "panel.alerts": { zh: "告警", en: "Alerts" },
  "panel.kiosks": { zh: "快检终端", en: "Test kiosks" },
  "panel.stall": { zh: "摊位详情", en: "Stall" },
  "panel.noResults": { zh: "暂无检测结果", en: "No results yet" },
  "panel.noAlerts": { zh: "暂无告警", en: "No alerts" },
  "panel.noKiosks": { zh: "尚未登记快检终端", en: "No test kiosks registered" },
  "panel.pickStall": { zh: "在地图上点击摊位查看详情", en: "Click a stall on the map to see its details" },
  "panel.close": { zh: "关闭", en: "Close" },

  // Alerts and kiosks.
  "alert.acked": { zh: "已确认（{who}）", en: "Acknowledged ({who})" },
  "alert.open": { zh: "待处理", en: "Open" },
  "kiosk.online": { zh: "在线", en: "Online" },
  "kiosk.offline": { zh: "离线", en: "Offline" },
  "kiosk.pending": { zh: "待上传 {n} 条", en: "{n} waiting to upload" },
  "kiosk.lastSeen": { zh: "最后联系 {time}", en: "Last seen {time}" },
  "kiosk.never": { zh: "从未连接", en: "Never connected" },
};

/** @returns {"zh"|"en"} the current language. */
export function getLang() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    if (v === "en" || v === "zh") return v;
  } catch (_) {
    // Storage may be disabled; fall through to the default.
  }
  return "zh";
}

/** Sets and persists the language, then updates the static markup. */
export function setLang(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch (_) {
    // Not persisted; the page still switches.
  }
  applyI18n(document);
}

/** Translates key into the current language, filling {params}. */
export function t(key, params) {
  const row = table[key];
  let s = row ? row[getLang()] ?? row.zh : key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return s;
}

/** Both languages of key, zh-CN first, one per line (for messages shown before a choice matters). */
export function both(key) {
  const row = table[key];
  return row ? `${row.zh}\n${row.en}` : key;
}

/** Reports whether the table has key. */
export function has(key) {
  return key in table;
}

/** The label of a verdict identifier ("" or absent → not tested). */
export function verdictLabel(v) {
  if (!v) return t("verdict.none");
  return has(`verdict.${v}`) ? t(`verdict.${v}`) : t("verdict.unknown");
}

/** The label of a test method identifier (the identifier if unknown). */
export function methodLabel(m) {
  return has(`method.${m}`) ? t(`method.${m}`) : m || "";
}

/**
 * Picks one language out of a server message written "中文 / English"
 * (the command service's bilingual messages); other text is returned as is.
 */
export function pickBilingual(msg) {
  const i = (msg || "").indexOf(" / ");
  if (i < 0) return msg || "";
  return getLang() === "en" ? msg.slice(i + 3) : msg.slice(0, i);
}

/** The display name of a feature: name_en in English when there is one. */
export function featureName(props) {
  if (!props) return "";
  return getLang() === "en" && props.name_en ? props.name_en : props.name || "";
}

/** Formats a time for the current language (local clock, 24 h). */
export function formatTime(iso, withDate) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const locale = getLang() === "en" ? "en-GB" : "zh-CN";
  const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { month: "2-digit", day: "2-digit" });
  return d.toLocaleString(locale, opts);
}

/** Fills every data-i18n* attribute under root and the page language. */
export function applyI18n(root) {
  const lang = getLang();
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  document.title = t("app.title");
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
}
