// i18n: every on-screen string of the kiosk screen, zh-CN first, English
// second, in this one table. Labels follow docs/glossary.md: 摊位, 快检终端,
// 指挥中心, 封存, 复测 (a repeat of the same rapid test) and 复检 (the party's
// statutory re-test, never by a rapid method) …, and kiosk/device (instrument
// states). The verdicts' labels are not kept here: the kiosk generates
// vocab.js from their one home, protocols/domain/assay (internal/jsvocab),
// and they are merged into the table as verdict.<id>. Add new strings here,
// never in the code that shows them.

import { verdicts } from "./vocab.js";
//
// Markup names its string with data-i18n="key" (text content),
// data-i18n-placeholder or data-i18n-aria-label; applyI18n() fills them.
// Code calls t("key", {param: value}).

const STORAGE_KEY = "shian.kiosk.lang";

/** The string table: key → {zh, en}. "{name}" is replaced by params.name. */
export const table = {
  "app.title": { zh: "食安 · 快检终端", en: "Shian · Test kiosk" },
  "app.brand": { zh: "食安", en: "Shian" },
  "app.kiosk": { zh: "快检终端", en: "Test kiosk" },
  "app.connecting": { zh: "正在连接本机服务…", en: "Connecting to the kiosk…" },
  "app.lost": {
    zh: "与本机快检服务的连接中断，正在重连…（结果仍保存在本机）",
    en: "Lost the connection to the kiosk service; reconnecting… (results stay on the kiosk)",
  },

  // Language toggle: the label names the language it switches TO.
  "lang.switch": { zh: "English", en: "中文" },
  "lang.switchAria": { zh: "切换到英文", en: "Switch to Chinese" },

  // Status bar (always visible).
  "status.online": { zh: "在线", en: "Online" },
  "status.offline": { zh: "离线", en: "Offline" },
  "status.linkURL": { zh: "指挥中心地址：{url}", en: "Command URL: {url}" },
  "status.pending": { zh: "待上传 {n}", en: "To send {n}" },
  "status.rejected": { zh: "被拒收 {n}", en: "Refused {n}" },
  "status.lastSync": { zh: "上次同步 {time}", en: "Synced {time}" },
  "status.neverSynced": { zh: "尚未同步", en: "Never synced" },
  "status.storageOk": { zh: "存储正常", en: "Storage OK" },
  "status.storageBad": { zh: "存储故障", en: "Storage FAILED" },
  "status.rules": { zh: "规则书 第{v}版", en: "Rule book v{v}" },
  "status.rulesBuiltin": { zh: "内置默认规则", en: "Built-in rules" },
  "status.rulesBuiltinNote": {
    zh: "尚未收到指挥中心的规则书，按本机内置默认规则判定；联网后自动更新",
    en: "No rule book from the command yet: deciding with this kiosk's built-in rules until it connects",
  },
  "status.rulesNote": { zh: "规则书第{v}版，{time} 发布", en: "Rule book version {v}, issued {time}" },
  "status.offlineNote": { zh: "结果保存在本机，联网后自动上传", en: "Results are kept here and upload when the network is back" },

  // Steps.
  "step.stall": { zh: "① 摊位", en: "① Stall" },
  "step.sample": { zh: "② 样品", en: "② Sample" },
  "step.test": { zh: "③ 检测", en: "③ Test" },
  "step.history": { zh: "检测记录", en: "History" },
  "step.none": { zh: "未选择", en: "Not chosen" },

  // Stall.
  "stall.scan": { zh: "请扫描摊位二维码，或在下方选择摊位", en: "Scan the stall's QR code, or pick below" },
  "stall.filter": { zh: "搜索摊位编号、名称或类别", en: "Search stall id, name or category" },
  "stall.noMatch": { zh: "没有相符的摊位，请换个词或扫码", en: "No stall matches: try another word, or scan" },
  "stall.recent": { zh: "最近检测", en: "Recently tested" },
  "stall.all": { zh: "全部摊位", en: "All stalls" },
  "stall.empty": { zh: "没有摊位：请扫码，或请管理员在终端配置的摊位列表中添加", en: "No stalls: scan a code, or list them under stalls in kiosk.yaml" },
  "stall.scanned": { zh: "已扫描：{id}", en: "Scanned: {id}" },
  "stall.unlisted": { zh: "{id}（不在本机摊位列表）", en: "{id} (not in this kiosk's list)" },
  "scan.bad": { zh: "无法识别的二维码：{code}", en: "Unrecognised code: {code}" },
  "scan.busy": { zh: "检测进行中，结果出来后再扫码", en: "A test is running; scan again after its result" },

  // Sample.
  "sample.name": { zh: "样品名称", en: "Sample name" },
  "sample.namePh": { zh: "点选上方或输入", en: "Tap above or type" },
  "sample.forCat": { zh: "适合{cat}摊位的样品", en: "Samples for a {cat} stall" },
  "sample.category": { zh: "样品种类", en: "Category" },
  "sample.batch": { zh: "批次", en: "Batch" },
  "sample.batchPh": { zh: "批号或进货日期（可不填）", en: "Lot or delivery (optional)" },
  "sample.supplier": { zh: "供应商", en: "Supplier" },
  "sample.supplierPh": { zh: "供货单位（可不填）", en: "Supplier (optional)" },
  "sample.next": { zh: "下一步：选择检测", en: "Next: the test" },
  "cat.vegetable": { zh: "蔬菜", en: "Vegetables" },
  "cat.fruit": { zh: "水果", en: "Fruit" },
  "cat.meat": { zh: "畜禽肉", en: "Meat" },
  "cat.aquatic": { zh: "水产品", en: "Aquatic" },
  "cat.soy": { zh: "豆制品", en: "Soy" },
  "cat.drink": { zh: "饮品", en: "Drinks" },
  "cat.other": { zh: "其他", en: "Other" },

  // Test.
  "test.instruments": { zh: "检测仪器", en: "Instruments" },
  "test.item": { zh: "检测项目", en: "Test item" },
  "test.start": { zh: "开始检测", en: "Start test" },
  "test.needStall": { zh: "请先选择摊位", en: "Choose the stall first" },
  "test.needSample": { zh: "请先填写样品名称", en: "Enter the sample name first" },
  "test.needDevice": { zh: "请选择检测仪器", en: "Choose an instrument" },
  "test.deviceDown": { zh: "仪器故障，无法检测", en: "The instrument is down" },
  "test.noInstruments": { zh: "本机未配置检测仪器，请管理员在终端配置的仪器列表中添加", en: "No instruments configured (devices in kiosk.yaml)" },
  "test.pressStartHint": { zh: "在仪器上按 START 键启动", en: "Started with START on the instrument" },
  "test.triggerHint": { zh: "由本机启动读取", en: "Started by the kiosk" },
  "test.needLot": { zh: "请选择试剂/检测卡批号", en: "Choose the kit lot" },
  "test.needLotId": { zh: "请填写包装盒上的批号", en: "Enter the lot number on the box" },
  "test.needLotExpiry": { zh: "请填写该批号的有效期", en: "Enter the lot's expiry date" },

  // Kit lots (试剂/检测卡批号).
  "lot.title": { zh: "试剂/检测卡批号", en: "Kit lot" },
  "lot.scanHint": { zh: "（可扫描包装盒条码）", en: "(scan the box's barcode)" },
  "lot.none": { zh: "不记录批号", en: "No lot" },
  "lot.other": { zh: "其他批号…", en: "Other lot…" },
  "lot.id": { zh: "批号", en: "Lot number" },
  "lot.idPh": { zh: "包装盒上的批号", en: "Lot number on the box" },
  "lot.expires": { zh: "有效期至", en: "Use by" },
  "lot.until": { zh: "至 {date}", en: "to {date}" },
  "lot.expired": { zh: "已过期 {date}", en: "expired {date}" },
  "lot.scanned": { zh: "已扫描批号 {lot}（有效期至 {date}）", en: "Scanned lot {lot} (use by {date})" },
  "lot.scannedNoDate": { zh: "已扫描批号 {lot}，请填写有效期", en: "Scanned lot {lot}: enter its expiry date" },

  // Instrument states (kiosk/device State.Label).
  "inst.ready": { zh: "就绪", en: "Ready" },
  "inst.measuring": { zh: "检测中", en: "Measuring" },
  "inst.down": { zh: "故障", en: "Down" },
  "inst.unknown": { zh: "连接中", en: "Connecting" },

  // Waiting.
  "wait.pressStart": { zh: "请在仪器上按 START 键", en: "Press START on the instrument" },
  "wait.triggered": { zh: "仪器已启动，正在读取…", en: "The instrument is reading…" },
  "wait.measuring": { zh: "仪器检测中，请稍候…", en: "The instrument is measuring; please wait…" },
  "wait.for": { zh: "等待仪器结果", en: "Waiting for the instrument" },
  "wait.elapsed": { zh: "已等待 {t}", en: "Waiting for {t}" },
  "wait.down": { zh: "仪器故障：{err}", en: "Instrument down: {err}" },
  "wait.repeat": { zh: "复测", en: "Repeat" },
  "wait.cancel": { zh: "取消", en: "Cancel" },

  // Verdicts (glossary / protocols/domain/assay labels).

  // Main figure by unit.
  "main.%": { zh: "抑制率", en: "Inhibition rate" },
  "main.T/C": { zh: "T/C 比值", en: "T/C ratio" },
  "main.T": { zh: "T 线强度", en: "T-line intensity" },
  "main.RLU": { zh: "荧光值", en: "Light units" },
  "main.°C": { zh: "温度", en: "Temperature" },
  "main.other": { zh: "测定值", en: "Value" },

  // Raw values.
  "raw.title": { zh: "原始数据", en: "Raw values" },
  "raw.control_delta_a": { zh: "对照 ΔA0", en: "Control ΔA0" },
  "raw.sample_delta_a": { zh: "样品 ΔAt", en: "Sample ΔAt" },
  "raw.inhibition_rate": { zh: "抑制率", en: "Inhibition rate" },
  "raw.c": { zh: "C 线（质控线）", en: "C line (control)" },
  "raw.t": { zh: "T 线（检测线）", en: "T line (test)" },
  "raw.tc": { zh: "T/C", en: "T/C" },
  "raw.rlu": { zh: "ATP 荧光值", en: "ATP light units" },
  "raw.tpc": { zh: "极性组分", en: "Polar compounds" },
  "raw.acid_value": { zh: "酸价", en: "Acid value" },
  "raw.core_temp": { zh: "中心温度", en: "Core temperature" },
  "raw.surface_temp": { zh: "表面温度", en: "Surface temperature" },
  "raw.air_temp": { zh: "环境温度", en: "Air temperature" },
  "raw.humidity": { zh: "湿度", en: "Humidity" },
  "raw.mass": { zh: "留样质量", en: "Retained mass" },
  "raw.kept_hours": { zh: "留样时长", en: "Kept for" },
  "raw.none": { zh: "无原始数据", en: "No raw values" },

  // Saved / upload state of a result.
  "saved.pending": { zh: "已保存（第 {seq} 条）· 待上传", en: "Saved (no. {seq}) · waiting to upload" },
  "saved.pendingOffline": {
    zh: "已保存（第 {seq} 条）· 离线，联网后自动上传",
    en: "Saved (no. {seq}) · offline; uploads when the network is back",
  },
  "saved.acked": { zh: "已保存 · 已上传指挥中心", en: "Saved · uploaded to the command centre" },
  "saved.rejected": { zh: "已保存 · 被指挥中心拒收：{msg}", en: "Saved · rejected by the command centre: {msg}" },
  "saved.outOfScope": {
    zh: "已保存在本机 · 被指挥中心拒收：该摊位不在本终端登记范围内，不上传。请核对摊位",
    en: "Kept on this kiosk · refused: the site is outside this kiosk's registration; not uploaded",
  },
  "result.meta": { zh: "{stall} · {sample} · {time}", en: "{stall} · {sample} · {time}" },
  "result.item": { zh: "检测项目：{item}", en: "Test item: {item}" },
  "result.lot": { zh: "批号 {lot}", en: "Lot {lot}" },
  "result.isRepeat": { zh: "复测（原结果 {verdict}）", en: "Repeat (initial result {verdict})" },

  // Next steps.
  "next.title": { zh: "下一步", en: "What to do next" },
  "next.seal": { zh: "立即封存该批次，停止使用和销售", en: "Seal this batch now (封存); stop using and selling it" },
  "next.repeats": { zh: "同一样品复测 {req} 次：已完成 {done} 次", en: "Repeat the test on the same sample {req} times: {done} done" },
  "next.repeatsDone": { zh: "复测已完成 {done} 次", en: "{done} repeats done" },
  "next.stands": {
    zh: "复测仍为阳性：阳性成立，保持封存并送实验室检验",
    en: "The repeats are positive again: the positive stands; keep it sealed, send it to the lab",
  },
  "next.notReproduced": {
    zh: "复测未再现阳性：初检阳性不成立，按复测结果处理",
    en: "The repeats did not reproduce the positive: the initial positive does not stand; follow the repeat results",
  },
  "next.incident": { zh: "事件编号：{no}", en: "Incident no.: {no}" },
  "next.incidentRepeat": { zh: "事件编号：{no}（本次复测：{own}）", en: "Incident no.: {no} (this repeat: {own})" },
  "next.incidentWait": { zh: "事件编号：等待指挥中心下发…", en: "Incident no.: waiting for the command centre…" },
  "next.incidentOffline": {
    zh: "事件编号：离线，联网上传后由指挥中心下发",
    en: "Incident no.: offline; the command centre sends it after the upload",
  },
  "next.lab": { zh: "快检阳性为疑似结果，须经实验室法定检验确证", en: "A rapid-test positive is only suspected until the lab confirms it" },
  "next.retest": {
    zh: "经营者如有异议，可在 {time} 前（4 小时内）申请复检，复检不得采用快检方法",
    en: "The business may ask for a re-test by {time} (within 4 hours); it may not use a rapid method",
  },
  "next.suspicious": {
    zh: "可疑：结果介于阴性与阳性之间，请用同一样品复测",
    en: "Suspicious: between negative and positive; repeat the test on the same sample",
  },
  "next.negative": { zh: "未检出问题，结果已记录", en: "Nothing found; the result is recorded" },
  "next.pass": { zh: "合格，结果已记录", en: "Pass; the result is recorded" },
  "next.caution": { zh: "注意：{reason}", en: "Caution: {reason}" },
  "next.fail": { zh: "不合格：{reason}", en: "Fail: {reason}" },
  "next.na": { zh: "仅记录，不作判定：{reason}", en: "Recorded only, not decided: {reason}" },
  "next.invalidWhy": { zh: "无效原因：{why}", en: "Why: {why}" },
  "next.invalidHow": { zh: "如何重做：{how}", en: "How to redo it — {how}" },

  // Invalid reasons: why and how to redo (reason codes of protocols/domain/assay).
  "why.control_not_positive": {
    zh: "对照 ΔA0 ≤ 0，对照管没有显色变化，酶或底物可能已失效",
    en: "Control ΔA0 ≤ 0: the control did not change colour; the enzyme or substrate may be spent",
  },
  "how.control_not_positive": {
    zh: "换用有效期内的新酶液和底物，重做对照后再测此样品",
    en: "Use fresh enzyme and substrate within their shelf life, redo the control, then test this sample again",
  },
  "why.control_too_weak": {
    zh: "对照 ΔA0 低于规定最小值，酶活性不足",
    en: "Control ΔA0 is below the minimum: the enzyme is too weak",
  },
  "how.control_too_weak": {
    zh: "换用新鲜酶液，按说明书控制反应温度和时间后重测",
    en: "Use fresh enzyme, keep the reaction temperature and time as the kit says, and test again",
  },
  "why.inhibition_over_100": {
    zh: "抑制率超过 100%（样品 ΔAt < 0），样品液可能浑浊或有颜色干扰",
    en: "Inhibition over 100 % (sample ΔAt < 0): the extract may be cloudy or coloured",
  },
  "how.inhibition_over_100": {
    zh: "重新提取样品（必要时静置、过滤或稀释），再测",
    en: "Extract the sample again (let it settle, filter or dilute it if needed) and test again",
  },
  "why.no_control_line": { zh: "试纸条质控线（C 线）未显色，试纸无效", en: "The strip's control line (C) did not appear: the strip is invalid" },
  "how.no_control_line": {
    zh: "换一条新试纸，按说明书加样、计时后重测",
    en: "Use a new strip, apply the sample and time it as the kit says, and test again",
  },
  "why.undecidable": { zh: "仪器数据不完整，无法判定", en: "The instrument's data is incomplete; no verdict is possible" },
  "how.undecidable": { zh: "检查仪器连接和设置后重测", en: "Check the instrument's cable and settings, then test again" },
  "why.other": { zh: "原因代码 {code}", en: "reason code {code}" },
  "how.other": { zh: "按试剂说明书重新检测", en: "Test again following the kit's instructions" },

  // Reasons of compliance verdicts.
  "reason.reclean_and_retest": { zh: "请重新清洁后复测", en: "clean again and repeat the test" },
  "reason.tpc_over_limit": { zh: "极性组分超过限值", en: "polar compounds over the limit" },
  "reason.acid_value_over_limit": { zh: "酸价超过限值", en: "acid value over the limit" },
  "reason.core_below_minimum": { zh: "中心温度未达到要求，请继续加热", en: "core temperature too low; keep cooking" },
  "reason.hot_holding_not_above_minimum": { zh: "热藏温度不足", en: "hot holding too cool" },
  "reason.above_cold_range": { zh: "冷藏温度过高", en: "cold holding too warm" },
  "reason.below_cold_range": { zh: "冷藏温度过低", en: "cold holding too cold" },
  "reason.above_frozen_maximum": { zh: "冷冻温度过高", en: "not frozen enough" },
  "reason.surface_temperature_not_decisive": { zh: "表面温度仅作记录", en: "a surface temperature decides nothing" },
  "reason.mass_below_minimum": { zh: "留样质量不足", en: "retained sample too small" },
  "reason.discarded_early": { zh: "留样时间不足", en: "retained sample discarded too early" },
  "reason.none": { zh: "—", en: "—" },

  // Actions on the result.
  "act.repeat": { zh: "复测（第 {n} 次）", en: "Repeat (no. {n})" },
  "act.redo": { zh: "重新检测", en: "Test again" },
  "act.next": { zh: "下一个样品", en: "Next sample" },
  "act.otherStall": { zh: "换摊位", en: "Other stall" },

  // Alarm.
  "alarm.title": { zh: "阳性报警", en: "Positive alarm" },
  "alarm.text": { zh: "{stall} · {sample}：报警灯和蜂鸣器已启动", en: "{stall} · {sample}: alarm light and buzzer on" },
  "alarm.textNoResult": { zh: "报警灯和蜂鸣器已启动", en: "Alarm light and buzzer on" },
  "alarm.ack": { zh: "确认报警", en: "Acknowledge" },
  "alarm.pinError": { zh: "报警灯/蜂鸣器故障：{err}", en: "Alarm light/buzzer failed: {err}" },

  // Storage failure (blocking).
  "storage.title": { zh: "结果未保存！", en: "Result NOT saved!" },
  "storage.what": {
    zh: "存储故障，这次检测结果没有保存，也不会上传：",
    en: "A storage failure: this result was not saved and will not be uploaded:",
  },
  "storage.do": {
    zh: "请手工记录下列数值，并立即联系技术支持。存储修复前，新的结果也可能无法保存。",
    en: "Write down the values below and call technical support now. Until storage is fixed, new results may not be saved either.",
  },
  "storage.seal": {
    zh: "这是阳性（疑似）结果：仍须立即封存该批次，并用纸笔报告指挥中心。",
    en: "This is a positive (suspected) result: seal the batch now all the same, and report it to the command centre by hand.",
  },
  "storage.detail": { zh: "技术信息：{err}", en: "Technical detail: {err}" },
  "storage.ack": { zh: "我已手工记录", en: "I have written them down" },

  // History.
  "hist.title": { zh: "检测记录（本机）", en: "Results on this kiosk" },
  "hist.empty": { zh: "暂无记录", en: "No results yet" },
  "hist.time": { zh: "时间", en: "Time" },
  "hist.stall": { zh: "摊位", en: "Stall" },
  "hist.sample": { zh: "样品", en: "Sample" },
  "hist.verdict": { zh: "结果", en: "Result" },
  "hist.upload": { zh: "上传", en: "Upload" },
  "hist.pending": { zh: "待上传", en: "Waiting" },
  "hist.acked": { zh: "已上传", en: "Uploaded" },
  "hist.rejected": { zh: "被拒收", en: "Rejected" },
  "hist.back": { zh: "返回", en: "Back" },

  // Errors from the kiosk service (APIError codes).
  "err.no_stall": { zh: "请先选择摊位", en: "Choose the stall first" },
  "err.bad_stall": { zh: "摊位编号只能包含字母、数字和 - _ . :", en: "A stall id may only contain letters, digits and - _ . :" },
  "err.no_sample": { zh: "请填写样品名称", en: "Enter the sample name" },
  "err.too_long": { zh: "填写内容过长", en: "An entry is too long" },
  "err.no_device": { zh: "没有这台仪器", en: "No such instrument" },
  "err.device_down": { zh: "仪器故障，无法检测", en: "The instrument is down" },
  "err.trigger_failed": { zh: "仪器没有响应，请检查连接后重试", en: "The instrument did not respond; check its cable and try again" },
  "err.other": { zh: "操作失败：{msg}", en: "Failed: {msg}" },
  "err.lot_expired": { zh: "批号 {lot} 已于 {date} 过期，不能使用。请换用有效期内的试剂/检测卡。", en: "Lot {lot} expired on {date} and may not be used. Use a kit that is in date." },
  "err.lot_mismatch": { zh: "批号 {lot} 是{kit}，不能用于本项检测。请核对检测项目和批号。", en: "Lot {lot} is {kit}, not for this test. Check the test item and the lot." },
  "err.lot_no_expiry": { zh: "批号 {lot} 未填有效期：请按包装盒填写。", en: "Lot {lot} has no expiry date: enter the date printed on the box." },
  "err.lot_bad_expiry": { zh: "有效期格式不对：请按 年-月-日 填写。", en: "The expiry date is not a date: enter it as year-month-day." },
  "err.bad_lot": { zh: "批号只能包含字母、数字和 - _ . /，最多 32 位。", en: "A lot number may only contain letters, digits and - _ . / (at most 32)." },

  // Time.
  "time.ago.s": { zh: "{n} 秒前", en: "{n} s ago" },
  "time.ago.m": { zh: "{n} 分钟前", en: "{n} min ago" },
  "time.ago.h": { zh: "{n} 小时前", en: "{n} h ago" },
};
for (const [id, label] of Object.entries(verdicts)) table[`verdict.${id}`] = label;

/** Common vegetables offered as one-tap sample names (zh names, as keyed on instruments). */
export const commonSamples = ["菠菜", "小白菜", "青菜", "韭菜", "芹菜", "生菜", "油麦菜", "豇豆", "黄瓜", "番茄"];

let lang = "zh";
try {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "zh" || saved === "en") lang = saved;
} catch (e) {
  // no storage: zh-CN
}

/** The current language, "zh" or "en". */
export function currentLang() {
  return lang;
}

/** Set the language and remember it. */
export function setLang(l) {
  lang = l === "en" ? "en" : "zh";
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch (e) {
    // ignore
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
}

/** Translate key with params; a missing key shows itself (tests catch it). */
export function t(key, params) {
  const e = table[key];
  let s = e ? e[lang] : key;
  if (params) {
    for (const [k, v] of Object.entries(params)) s = s.split("{" + k + "}").join(String(v));
  }
  return s;
}

/** Does the table have key? */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(table, key);
}

/** Fill data-i18n attributes under root. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
}
