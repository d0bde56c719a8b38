package assurance_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// A rapid-test positive at a stall, from the kiosk's warning to the
// command centre's 销号 and closing. The stall holder asks for a re-test,
// so the batch goes to the laboratory before it may be destroyed.
func Example() {
	cfg := assurance.DefaultConfig()
	cst := assurance.ChinaStandardTime
	day := func(d, hh, mm int) time.Time { return time.Date(2026, 10, d, hh, mm, 0, 0, cst) }

	operator := assurance.Actor{UserID: "op-7", Role: assurance.RoleOperator}
	commander := assurance.Actor{UserID: "cmd-1", Role: assurance.RoleCommander}
	duty := assurance.Actor{UserID: "cmd-2", Role: assurance.RoleCommander}
	inspector := assurance.Actor{UserID: "insp-3", Role: assurance.RoleInspector, TeamID: "T1"}
	stall := &assurance.Point{Lon: 120.8942, Lat: 31.9813}

	// 09:12 the kiosk reports a positive (enzyme inhibition 56.77 %).
	inc, err := assurance.OpenIncident("INC-0001", assurance.Trigger{
		Kind: assurance.TriggerPositive, EventID: "EV1", SubjectID: "stall-B12",
		ResultID: "01J9ZQ3V8K", Verdict: assay.Positive, Method: "enzyme_inhibition",
		Item: "有机磷和氨基甲酸酯类农药", ObservedAt: day(1, 9, 12), Where: stall,
	}, assurance.Act{Actor: operator, At: day(1, 9, 12)})
	if err != nil {
		panic(err)
	}
	apply := func(s assurance.IncidentStep) {
		if err := inc.Apply(s, cfg); err != nil {
			panic(err)
		}
	}
	apply(assurance.IncidentStep{To: assurance.IncidentAssigned, TeamID: "T1", Deadline: day(1, 9, 40),
		Act: assurance.Act{Actor: commander, At: day(1, 9, 13), Note: "最近的巡查组"}})
	apply(assurance.IncidentStep{To: assurance.IncidentOnSite, Act: assurance.Act{Actor: inspector, At: day(1, 9, 31), Where: stall}})
	apply(assurance.IncidentStep{To: assurance.IncidentControlled, Controls: []assurance.ControlMeasure{assurance.ControlSealed, assurance.ControlSaleStopped},
		Act: assurance.Act{Actor: inspector, At: day(1, 9, 35), Where: stall, Evidence: []assurance.EvidenceRef{{Kind: "seal_record", Ref: "SEAL-88"}}}})

	// 10:05 the stall holder disputes the result: within 4 hours, so the
	// request is honoured, and the re-test must use a laboratory method.
	lab := assurance.TestMethod{Kind: assurance.MethodLab, Name: "GB 23200.113-2018 GC-MS/MS"}
	if err := inc.RequestRetest("张记蔬菜", lab, assurance.Act{Actor: operator, At: day(1, 10, 5)}, cfg); err != nil {
		panic(err)
	}
	// Destroying the batch now is refused: the re-test is pending.
	err = inc.Apply(assurance.IncidentStep{To: assurance.IncidentDisposed,
		Act: assurance.Act{Actor: inspector, At: day(1, 10, 10), Evidence: []assurance.EvidenceRef{{Kind: "photo", Ref: "P1"}}}}, cfg)
	fmt.Println("dispose now:", assurance.ErrorCode(err), errors.Is(err, assurance.ErrPrecondition))

	apply(assurance.IncidentStep{To: assurance.IncidentLabSent, Lab: &assurance.LabSubmission{Lab: "市食品药品检验所", SampleID: "S-2026-1001", Method: lab},
		Act: assurance.Act{Actor: inspector, At: day(1, 10, 20)}})
	apply(assurance.IncidentStep{To: assurance.IncidentConfirmedPositive,
		Act: assurance.Act{Actor: inspector, At: day(2, 15, 0), Evidence: []assurance.EvidenceRef{{Kind: "lab_report", Ref: "LR-5521"}}}})
	apply(assurance.IncidentStep{To: assurance.IncidentDisposed,
		Act: assurance.Act{Actor: inspector, At: day(2, 16, 0), Note: "监督下粉碎深埋 12 kg", Evidence: []assurance.EvidenceRef{{Kind: "disposal_record", Ref: "DR-19"}}}})
	apply(assurance.IncidentStep{To: assurance.IncidentSignedOff, Act: assurance.Act{Actor: duty, At: day(2, 17, 0)}})
	apply(assurance.IncidentStep{To: assurance.IncidentClosed, Act: assurance.Act{Actor: commander, At: day(2, 17, 30)}})

	for _, e := range inc.Audit {
		fmt.Printf("%2d %s %-6s %-16s → %s %s\n", e.Seq, e.At.Format("01-02 15:04"), e.Actor.UserID, e.Action, e.To, labelZH(e.To))
	}
	fmt.Println("state:", inc.State, inc.State.Label().ZH)
	// Output:
	// dispose now: precondition_failed true
	//  1 10-01 09:12 op-7   opened           → warned 预警
	//  2 10-01 09:13 cmd-1  transition       → assigned 交办
	//  3 10-01 09:31 insp-3 transition       → on_site 到场
	//  4 10-01 09:35 insp-3 transition       → controlled 控制（封存/停售）
	//  5 10-01 10:05 op-7   retest_requested → controlled 控制（封存/停售）
	//  6 10-01 10:20 insp-3 transition       → lab_sent 送检
	//  7 10-02 15:00 insp-3 transition       → confirmed_positive 确证阳性
	//  8 10-02 16:00 insp-3 transition       → disposed 无害化处置
	//  9 10-02 17:00 cmd-2  transition       → signed_off 销号
	// 10 10-02 17:30 cmd-1  transition       → closed 已关闭
	// state: closed 已关闭
}

func labelZH(id string) string {
	l, _ := assurance.LabelOf(id)
	return l.ZH
}

// Overdue incidents, with an injected clock: the assignment's deadline
// passed 5 minutes ago, so the commander is alerted.
func ExampleEscalations() {
	cfg := assurance.DefaultConfig()
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, assurance.ChinaStandardTime)
	inc, _ := assurance.OpenIncident("INC-2", assurance.Trigger{Kind: assurance.TriggerTemperature, SubjectID: "kitchen-1", ObservedAt: t0},
		assurance.Act{Actor: assurance.Actor{UserID: "op-1", Role: assurance.RoleOperator}, At: t0})
	_ = inc.Apply(assurance.IncidentStep{To: assurance.IncidentAssigned, TeamID: "T2",
		Act: assurance.Act{Actor: assurance.Actor{UserID: "cmd-1", Role: assurance.RoleCommander}, At: t0.Add(2 * time.Minute)}}, cfg)

	now := t0.Add(37 * time.Minute) // assigned at 09:02, 30 minutes to arrive
	for _, e := range assurance.Escalations([]assurance.Incident{inc}, now, cfg) {
		fmt.Println(e.IncidentID, e.State, "overdue", e.Overdue, "level", e.Level, "→", e.EscalateTo)
	}
	// Output:
	// INC-2 assigned overdue 5m0s level 1 → commander
}

// The readiness gate: what is still open in each kitchen.
func ExampleEvaluateReadiness() {
	cfg := assurance.DefaultConfig()
	now := time.Date(2026, 10, 8, 9, 0, 0, 0, assurance.ChinaStandardTime)
	filing := assurance.EventFiling{
		Name: "江海国际马拉松", Organiser: assurance.Organiser{Name: "市体育局"},
		FirstDay: assurance.MakeDate(2026, 10, 10), LastDay: assurance.MakeDate(2026, 10, 11),
		Venues: []assurance.Venue{{ID: "V1", Name: "奥体中心"}}, Headcount: 3000,
		Caterers: []assurance.Caterer{{ID: "C1", Name: "江海宾馆"}},
		Kitchens: []assurance.Kitchen{{ID: "K1", Name: "中央厨房", CatererID: "C1"}},
		Mode:     assurance.SupervisionFull, NotifiedOn: assurance.MakeDate(2026, 9, 1),
	}
	k := assurance.KitchenReadiness{
		KitchenID:  "K1",
		Commitment: assurance.Doc{Ref: "doc-1"}, ImplementationPlan: assurance.Doc{Ref: "doc-2"}, EmergencyPlan: assurance.Doc{Ref: "doc-3"},
		Staff: []assurance.StaffMember{{Name: "李师傅", Cert: assurance.HealthCertificate{
			IssuedOn: assurance.MakeDate(2025, 10, 10), ValidUntil: assurance.MakeDate(2026, 10, 10)}}},
		TrainingAt: now.Add(-time.Hour), Menu: assurance.MenuApproved,
	}
	rep := assurance.EvaluateReadiness("EV1", filing, []assurance.KitchenReadiness{k}, now, cfg)
	for _, o := range rep.Open {
		fmt.Printf("%s %s: %s\n", o.KitchenID, o.Label.ZH, o.Detail.ZH)
	}
	fmt.Println("ready:", rep.Ready, rep.Done, "/", rep.Total, rep.Percent)
	// Output:
	// K1 应急演练: 未开展应急演练
	// K1 健康证明: 健康证明在活动期间无效：李师傅（2026-10-10 到期）
	// K1 留样: 留样未落实：未指定留样冰箱；未指定留样责任人；每样 0.0 g，少于 125.0 g；未定留存时长（至少 48 小时）
	// K1 快检终端在线、仪器已校准: 未配置快检终端
	// ready: false 5 / 9 55.56%
}
