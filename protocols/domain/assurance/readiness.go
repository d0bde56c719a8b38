package assurance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// ChecklistItem is one item of a kitchen's readiness checklist (保障准备).
type ChecklistItem string

// Checklist items, in the order they are shown.
const (
	ItemCommitment         ChecklistItem = "responsibility_commitment" // 责任承诺书
	ItemImplementationPlan ChecklistItem = "implementation_plan"       // 实施方案
	ItemEmergencyPlan      ChecklistItem = "emergency_plan"            // 应急预案
	ItemEmergencyDrill     ChecklistItem = "emergency_drill"           // 应急演练
	ItemHealthCertificates ChecklistItem = "health_certificate"        // 健康证明
	ItemTraining           ChecklistItem = "training"                  // 培训指导
	ItemMenuAssessment     ChecklistItem = "menu_assessment"           // 菜单评估
	ItemSampleRetention    ChecklistItem = "sample_retention"          // 留样
	ItemKiosk              ChecklistItem = "kiosk_ready"               // 快检终端在线、仪器已校准
)

// ChecklistItems returns every checklist item in display order.
func ChecklistItems() []ChecklistItem {
	return []ChecklistItem{ItemCommitment, ItemImplementationPlan, ItemEmergencyPlan, ItemEmergencyDrill,
		ItemHealthCertificates, ItemTraining, ItemMenuAssessment, ItemSampleRetention, ItemKiosk}
}

// Label returns the zh-CN and en label.
func (i ChecklistItem) Label() Label { return labelOf(string(i)) }

// Doc is a document kept by the store (a signed commitment, a plan).
type Doc struct {
	Ref string    `json:"ref,omitempty"` // empty: not provided
	At  time.Time `json:"at,omitzero"`   // when it was signed or received
}

// RetentionSetup is how a kitchen keeps retained samples (留样).
type RetentionSetup struct {
	FridgeID    string        `json:"fridge_id,omitempty"`
	Responsible string        `json:"responsible,omitempty"`
	MassPerDish measure.Mass  `json:"mass_per_dish"` // planned mass per dish
	Hold        time.Duration `json:"hold"`          // planned keeping time
}

// InstrumentStatus is the calibration of one instrument at a kiosk.
type InstrumentStatus struct {
	ID                    string `json:"id"`
	Model                 string `json:"model,omitempty"`
	CalibratedOn          Date   `json:"calibrated_on,omitzero"`
	CalibrationValidUntil Date   `json:"calibration_valid_until,omitzero"`
}

// KioskStatus is the kitchen's test kiosk as the command service last saw
// it.
type KioskStatus struct {
	KioskID     string             `json:"kiosk_id,omitempty"`
	LastSeen    time.Time          `json:"last_seen,omitzero"`
	Instruments []InstrumentStatus `json:"instruments,omitempty"`
}

// KitchenReadiness is what is known about one kitchen's preparation. The
// command service assembles it from its store; [EvaluateReadiness] judges
// it.
type KitchenReadiness struct {
	KitchenID          string         `json:"kitchen_id"`
	Commitment         Doc            `json:"commitment"`          // 责任承诺书
	ImplementationPlan Doc            `json:"implementation_plan"` // 实施方案
	EmergencyPlan      Doc            `json:"emergency_plan"`      // 应急预案
	DrillAt            time.Time      `json:"drill_at,omitzero"`   // when the emergency drill was held
	Staff              []StaffMember  `json:"staff,omitempty"`
	TrainingAt         time.Time      `json:"training_at,omitzero"` // when training (培训指导) was given
	Menu               MenuState      `json:"menu"`                 // the kitchen's menu review state
	Retention          RetentionSetup `json:"retention"`
	Kiosk              KioskStatus    `json:"kiosk"`
}

// OpenItem is a checklist item that is not done.
type OpenItem struct {
	KitchenID string        `json:"kitchen_id"`
	Item      ChecklistItem `json:"item"`
	Label     Label         `json:"label"`  // the item's label
	Detail    Label         `json:"detail"` // what exactly is missing
}

// KitchenReport is the readiness of one kitchen.
type KitchenReport struct {
	KitchenID string     `json:"kitchen_id"`
	Open      []OpenItem `json:"open"`
	Done      int        `json:"done"`
	Total     int        `json:"total"`
}

// ReadinessReport is the readiness of an event's kitchens at a time.
type ReadinessReport struct {
	EventID  string          `json:"event_id"`
	At       time.Time       `json:"at"`
	Kitchens []KitchenReport `json:"kitchens"`
	Open     []OpenItem      `json:"open"` // all kitchens' open items
	Done     int             `json:"done"`
	Total    int             `json:"total"`
	Percent  measure.Percent `json:"percent"` // Done / Total
	Ready    bool            `json:"ready"`   // nothing open
}

// EvaluateReadiness judges the readiness of every kitchen in the filing at
// time now, checking the items in Config.Readiness.Items. A filing kitchen
// without an entry in kitchens has every item open; entries for kitchens
// not in the filing are ignored. The items are done when:
//   - responsibility_commitment, implementation_plan, emergency_plan: the
//     document is referenced;
//   - emergency_drill: a drill was held at or before now;
//   - health_certificate: there is a staff list and every member's
//     certificate is valid on every event day;
//   - training: training was given at or before now;
//   - menu_assessment: the menu is approved or approved with controls;
//   - sample_retention: a fridge and a responsible person are named, and
//     the planned mass and time meet Config.Readiness minimums (125 g, 48 h);
//   - kiosk_ready: the kiosk was seen within KioskOnlineWithin of now, has
//     at least one instrument, and every instrument's calibration is valid
//     through the event's last day.
func EvaluateReadiness(eventID string, f EventFiling, kitchens []KitchenReadiness, now time.Time, cfg Config) ReadinessReport {
	rep := ReadinessReport{EventID: eventID, At: now}
	items := cfg.Readiness.Items
	for _, k := range f.Kitchens {
		kr := KitchenReport{KitchenID: k.ID, Total: len(items)}
		i := slices.IndexFunc(kitchens, func(r KitchenReadiness) bool { return r.KitchenID == k.ID })
		for _, item := range items {
			var detail Label
			if i < 0 {
				detail = Label{ZH: "无准备情况记录", EN: "no readiness record for this kitchen"}
			} else {
				detail = checkItem(item, kitchens[i], f, now, cfg)
			}
			if detail != (Label{}) {
				kr.Open = append(kr.Open, OpenItem{KitchenID: k.ID, Item: item, Label: item.Label(), Detail: detail})
			}
		}
		kr.Done = kr.Total - len(kr.Open)
		rep.Kitchens = append(rep.Kitchens, kr)
		rep.Open = append(rep.Open, kr.Open...)
		rep.Done += kr.Done
		rep.Total += kr.Total
	}
	rep.Percent = percentOf(rep.Done, rep.Total)
	rep.Ready = rep.Total > 0 && len(rep.Open) == 0
	return rep
}

// checkItem returns what is missing for one item, or the zero Label when
// the item is done.
func checkItem(item ChecklistItem, k KitchenReadiness, f EventFiling, now time.Time, cfg Config) Label {
	doc := func(d Doc, zh, en string) Label {
		if d.Ref == "" {
			return Label{ZH: zh, EN: en}
		}
		return Label{}
	}
	switch item {
	case ItemCommitment:
		return doc(k.Commitment, "责任承诺书未签署", "responsibility commitment not signed")
	case ItemImplementationPlan:
		return doc(k.ImplementationPlan, "实施方案未提交", "implementation plan not submitted")
	case ItemEmergencyPlan:
		return doc(k.EmergencyPlan, "应急预案未提交", "emergency plan not submitted")
	case ItemEmergencyDrill:
		switch {
		case k.DrillAt.IsZero():
			return Label{ZH: "未开展应急演练", EN: "no emergency drill held"}
		case k.DrillAt.After(now):
			return Label{ZH: "应急演练尚未举行（计划 " + k.DrillAt.Format(time.DateTime) + "）",
				EN: "emergency drill not held yet (planned " + k.DrillAt.Format(time.DateTime) + ")"}
		}
	case ItemHealthCertificates:
		if len(k.Staff) == 0 {
			return Label{ZH: "无从业人员名单", EN: "no staff list"}
		}
		var zh, en []string
		for _, s := range k.Staff {
			if s.Cert.ValidThrough(f.FirstDay, f.LastDay) {
				continue
			}
			switch {
			case s.Cert.StatusOn(f.LastDay) == CertExpired || s.Cert.StatusOn(f.FirstDay) == CertExpired:
				zh = append(zh, fmt.Sprintf("%s（%s 到期）", s.Name, s.Cert.ValidUntil))
				en = append(en, fmt.Sprintf("%s (expires %s)", s.Name, s.Cert.ValidUntil))
			default:
				zh = append(zh, s.Name+"（无）")
				en = append(en, s.Name+" (none)")
			}
		}
		if len(zh) > 0 {
			return Label{ZH: "健康证明在活动期间无效：" + strings.Join(zh, "、"),
				EN: "health certificate not valid on every event day: " + strings.Join(en, ", ")}
		}
	case ItemTraining:
		if k.TrainingAt.IsZero() || k.TrainingAt.After(now) {
			return Label{ZH: "培训指导未完成", EN: "training not given yet"}
		}
	case ItemMenuAssessment:
		if k.Menu != MenuApproved && k.Menu != MenuApprovedWithControls {
			st := k.Menu
			if st == "" {
				st = MenuDraft
			}
			l := st.Label()
			return Label{ZH: "菜单评估未通过（" + l.ZH + "）", EN: "menu not approved (" + l.EN + ")"}
		}
	case ItemSampleRetention:
		r, min := k.Retention, cfg.Readiness
		var zh, en []string
		if r.FridgeID == "" {
			zh, en = append(zh, "未指定留样冰箱"), append(en, "no retention fridge")
		}
		if strings.TrimSpace(r.Responsible) == "" {
			zh, en = append(zh, "未指定留样责任人"), append(en, "no one responsible")
		}
		if r.MassPerDish < min.RetentionMinMass {
			zh = append(zh, fmt.Sprintf("每样 %s，少于 %s", r.MassPerDish, min.RetentionMinMass))
			en = append(en, fmt.Sprintf("%s per dish, less than %s", r.MassPerDish, min.RetentionMinMass))
		}
		switch {
		case r.Hold <= 0:
			zh = append(zh, fmt.Sprintf("未定留存时长（至少 %s）", DurationZH(min.RetentionMinHold)))
			en = append(en, fmt.Sprintf("no keeping time set (at least %s)", DurationEN(min.RetentionMinHold)))
		case r.Hold < min.RetentionMinHold:
			zh = append(zh, fmt.Sprintf("留存 %s，少于 %s", DurationZH(r.Hold), DurationZH(min.RetentionMinHold)))
			en = append(en, fmt.Sprintf("kept %s, less than %s", DurationEN(r.Hold), DurationEN(min.RetentionMinHold)))
		}
		if len(zh) > 0 {
			return Label{ZH: "留样未落实：" + strings.Join(zh, "；"), EN: "sample retention not set up: " + strings.Join(en, "; ")}
		}
	case ItemKiosk:
		ks := k.Kiosk
		switch {
		case ks.KioskID == "":
			return Label{ZH: "未配置快检终端", EN: "no test kiosk"}
		case ks.LastSeen.IsZero() || now.Sub(ks.LastSeen) > cfg.Readiness.KioskOnlineWithin:
			seen := "从未上线"
			seenEN := "never seen"
			if !ks.LastSeen.IsZero() {
				seen = "最后在线 " + ks.LastSeen.Format(time.DateTime)
				seenEN = "last seen " + ks.LastSeen.Format(time.DateTime)
			}
			return Label{ZH: "快检终端 " + ks.KioskID + " 离线（" + seen + "）", EN: "kiosk " + ks.KioskID + " offline (" + seenEN + ")"}
		case len(ks.Instruments) == 0:
			return Label{ZH: "快检终端 " + ks.KioskID + " 未接入检测仪器", EN: "kiosk " + ks.KioskID + " has no instrument"}
		}
		var zh, en []string
		for _, in := range ks.Instruments {
			if in.CalibrationValidUntil.IsZero() {
				zh = append(zh, in.ID+"（未校准）")
				en = append(en, in.ID+" (not calibrated)")
			} else if in.CalibrationValidUntil.Before(f.LastDay) {
				zh = append(zh, fmt.Sprintf("%s（校准 %s 到期）", in.ID, in.CalibrationValidUntil))
				en = append(en, fmt.Sprintf("%s (calibration expires %s)", in.ID, in.CalibrationValidUntil))
			}
		}
		if len(zh) > 0 {
			return Label{ZH: "仪器校准在活动期间无效：" + strings.Join(zh, "、"), EN: "instrument calibration not valid through the event: " + strings.Join(en, ", ")}
		}
	default:
		return Label{ZH: "未知检查项 " + string(item), EN: "unknown checklist item " + string(item)}
	}
	return Label{}
}

// percentOf returns num/den as a measure.Percent rounded to the nearest
// millionth (0 when den is 0).
func percentOf(num, den int) measure.Percent {
	if den <= 0 {
		return 0
	}
	w := int64(measure.Whole)
	return measure.Percent((int64(num)*w*2 + int64(den)) / (2 * int64(den)))
}
