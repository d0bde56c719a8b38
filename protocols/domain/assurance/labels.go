package assurance

import (
	"slices"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// Label is the on-screen text of an identifier: zh-CN first, en second.
type Label struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// LabelEntry is one row of the label table.
type LabelEntry struct {
	ID string `json:"id"`
	Label
}

// labelTable is the one table of labels: every state, phase, checklist
// item, role, reason, rule and option this package defines, plus the
// glossary terms it uses. An identifier means the same thing wherever it
// appears (the incident state "closed" and the event phase "closed" share
// a label), and the labels agree with docs/glossary.md (a test checks it).
var labelTable = slices.Concat(glossaryLabels, verdictLabels(), tierLabels(), protocolLabels)

var glossaryLabels = []LabelEntry{
	// Glossary terms.
	{"event", Label{"重大活动", "Major event"}},
	{"kitchen", Label{"供餐点 / 厨房", "Kitchen"}},
	{"stall", Label{"摊位", "Stall"}},
	{"vendor_zone", Label{"摊贩集中区", "Vendor zone"}},
	{"business", Label{"经营主体", "Food business"}},
	{"banquet", Label{"农村集体聚餐", "Rural group dining"}},
	{"village_chef", Label{"乡村厨师", "Village chef"}},
	{"team", Label{"保障组", "Assurance team"}},
	{"stationed", Label{"驻点保障", "Stationed assurance"}},
	{"patrol", Label{"巡查督查", "Patrol inspection"}},
	{"rapid_test", Label{"快速检测", "Rapid test"}},
	{"readiness", Label{"保障准备", "Readiness"}},
	{"incident", Label{"风险处置事件", "Incident"}},
	{"detection_rate", Label{"疑似阳性检出率", "Suspected-positive detection rate"}},
	{"disposal_rate", Label{"无害化处置率", "Harmless disposal rate"}},
	{"risk_grade", Label{"风险等级", "Risk grade"}},
	{"credit_points", Label{"信用积分", "Credit points"}},
	{"command_centre", Label{"指挥中心", "Command centre"}},
}

// verdictLabels are the verdicts' rows, from their one home,
// protocols/domain/assay.
func verdictLabels() []LabelEntry {
	var out []LabelEntry
	for _, v := range assay.Verdicts() {
		zh, en := v.Label()
		out = append(out, LabelEntry{string(v), Label{zh, en}})
	}
	return out
}

// tierLabels are the testing tiers' rows (四位一体), from their one home,
// protocols/domain/assay.
func tierLabels() []LabelEntry {
	var out []LabelEntry
	for _, t := range assay.Tiers() {
		zh, en := t.Label()
		out = append(out, LabelEntry{string(t), Label{zh, en}})
	}
	return out
}

var protocolLabels = []LabelEntry{
	// Roles.
	{"admin", Label{"管理员", "Administrator"}},
	{"commander", Label{"指挥员", "Commander"}},
	{"inspector", Label{"监督员", "Inspector"}},
	{"operator", Label{"检测员", "Test operator"}},
	{"viewer", Label{"只读用户", "Viewer"}},

	// Incident states.
	{"warned", Label{"预警", "Warned"}},
	{"assigned", Label{"交办", "Assigned"}},
	{"on_site", Label{"到场", "On site"}},
	{"controlled", Label{"控制（封存/停售）", "Controlled (sealed / sale stopped)"}},
	{"lab_sent", Label{"送检", "Sent to lab"}},
	{"confirmed_positive", Label{"确证阳性", "Confirmed"}},
	{"cleared", Label{"排除", "Cleared"}},
	{"disposed", Label{"无害化处置", "Harmlessly disposed"}},
	{"signed_off", Label{"销号", "Signed off"}},
	{"closed", Label{"已关闭", "Closed"}},

	// Incident triggers (also credit reasons).
	{"positive_result", Label{"快检阳性", "Rapid-test positive"}},
	{"suspicious_result", Label{"快检可疑", "Rapid-test suspicious"}},
	{"temperature_breach", Label{"温度超标", "Temperature breach"}},
	{"complaint", Label{"投诉举报", "Complaint"}},

	// Control measures and methods.
	{"sealed", Label{"封存", "Sealed"}},
	{"sale_stopped", Label{"停售", "Sale stopped"}},
	{"recalled", Label{"召回", "Recalled"}},
	{"rapid", Label{"快速检测方法", "Rapid method"}},
	{"lab", Label{"实验室法定检验方法", "Laboratory (statutory) method"}},

	// Repeat before dispatch (复测, not 复检).
	{"awaiting_repeat", Label{"待复测", "Awaiting repeat"}},
	{"repeat_reproduced", Label{"复测阳性成立", "Reproduced by the repeats"}},
	{"repeat_not_reproduced", Label{"复测未复现", "Not reproduced by the repeats"}},
	{"repeat_overdue", Label{"复测超时", "Repeat overdue"}},

	// Re-test refusals.
	{"retest_window_closed", Label{"超过4小时复检申请时限", "Re-test requested after the 4-hour window"}},
	{"retest_rapid_method", Label{"复检不得采用快速检测方法", "A re-test may not use a rapid method"}},
	{"retest_not_rapid", Label{"非快检结果，不适用复检", "Not a rapid-test result; no re-test applies"}},
	{"retest_duplicate", Label{"已申请复检", "Re-test already requested"}},
	{"retest_waived", Label{"当事人已放弃复检", "Re-test waived by the party"}},
	{"retest_too_late", Label{"已有检验结论或已处置，无法复检", "Lab result in or product disposed; too late to re-test"}},

	// Event phases and supervision modes.
	{"filed", Label{"已备案", "Filed"}},
	{"early_intervention", Label{"提前介入", "Early intervention"}},
	{"ready", Label{"准备就绪", "Ready"}},
	{"whole_process", Label{"全程防控", "Whole-process control"}},
	{"full_supervision", Label{"全程监督", "Whole-process supervision"}},
	{"key_point_supervision", Label{"重点监督", "Key-point supervision"}},

	// Warnings.
	{"late_notification", Label{"报备不足20个工作日", "Notified fewer than 20 working days ahead"}},
	{"guidance_required", Label{"须现场指导", "On-site guidance required"}},
	{"late_filing", Label{"备案不及时", "Filed late"}},
	{"cook_certificate", Label{"厨师健康证明不全", "Cook without a valid health certificate"}},
	{"high_risk_dish", Label{"高风险菜品", "High-risk dish"}},

	// Readiness checklist items.
	{"responsibility_commitment", Label{"责任承诺书", "Responsibility commitment"}},
	{"implementation_plan", Label{"实施方案", "Implementation plan"}},
	{"emergency_plan", Label{"应急预案", "Emergency plan"}},
	{"emergency_drill", Label{"应急演练", "Emergency drill"}},
	{"health_certificate", Label{"健康证明", "Health certificate"}},
	{"training", Label{"培训指导", "Training and guidance"}},
	{"menu_assessment", Label{"菜单评估", "Menu assessment"}},
	{"sample_retention", Label{"留样", "Sample retention"}},
	{"kiosk_ready", Label{"快检终端在线、仪器已校准", "Kiosk online, instruments calibrated"}},

	// Health certificate statuses.
	{"cert_valid", Label{"有效", "Valid"}},
	{"cert_none", Label{"无", "None"}},
	{"cert_expired", Label{"过期", "Expired"}},

	// Dish categories and high-risk reasons.
	{"cold_dish", Label{"冷荤凉菜", "Cold dish"}},
	{"raw_aquatic", Label{"生食水产品", "Raw aquatic product"}},
	{"cream_cake", Label{"裱花蛋糕", "Cream cake"}},
	{"hot_dish", Label{"热菜", "Hot dish"}},
	{"soup", Label{"汤羹", "Soup"}},
	{"staple", Label{"主食", "Staple"}},
	{"pastry", Label{"点心", "Pastry"}},
	{"fruit", Label{"水果", "Fruit"}},
	{"beverage", Label{"饮品", "Beverage"}},
	{"other", Label{"其他", "Other"}},
	{"wild_mushroom", Label{"野生菌", "Wild mushroom"}},
	{"undercooked_beans", Label{"四季豆/豆角（未烧熟）", "Green beans (undercooked)"}},
	{"fresh_daylily", Label{"鲜黄花菜", "Fresh day-lily"}},
	{"puffer_fish", Label{"河豚", "Puffer fish"}},
	{"soy_milk", Label{"豆浆（未煮沸）", "Soy milk (not fully boiled)"}},

	// Rule severities.
	{"forbid", Label{"禁止", "Forbidden"}},
	{"restrict", Label{"限制（须落实管控措施）", "Restricted (controls required)"}},
	{"advise", Label{"提示", "Advisory"}},

	// Menu review.
	{"draft", Label{"草稿", "Draft"}},
	{"submitted", Label{"已提交", "Submitted"}},
	{"approved", Label{"通过", "Approved"}},
	{"approved_with_controls", Label{"有条件通过", "Approved with controls"}},
	{"rejected", Label{"不通过", "Rejected"}},
	{"approve", Label{"同意", "Approve"}},
	{"require_controls", Label{"须落实管控措施", "Require controls"}},
	{"reject", Label{"不同意（撤下）", "Reject (remove)"}},

	// Risk grades and patrol modes.
	{"grade_A", Label{"A级（风险最低）", "Grade A (lowest risk)"}},
	{"grade_B", Label{"B级", "Grade B"}},
	{"grade_C", Label{"C级", "Grade C"}},
	{"grade_D", Label{"D级（风险最高）", "Grade D (highest risk)"}},
	{"routine_patrol", Label{"日常巡查", "Routine patrol"}},
	{"event_patrol", Label{"活动期间巡查", "Event patrol"}},

	// Credit reasons (positive_result, suspicious_result,
	// confirmed_positive, cleared and temperature_breach above).
	{"clean_patrol", Label{"巡查无问题", "Clean patrol"}},
	{"minor_finding", Label{"一般问题", "Minor finding"}},
	{"major_finding", Label{"严重问题", "Major finding"}},
	{"rectified", Label{"整改到位", "Rectified"}},
	{"rectification_overdue", Label{"逾期未整改", "Rectification overdue"}},
	{"complaint_substantiated", Label{"投诉属实", "Complaint substantiated"}},
	{"certified", Label{"通过HACCP/GMP认证", "HACCP / GMP certified"}},
	{"seriously_dishonest", Label{"列入严重失信名单", "Listed as seriously dishonest"}},
	{"initial", Label{"初始评级", "Initial grade"}},

	// Credit sources: what booked a ledger line.
	{"from_result", Label{"快检结果", "Rapid-test result"}},
	{"from_incident", Label{"处置事件结论", "Incident outcome"}},
	{"from_patrol", Label{"巡查", "Patrol visit"}},
	{"from_finding", Label{"巡查发现的问题", "Patrol finding"}},
	{"from_manual", Label{"人工登记", "Recorded by hand"}},
	{"from_register", Label{"备案登记的等级", "Grade in the site register"}},

	// Rural banquets.
	{"wedding", Label{"婚宴", "Wedding"}},
	{"birthday", Label{"生日", "Birthday"}},
	{"house_building", Label{"建房", "House building"}},
	{"housewarming", Label{"乔迁", "Housewarming"}},
	{"funeral", Label{"丧事", "Funeral"}},
	{"other_banquet", Label{"其它", "Other occasion"}},
	{"lunch", Label{"午餐", "Lunch"}},
	{"dinner", Label{"晚餐", "Dinner"}},
	{"family", Label{"家庭成员", "Family members"}},
	{"relatives_friends", Label{"亲朋好友", "Relatives and friends"}},
	{"hired_chef", Label{"外请厨师", "Hired chef"}},
	{"cook", Label{"厨师", "Cook"}},
	{"helper", Label{"帮厨", "Helper"}},
	{"guidance_assigned", Label{"已指派现场指导", "Guidance assigned"}},
	{"on_site_checked", Label{"已现场检查", "Checked on site"}},
	{"rectifying", Label{"整改中", "Rectifying"}},
	{"personnel_management", Label{"人员管理", "Personnel management"}},
	{"filing", Label{"信息报备", "Filing"}},
	{"guidance", Label{"现场指导", "On-site guidance"}},
	{"rectification", Label{"问题整改", "Rectification"}},

	// Meals, the stationed team's duty log and emergencies.
	{"meal", Label{"餐次", "Meal (sitting)"}},
	{"breakfast", Label{"早餐", "Breakfast"}},
	{"morning_check", Label{"晨检", "Morning health check"}},
	{"duty_log", Label{"驻点保障工作日志", "Duty log"}},
	{"manual", Label{"手工录入", "Entered by hand"}},
	{"kiosk_scale", Label{"快检终端电子秤", "Kiosk scale"}},
	{"kiosk_probe", Label{"快检终端中心温度计", "Kiosk core-temperature probe"}},
	{"core_temp_check", Label{"中心温度", "Core temperature"}},
	{"cold_room_check", Label{"专间温度", "Cold-dish room temperature"}},
	{"tableware_disinfection", Label{"餐用具消毒", "Tableware disinfection"}},
	{"retention_missing", Label{"未留样", "No retained sample"}},
	{"retention_discarded_early", Label{"留样不足48小时", "Sample kept under 48 h"}},
	{"morning_check_missing", Label{"未晨检", "No morning check"}},
	{"unfit_worker", Label{"晨检不合格", "Failed the morning check"}},
	{"process_check_failed", Label{"过程检查不合格", "Process check failed"}},
	{"problem_open", Label{"问题未整改", "Problem not fixed"}},
	{"emergency", Label{"应急处置", "Emergency response"}},
	{"level_4", Label{"Ⅳ级（一般）", "Level IV (general)"}},
	{"level_3", Label{"Ⅲ级（较大）", "Level III (serious)"}},
	{"level_2", Label{"Ⅱ级（重大）", "Level II (major)"}},
	{"level_1", Label{"Ⅰ级（特别重大）", "Level I (extraordinary)"}},
	{"activated", Label{"应急响应中", "Response active"}},
	{"food_poisoning", Label{"确认为食物中毒", "Food poisoning confirmed"}},
	{"not_food_related", Label{"排除食源性疾病", "Not food-borne"}},
	{"cause_undetermined", Label{"原因待查", "Cause undetermined"}},
	{"drill_completed", Label{"演练完成", "Drill completed"}},
	{"report_received", Label{"接报登记", "Report logged"}},
	{"response_activated", Label{"启动应急响应", "Response activated"}},
	{"samples_frozen", Label{"封存留样", "Retained samples frozen"}},
	{"team_dispatched", Label{"派出保障组", "Team sent"}},
	{"step_done", Label{"完成预案步骤", "Plan step done"}},
	{"report_updated", Label{"更新发病人数", "Count updated"}},
	{"level_changed", Label{"调整响应级别", "Level changed"}},
	{"note_added", Label{"情况记录", "Note"}},
	{"emergency_closed", Label{"结束应急响应", "Emergency closed"}},
	{"samples_released", Label{"解除留样封存", "Samples released"}},
	{"emergency_no_team", Label{"暂无可派保障组", "No team available"}},
}

var labelIndex = func() map[string]Label {
	m := make(map[string]Label, len(labelTable))
	for _, e := range labelTable {
		m[e.ID] = e.Label
	}
	return m
}()

// LabelOf returns the label of an identifier.
func LabelOf(id string) (Label, bool) {
	l, ok := labelIndex[id]
	return l, ok
}

// Labels returns the whole label table, in a stable order (grouped by
// topic), for the UI's string bundle and for docs/glossary.md.
func Labels() []LabelEntry { return slices.Clone(labelTable) }

// labelOf returns the label of id, or id itself in both languages for an
// identifier the table does not know (a configured rule, say).
func labelOf(id string) Label {
	if l, ok := labelIndex[id]; ok {
		return l
	}
	return Label{ZH: id, EN: id}
}

// Label returns the zh-CN and en label of a patrol mode.
func (m PatrolMode) Label() Label { return labelOf(string(m)) }

// Label returns the zh-CN and en label of a method kind.
func (k MethodKind) Label() Label { return labelOf(string(k)) }

// Label returns the zh-CN and en label of a finding severity.
func (s FindingSeverity) Label() Label { return labelOf(string(s)) }
