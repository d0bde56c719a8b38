// i18n: every on-screen string of the command centre, zh-CN first, English
// second. Labels follow docs/glossary.md (摊位, 摊贩集中区, 快检终端, 指挥中心 …).
// The verdicts' labels (阴性/可疑/阳性（疑似）/无效/合格/注意/不合格) are not kept
// here: the server generates vocab.js from their one home,
// protocols/domain/assay (internal/jsvocab), and they are merged into the
// table as verdict.<id>. Add new strings here, never in the code that shows
// them.

import { formatWhen, formatClock } from "./when.js"; // served by internal/jswhen
import { verdicts } from "./vocab.js";
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

  // The emergency and duty-log page (emergency.html) and the printable report (report.html).
  "em.title": { zh: "食安 · 应急处置与驻点保障", en: "Shian · Emergencies and duty logs" },
  "em.heading": { zh: "应急处置与驻点保障", en: "Emergencies and duty logs" },
  "em.nav": { zh: "应急与日志", en: "Emergencies & logs" },
  "em.toMap": { zh: "返回地图", en: "Back to the map" },
  "em.login": { zh: "请先在指挥中心登录", en: "Log in at the command centre first" },
  "em.loginLink": { zh: "去登录", en: "Log in" },
  "em.event": { zh: "重大活动", en: "Event" },
  "em.date": { zh: "日期", en: "Date" },
  "em.noEvent": { zh: "暂无重大活动", en: "No events" },
  "em.meals": { zh: "餐次", en: "Meals" },
  "em.noMeals": { zh: "当日无餐次", en: "No meals that day" },
  "em.emergencies": { zh: "应急处置", en: "Emergencies" },
  "em.noEmergencies": { zh: "无应急处置", en: "No emergencies" },
  "em.report": { zh: "打印日报", en: "Print the daily report" },
  "em.finalReport": { zh: "总结报告", en: "End-of-event report" },
  "em.diners": { zh: "{n} 人 · {t} 桌", en: "{n} diners · {t} tables" },
  "em.gaps": { zh: "{n} 项缺项", en: "{n} gaps" },
  "em.complete": { zh: "日志完整", en: "Log complete" },
  "em.pick": { zh: "请选择一个餐次或应急处置", en: "Pick a meal or an emergency" },
  "em.morning": { zh: "晨检", en: "Morning health check" },
  "em.worker": { zh: "姓名", en: "Worker" },
  "em.post": { zh: "岗位", en: "Post" },
  "em.present": { zh: "到岗", en: "Present" },
  "em.healthy": { zh: "健康", en: "Healthy" },
  "em.hands": { zh: "手部无伤", en: "Hands OK" },
  "em.cert": { zh: "健康证明", en: "Certificate" },
  "em.fit": { zh: "合格", en: "Fit" },
  "em.unfit": { zh: "不合格", en: "Unfit" },
  "em.absent": { zh: "未到岗", en: "Absent" },
  "em.addWorker": { zh: "记录晨检", en: "Record the check" },
  "em.samples": { zh: "留样", en: "Retained samples" },
  "em.dish": { zh: "菜品", en: "Dish" },
  "em.massG": { zh: "重量（克）", en: "Mass (g)" },
  "em.fridge": { zh: "留样冰箱", en: "Fridge" },
  "em.by": { zh: "留样人", en: "Kept by" },
  "em.keepUntil": { zh: "保留至 {t}", en: "keep until {t}" },
  "em.frozen": { zh: "已封存（{id}）", en: "Frozen ({id})" },
  "em.notRetained": { zh: "未留样", en: "Not retained" },
  "em.retain": { zh: "留样", en: "Retain" },
  "em.checks": { zh: "过程检查", en: "Process checks" },
  "em.kind": { zh: "项目", en: "Check" },
  "em.tempC": { zh: "温度（°C）", en: "Temperature (°C)" },
  "em.disinfected": { zh: "已消毒", en: "Disinfected" },
  "em.method": { zh: "消毒方式", en: "Method" },
  "em.fixed": { zh: "当场整改", en: "Fixed on the spot" },
  "em.addCheck": { zh: "记录检查", en: "Record the check" },
  "em.pass": { zh: "合格", en: "Pass" },
  "em.fail": { zh: "不合格", en: "Fail" },
  "em.problems": { zh: "发现问题", en: "Problems found" },
  "em.problem": { zh: "问题", en: "Problem" },
  "em.addProblem": { zh: "记录问题", en: "Record the problem" },
  "em.none": { zh: "暂无记录", en: "Nothing recorded" },
  "em.reportIll": { zh: "报告疑似食物中毒", en: "Report suspected food poisoning" },
  "em.drill": { zh: "启动应急演练", en: "Start a drill" },
  "em.reporter": { zh: "报告人", en: "Reporter" },
  "em.phone": { zh: "电话", en: "Phone" },
  "em.symptoms": { zh: "症状", en: "Symptoms" },
  "em.onset": { zh: "发病时间", en: "Onset" },
  "em.tables": { zh: "桌号（逗号分隔）", en: "Tables (comma-separated)" },
  "em.ill": { zh: "发病人数", en: "Ill" },
  "em.severe": { zh: "重症人数", en: "Severe" },
  "em.submitReport": { zh: "提交并启动应急响应", en: "Report and activate" },
  "em.cancel": { zh: "取消", en: "Cancel" },
  "em.level": { zh: "响应级别", en: "Level" },
  "em.plan": { zh: "应急预案", en: "Plan" },
  "em.isDrill": { zh: "演练", en: "Drill" },
  "em.reportOf": { zh: "{reporter} 报告：{n} 人发病（重症 {s}），症状：{sym}；发病 {onset}", en: "{reporter} reports {n} ill ({s} severe): {sym}; onset {onset}" },
  "em.affectedTables": { zh: "涉及桌号：{t}", en: "Tables: {t}" },
  "em.steps": { zh: "预案步骤", en: "Plan steps" },
  "em.done": { zh: "完成", en: "Done" },
  "em.teamsSent": { zh: "派出的保障组", en: "Teams sent" },
  "em.sendTeam": { zh: "增派", en: "Send" },
  "em.dishes": { zh: "该餐次菜品、留样与快检结果", en: "The meal's dishes, samples and rapid tests" },
  "em.results": { zh: "快检结果", en: "Rapid tests" },
  "em.noResults": { zh: "无快检记录", en: "No rapid test" },
  "em.otherResults": { zh: "该餐次其他快检", en: "Other tests of the meal" },
  "em.staff": { zh: "当班从业人员", en: "Kitchen staff on duty" },
  "em.timeline": { zh: "处置时间线", en: "Timeline" },
  "em.close": { zh: "结束应急响应", en: "Close the emergency" },
  "em.cause": { zh: "结论", en: "Conclusion" },
  "em.conclusionText": { zh: "结论说明", en: "Conclusion in words" },
  "em.closed": { zh: "已结案：{cause}——{text}", en: "Closed: {cause} — {text}" },
  "em.note": { zh: "情况记录", en: "Note" },
  "em.addNote": { zh: "记录", en: "Add" },
  "em.failed": { zh: "操作未成功：{msg}", en: "Not done: {msg}" },
  "em.system": { zh: "系统", en: "System" },
  "rep.title": { zh: "食安 · 保障报告", en: "Shian · Assurance report" },
  "rep.print": { zh: "打印", en: "Print" },
  "rep.period": { zh: "报告期间：{p}", en: "Period: {p}" },
  "rep.eventDays": { zh: "活动日期：{a} 至 {b}", en: "Event: {a} to {b}" },
  "rep.organiser": { zh: "主办单位：{o}", en: "Organiser: {o}" },
  "rep.generated": { zh: "生成时间：{t}", en: "Generated: {t}" },
  "rep.signOff": { zh: "签字", en: "Signatures" },
  "rep.failed": { zh: "报告生成失败：{msg}", en: "The report failed: {msg}" },
  "rep.xlsx": { zh: "下载电子表格", en: "Download Excel" },

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
  "login.throttled": { zh: "此地址登录失败次数过多，请 {s} 秒后再试", en: "Too many failed logins from this address; try again in {s} s" },
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
  "counts.label": { zh: "摊位（按最新结果）", en: "Stalls (latest result)" },

  // Verdicts: verdict.<id> comes from vocab.js (below); these two are the page's own.
  "verdict.none": { zh: "未检测", en: "Not tested" },
  "verdict.unknown": { zh: "未知", en: "Unknown" },

  // Test methods (protocols/domain/assay method identifiers).
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
  "layer.stalls": { zh: "摊位", en: "Stalls" },
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
  "result.rulesOutdated": {
    zh: "终端按已更新的旧版规则书（第{v}版）判定，已按检测时现行的规则书复核",
    en: "The kiosk decided with an outdated rule book (version {v}); re-checked with the book in force when it was measured",
  },
  "result.rulesUnknown": { zh: "终端所用规则书（第{v}版）不是指挥中心发布的，已按现行规则书复核", en: "The kiosk named a rule book (version {v}) the command never issued; re-checked with the book in force" },
  "result.lotExpired": { zh: "试剂/检测卡批号 {lot} 检测时已过期", en: "Kit lot {lot} had expired when the test was made" },

  // Side panel.
  "panel.results": { zh: "最新结果", en: "Recent results" },
  "panel.alerts": { zh: "告警", en: "Alerts" },
  "panel.kiosks": { zh: "快检终端", en: "Test kiosks" },
  "panel.stall": { zh: "详情", en: "Details" },
  "panel.noResults": { zh: "暂无检测结果", en: "No results yet" },
  "panel.noAlerts": { zh: "暂无告警", en: "No alerts" },
  "panel.noKiosks": { zh: "尚未登记快检终端", en: "No test kiosks registered" },
  "panel.pickStall": { zh: "在地图上点击摊位查看详情", en: "Click a stall on the map to see its details" },
  "panel.close": { zh: "关闭", en: "Close" },

  // Alerts and kiosks.
  "alert.acked": { zh: "已确认（{who} {time}）", en: "Acknowledged ({who} {time})" },
  "alert.open": { zh: "待处理", en: "Open" },
  "kiosk.online": { zh: "在线", en: "Online" },
  "kiosk.offline": { zh: "离线", en: "Offline" },
  "kiosk.pending": { zh: "待上传 {n} 条", en: "{n} waiting to upload" },
  "kiosk.lastSeen": { zh: "最后联系 {time}", en: "Last seen {time}" },
  "kiosk.never": { zh: "从未连接", en: "Never connected" },

  // Sound (autoplay: the first click enables it).
  "sound.locked": { zh: "提示音未开启：点击页面", en: "Sound off: click the page" },
  "sound.lockedTitle": { zh: "浏览器要求先点击页面才能播放声音；点击任意处即开启", en: "The browser plays sound only after a click; click anywhere to enable it" },
  "sound.on": { zh: "提示音已开启", en: "Sound on" },
  "sound.onTitle": { zh: "阳性（疑似）和新告警会响铃；点击静音", en: "Positives and new alerts ring; click to mute" },
  "sound.muted": { zh: "已静音", en: "Muted" },
  "sound.mutedTitle": { zh: "点击恢复提示音", en: "Click to turn the sound back on" },

  // Base maps and coordinate systems.
  "base.plan": { zh: "场馆平面图（离线）", en: "Venue plan (offline)" },
  "base.tiles": { zh: "街道地图", en: "Street map" },
  "datum.wgs84": { zh: "WGS-84", en: "WGS-84" },
  "datum.gcj02": { zh: "GCJ-02 高德/腾讯", en: "GCJ-02 AMap/Tencent" },
  "datum.bd09": { zh: "BD-09 百度", en: "BD-09 Baidu" },
  "layer.kitchens": { zh: "供餐点（保障准备）", en: "Kitchens (readiness)" },
  "layer.banquets": { zh: "农村集体聚餐", en: "Rural group dining" },
  "layer.teams": { zh: "保障组", en: "Assurance teams" },
  "layer.incidents": { zh: "风险处置事件", en: "Incidents" },
  "map.kitchenGlyph": { zh: "厨", en: "K" },
  "map.banquetGlyph": { zh: "宴", en: "Bq" },
  "layer.toggle": { zh: "图层", en: "Layers" },
  "layer.open": { zh: "显示图层列表", en: "Show the layer list" },
  "layer.close": { zh: "收起图层列表", en: "Hide the layer list" },
  "kind.team": { zh: "保障组", en: "Assurance team" },
  "kind.incident": { zh: "风险处置事件", en: "Incident" },

  // KPIs at a glance.
  "kpi.tests": { zh: "检测次数", en: "Tests" },
  "kpi.testsTitle": { zh: "有结论的快检次数（无效结果重做，不计入；同一样品的复测不另计）；下方为已检摊位数", en: "Rapid tests with a conclusion (invalid ones are redone and not counted; a repeat of the same sample is not another test); below, the stalls tested" },
  "kpi.stalls": { zh: "已检摊位 {n} 个", en: "{n} stalls tested" },
  "kpi.targetRate": { zh: "目标 ≥ {v}", en: "target ≥ {v}" },
  "kpi.targetTime": { zh: "目标 ≤ {v}", en: "target ≤ {v}" },
  "kpi.status.good": { zh: "达到目标", en: "On target" },
  "kpi.status.near": { zh: "接近目标", en: "Near the target" },
  "kpi.status.bad": { zh: "未达目标", en: "Below the target" },
  "kpi.detection": { zh: "疑似阳性检出率", en: "Detection rate" },
  "kpi.detectionTitle": { zh: "阳性（疑似）÷ 检测次数", en: "Suspected positives ÷ tests" },
  "kpi.disposal": { zh: "无害化处置率", en: "Disposal rate" },
  "kpi.disposalTitle": { zh: "已处置并销号的阳性 ÷ 阳性（实验室排除的不计）", en: "Positives disposed and signed off ÷ positives (lab-cleared ones excluded)" },
  "kpi.arrive": { zh: "到场用时", en: "Time to arrive" },
  "kpi.arriveTitle": { zh: "从预警到到场的中位时间", en: "Median time from warning to on site" },
  "kpi.close": { zh: "闭环用时", en: "Time to close" },
  "kpi.closeTitle": { zh: "从预警到关闭的中位时间", en: "Median time from warning to closed" },
  "kpi.readiness": { zh: "保障准备", en: "Readiness" },
  "kpi.readinessTitle": { zh: "已完成的准备清单项 ÷ 全部清单项", en: "Checklist items done ÷ all items" },
  "kpi.incidents": { zh: "处置事件", en: "Incidents" },
  "kpi.incidentsTitle": { zh: "已立风险处置事件数", en: "Incidents opened" },
  "kpi.n": { zh: "{n} 起", en: "n = {n}" },
  "kpi.tiers": { zh: "四位一体", en: "By tier" },
  "kpi.tiersTitle": { zh: "各检测层级的检测次数和疑似阳性检出率；合计即左侧数字", en: "Tests and detection rate of each testing tier; together they are the figures on the left" },
  "tier.wholesale_market": { zh: "批发市场", en: "Wholesale" },
  "tier.market_self_test": { zh: "农贸自检", en: "Market self-test" },
  "tier.regulator_rapid": { zh: "监管快检", en: "Regulators" },
  "tier.statutory_lab": { zh: "实验室", en: "Lab" },
  "unit.seconds": { zh: "{n} 秒", en: "{n} s" },
  "unit.minutes": { zh: "{n} 分钟", en: "{n} min" },
  "unit.hours": { zh: "{n} 小时", en: "{n} h" },
  "unit.days": { zh: "{n} 天", en: "{n} d" },
  "unit.metres": { zh: "{n} 米", en: "{n} m" },
  "unit.km": { zh: "{n} 公里", en: "{n} km" },

  // Filters.
  "filter.toggle": { zh: "筛选", en: "Filters" },
  "filter.toggleN": { zh: "筛选（{n}）", en: "Filters ({n})" },
  "filter.clear": { zh: "清除筛选", en: "Clear filters" },
  "filter.event": { zh: "重大活动", en: "Major event" },
  "filter.zone": { zh: "摊贩集中区", en: "Vendor zone" },
  "filter.verdict": { zh: "最新结论", en: "Latest verdict" },
  "filter.analyte": { zh: "检测项目", en: "Analyte" },
  "filter.time": { zh: "检测时间", en: "Tested" },
  "filter.all.event": { zh: "全部活动", en: "All events" },
  "filter.all.zone": { zh: "全部区域", en: "All zones" },
  "filter.all.verdict": { zh: "全部结论", en: "All verdicts" },
  "filter.all.analyte": { zh: "全部项目", en: "All analytes" },
  "filter.all.time": { zh: "不限时间", en: "Any time" },
  "filter.time.1h": { zh: "近 1 小时", en: "Last hour" },
  "filter.time.4h": { zh: "近 4 小时", en: "Last 4 hours" },
  "filter.time.24h": { zh: "近 24 小时", en: "Last 24 hours" },
  "filter.time.today": { zh: "今天", en: "Today" },
  "analyte.organophosphate_carbamate": { zh: "有机磷和氨基甲酸酯类农药", en: "Organophosphates and carbamates" },

  // Side panel: incidents and the inspector's tasks.
  "panel.incidents": { zh: "处置事件", en: "Incidents" },
  "panel.tasks": { zh: "我的任务", en: "My tasks" },
  "panel.detail": { zh: "详情", en: "Details" },
  "panel.noIncidents": { zh: "暂无风险处置事件", en: "No incidents" },
  "panel.noTasks": { zh: "本组暂无待办事件", en: "Nothing assigned to your team" },
  "panel.noResultsFiltered": { zh: "没有符合筛选条件的结果", en: "No results match the filters" },

  // Alerts.
  "alert.ack": { zh: "确认", en: "Acknowledge" },
  "alert.ackFailed": { zh: "确认失败：{msg}", en: "Could not acknowledge: {msg}" },
  "alert.openIncident": { zh: "查看事件", en: "Open incident" },
  "alert.locate": { zh: "定位", en: "Show on map" },
  "alertCode.incident_warned": { zh: "风险预警", en: "Warning" },
  "alertCode.incident_overdue": { zh: "超期升级", en: "Overdue" },
  "alertCode.no_team_available": { zh: "无可派保障组", en: "No team free" },
  "alertCode.cluster_warning": { zh: "聚集性预警", en: "Cluster warning" },

  // Sites: kitchens, banquets, labels.
  "stall.incidents": { zh: "风险处置事件", en: "Incidents" },
  "stall.openIncident": { zh: "事件 {id} · {state} ›", en: "Incident {id} · {state} ›" },
  "stall.qr": { zh: "打印二维码标签", en: "Print QR label" },
  "stall.qrZone": { zh: "打印本区全部标签", en: "Print the zone's labels" },
  "kitchen.readiness": { zh: "保障准备 {done}/{total} 项", en: "Readiness {done}/{total} items" },
  "kitchen.noReadiness": { zh: "未纳入重大活动保障", en: "Not part of an event" },
  "banquet.state": { zh: "聚餐状态", en: "State" },
  "banquet.host": { zh: "办宴者", en: "Host" },
  "banquet.place": { zh: "地点", en: "Place" },
  "banquet.headcount": { zh: "就餐人数", en: "Diners" },
  "banquet.window": { zh: "就餐时间", en: "Sittings" },
  "banquet.guidance": { zh: "现场指导", en: "On-site guidance" },
  "banquet.guidanceRequired": { zh: "须现场指导", en: "Required" },

  // One incident.
  "incident.loading": { zh: "正在加载事件…", en: "Loading the incident…" },
  "incident.loadFailed": { zh: "无法加载事件：{msg}", en: "Cannot load the incident: {msg}" },
  "incident.locate": { zh: "在地图上定位", en: "Show on map" },
  "incident.trigger": { zh: "起因", en: "Trigger" },
  "incident.subject": { zh: "对象", en: "Where" },
  "incident.item": { zh: "样品 / 项目", en: "Sample / item" },
  "incident.observed": { zh: "发现时间", en: "Observed" },
  "incident.team": { zh: "保障组", en: "Team" },
  "incident.noTeam": { zh: "未交办", en: "Not assigned" },
  "incident.due": { zh: "时限", en: "Due" },
  "incident.dueIn": { zh: "{time} 前（剩 {left}）", en: "by {time} ({left} left)" },
  "incident.overdue": { zh: "已超期 {over}（{time}）", en: "overdue by {over} ({time})" },
  "incident.dueShort": { zh: "{time} 前", en: "by {time}" },
  "incident.overdueShort": { zh: "超期 · {time}", en: "overdue · {time}" },
  "incident.controls": { zh: "控制措施", en: "Controls" },
  "incident.lab": { zh: "送检", en: "Laboratory" },
  "incident.retest": { zh: "复检", en: "Re-test" },
  "incident.retestRequested": { zh: "{party} 于 {time} 申请复检", en: "requested by {party} at {time}" },
  "incident.retestWaived": { zh: "当事人已书面放弃复检", en: "waived in writing by the party" },
  "incident.dispatches": { zh: "派员记录", en: "Dispatches" },
  "incident.auto": { zh: "系统自动派最近保障组", en: "nearest team, automatic" },
  "incident.evidence": { zh: "证据材料", en: "Evidence" },
  "incident.evidenceCount": { zh: "附证据 {n} 份", en: "{n} evidence file(s)" },
  "incident.history": { zh: "处置记录", en: "History" },
  "complaint.title": { zh: "公众投诉举报", en: "Complaint from the public" },
  "complaint.whistleblower": { zh: "匿名举报（吹哨人）", en: "Anonymous (whistleblower)" },
  "complaint.photos": { zh: "照片 {n} 张", en: "{n} photo(s)" },
  "complaint.replyDue": { zh: "答复期限", en: "Reply due" },
  "complaint.reply": { zh: "给投诉人的答复", en: "Reply to the complainant" },
  "complaint.replied": { zh: "已答复（{who}，{time}）", en: "Replied ({who}, {time})" },
  "complaint.send": { zh: "发送答复", en: "Send the reply" },
  "complaint.sent": { zh: "答复已发送，投诉人凭查询码可见", en: "Reply sent; the complainant sees it with their code" },
  "complaint.placeholder": { zh: "核查结果与处理情况（投诉人可见）", en: "What was found and done (the complainant sees this)" },
  "incident.next": { zh: "下一步", en: "Next step" },
  "incident.noSteps": { zh: "当前没有您可执行的步骤", en: "No step you can take now" },
  "incident.viewOnly": { zh: "只读用户不能处置事件", en: "Viewers cannot act on incidents" },
  "incident.noPosition": { zh: "该事件没有地图位置，无法计算距离", en: "The incident has no position; distances cannot be computed" },
  "incident.moved": { zh: "已更新为「{state}」", en: "Now {state}" },
  "incident.waived": { zh: "已记录当事人放弃复检", en: "Re-test waiver recorded" },
  "id.photo": { zh: "照片", en: "Photo" },
  "id.lab_report": { zh: "检验报告", en: "Lab report" },
  "id.signature": { zh: "签字声明", en: "Signed statement" },
  "id.disposal_record": { zh: "处置记录", en: "Disposal record" },
  "audit.opened": { zh: "立案预警", en: "Opened" },
  "audit.retest_requested": { zh: "申请复检", en: "Re-test requested" },
  "audit.retest_waived": { zh: "放弃复检", en: "Re-test waived" },

  // Steps (buttons) and their forms.
  "step.assigned": { zh: "交办保障组", en: "Assign a team" },
  "step.reassign": { zh: "改派", en: "Reassign" },
  "step.on_site": { zh: "确认到场", en: "On site" },
  "step.controlled": { zh: "封存 / 停售", en: "Seal / stop sale" },
  "step.lab_sent": { zh: "送检", en: "Send to lab" },
  "step.confirmed_positive": { zh: "确证阳性", en: "Lab confirmed" },
  "step.cleared": { zh: "排除", en: "Cleared" },
  "step.disposed": { zh: "无害化处置", en: "Harmless disposal" },
  "step.signed_off": { zh: "销号", en: "Sign off" },
  "step.closed": { zh: "关闭", en: "Close" },
  "step.waiver": { zh: "当事人放弃复检", en: "Party waives re-test" },
  "form.note": { zh: "备注", en: "Note" },
  "form.noteRequired": { zh: "现场情况（必填）", en: "What was found (required)" },
  "form.notePlaceholder.assigned": { zh: "交办说明", en: "Instructions" },
  "form.notePlaceholder.on_site": { zh: "到场情况", en: "On arrival" },
  "form.notePlaceholder.controlled": { zh: "封存批次、数量", en: "Batch and quantity sealed" },
  "form.notePlaceholder.lab_sent": { zh: "送检说明", en: "Notes for the lab" },
  "form.notePlaceholder.confirmed_positive": { zh: "检验结论", en: "The lab's conclusion" },
  "form.notePlaceholder.cleared": { zh: "复测结果、核查情况", en: "Repeat test, what was checked" },
  "form.notePlaceholder.disposed": { zh: "处置方式、数量", en: "How and how much was disposed" },
  "form.notePlaceholder.signed_off": { zh: "销号意见", en: "Sign-off remarks" },
  "form.notePlaceholder.closed": { zh: "关闭说明", en: "Closing remarks" },
  "form.notePlaceholder.waiver": { zh: "当事人陈述", en: "The party's statement" },
  "form.file.lab_report": { zh: "检验报告（照片或 PDF，必填）", en: "Lab report (photo or PDF, required)" },
  "form.file.photo": { zh: "处置照片或记录（必填）", en: "Disposal photo or record (required)" },
  "form.file.signature": { zh: "当事人签字的放弃复检声明（必填）", en: "The party's signed waiver (required)" },
  "form.controls": { zh: "控制措施", en: "Control measures" },
  "form.lab": { zh: "检验机构", en: "Laboratory" },
  "form.labPlaceholder": { zh: "如：南通市食品药品监督检验中心", en: "e.g. Nantong Food and Drug Inspection Centre" },
  "form.sampleId": { zh: "封存样品编号", en: "Sealed sample number" },
  "form.method": { zh: "检验方法（实验室法定方法）", en: "Method (statutory laboratory method)" },
  "form.party": { zh: "当事人", en: "Party" },
  "form.busy": { zh: "正在提交…", en: "Submitting…" },
  "form.cancel": { zh: "取消", en: "Cancel" },
  "form.nearestLoading": { zh: "正在计算各保障组距离…", en: "Measuring the teams' distances…" },
  "form.assignNearest": { zh: "交办最近的可派保障组：{team}（{dist}）", en: "Assign the nearest available team: {team} ({dist})" },
  "form.assignThis": { zh: "交办", en: "Assign" },
  "form.noneAvailable": { zh: "暂无可派保障组：可从下列保障组中指定", en: "No team is free: pick one below" },

  // Printable QR labels (labels.html).
  "labels.title": { zh: "摊位 / 供餐点二维码标签", en: "QR labels for stalls and kitchens" },
  "labels.hint": { zh: "用 A4 纸打印（每页 3 × 7 张）；贴在摊位醒目处。快检终端扫码即选中该摊位，手机扫码可在地图上打开。", en: "Print on A4 (3 × 7 per page) and stick where it is easy to scan. A kiosk's scanner picks the stall; a phone opens it on the map." },
  "labels.print": { zh: "打印", en: "Print" },
  "labels.summary": { zh: "{zone}：共 {n} 张", en: "{zone}: {n} labels" },
  "labels.allZones": { zh: "全部区域", en: "All zones" },
  "labels.login": { zh: "请先在指挥中心登录，再打开本页", en: "Log in to the command centre first, then open this page" },
  "labels.failed": { zh: "无法加载标签：{msg}", en: "Cannot load the labels: {msg}" },
  "labels.unscannable": { zh: "编号含快检终端不识别的字符", en: "The id has characters a kiosk cannot scan" },

  // API refusals.
  "err.illegal": { zh: "不能从「{from}」转为「{to}」。当前允许：{allowed}。可能已有他人处理，已刷新为最新状态。", en: "Cannot go from {from} to {to}. Allowed now: {allowed}. Someone may have moved it first; the incident was refreshed." },
  "err.nothing": { zh: "无（已是最终状态）", en: "nothing (final state)" },
  "err.precondition": { zh: "条件尚未满足", en: "A rule of the protocol is not met yet" },
  "err.forbidden": { zh: "您的角色或所在保障组无权执行此步骤", en: "Your role or team may not take this step" },
  "err.invalid": { zh: "填写有误：{field}", en: "Please correct: {field}" },
  "err.tooLarge": { zh: "文件太大，请压缩照片后再上传", en: "The file is too large; send a smaller photo" },
  "err.network": { zh: "网络中断，请稍后重试", en: "Network error; try again" },
  "err.generic": { zh: "操作失败（{status}）", en: "The step failed ({status})" },
  "rule.evidence_required": { zh: "缺少证据材料：请上传照片、处置记录或检验报告", en: "Evidence is required: upload a photo, disposal record or lab report" },
  "rule.retest_window_open": { zh: "复检申请期（4 小时）未过：期满后再处置，或先登记当事人书面放弃复检", en: "The 4-hour re-test window is still open: dispose after it, or record the party's written waiver first" },
  "rule.retest_pending": { zh: "当事人已申请复检：须送实验室检验，确证阳性后再处置", en: "The party requested a re-test: send to the lab and dispose only after a confirmed positive" },
  "rule.lab_confirmation_required": { zh: "按配置，阳性须经实验室确证后才能处置", en: "Configuration requires a laboratory confirmation before disposal" },
  "rule.positive_needs_lab": { zh: "快检阳性只能由实验室检验排除：请先送检", en: "Only a laboratory can clear a rapid-test positive: send it to the lab" },
  "rule.note_required": { zh: "请在备注中写明现场核查情况", en: "Say in the note what the on-site check found" },
  "rule.separate_sign_off": { zh: "销号须由另一名指挥员执行（不能由记录上一步的人销号）", en: "Another commander must sign off (not the user who recorded the previous step)" },
  "rule.lab_method_not_rapid": { zh: "送检须采用实验室法定检验方法，不得用快检方法", en: "The lab must use a statutory laboratory method, not a rapid one" },
  "rule.no_team_available": { zh: "没有可自动派出的保障组，请指定一个保障组", en: "No team can be sent automatically; name one" },
};
for (const [id, label] of Object.entries(verdicts)) table[`verdict.${id}`] = label;

/**
 * Adds a screen's own strings to the table (each screen module keeps its
 * strings beside its code and calls this once at load). A key already in
 * the table is a mistake: it throws, so two screens cannot fight over one.
 */
export function addStrings(rows) {
  for (const [k, v] of Object.entries(rows)) {
    if (k in table) throw new Error(`i18n: ${k} is defined twice`);
    table[k] = v;
  }
}

/** Every string of the table ({key: {zh, en}}), for the words test. */
export function allStrings() {
  return { ...table };
}

/** The protocol's labels the page knows (from ui-config), for the words test. */
export function allServerLabels() {
  return { ...serverLabels };
}

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
  const s = msg || "";
  // The first "/ " followed by a Latin letter after some Chinese text
  // (so "封存/停售" and "GB/T 5009" are not split; "…）/ incident" is).
  const m = /[\u3400-\u9fff\uff00-\uffef][^]*?\s?\/ (?=[A-Za-z(])/u.exec(s);
  if (!m) return s;
  const cut = m.index + m[0].length;
  const zh = s.slice(0, cut).replace(/\s?\/ $/, "");
  return getLang() === "en" ? s.slice(cut) : zh;
}

/** The display name of a feature: name_en in English when there is one. */
export function featureName(props) {
  if (!props) return "";
  return getLang() === "en" && props.name_en ? props.name_en : props.name || "";
}

/**
 * An instant on the event's clock (when.js, Beijing time whatever the
 * browser's zone): "YYYY-MM-DD HH:mm" with withDate, else "HH:mm" for
 * today and the full form for another day.
 */
export function formatTime(iso, withDate) {
  if (!iso) return "";
  return (withDate ? formatWhen(iso) : formatClock(iso)) || String(iso);
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

// --- the protocol's labels, served by GET /api/v1/ui-config ---

let serverLabels = {};

/** Sets the label table of the protocol's identifiers ({id: {zh, en}}). */
export function setServerLabels(table) {
  serverLabels = table || {};
}

/**
 * The label of a protocol identifier (an incident state, a trigger, a
 * role, a control measure, a team status …): the page's own table first,
 * then the protocol's (protocols/domain/assurance labels.go), else the id.
 */
export function label(id) {
  if (!id) return "";
  if (has(`id.${id}`)) return t(`id.${id}`);
  const l = serverLabels[id];
  if (l) return getLang() === "en" ? l.en : l.zh;
  return id;
}

/** The label of an analyte identifier. */
export function analyteLabel(a) {
  return has(`analyte.${a}`) ? t(`analyte.${a}`) : a;
}

/** A measure.Percent (millionths: 10000 = 1 %) as "8.1 %". */
export function formatPercent(p) {
  const v = p / 10000;
  return `${v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)} %`;
}

/** A duration in milliseconds as "12 分" / "12 min", "3.5 小时" / "3.5 h". */
export function formatDuration(ms) {
  const min = ms / 60000;
  if (min < 1) return t("unit.seconds", { n: Math.max(0, Math.round(ms / 1000)) });
  if (min < 90) return t("unit.minutes", { n: Math.round(min) });
  const h = min / 60;
  if (h < 48) return t("unit.hours", { n: h.toFixed(1) });
  return t("unit.days", { n: (h / 24).toFixed(1) });
}

/** Metres as "320 米" / "320 m", "1.2 公里" / "1.2 km". */
export function formatDistance(m) {
  if (m === undefined || m === null) return "";
  return m < 1000 ? t("unit.metres", { n: Math.round(m) }) : t("unit.km", { n: (m / 1000).toFixed(1) });
}
