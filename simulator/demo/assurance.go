package demo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/simulator/venue"
)

// The demo runs the assurance protocol on a compressed timeline: what
// takes an afternoon at a real event takes seconds, so that a minute of
// demo shows incidents at every stage. The protocol's deadlines are
// compressed the same way, so some incidents escalate.
func demoProtocol() assurance.Config {
	pc := assurance.DefaultConfig()
	pc.Incident.Deadlines = map[assurance.IncidentState]time.Duration{
		assurance.IncidentWarned:            6 * time.Second,
		assurance.IncidentAssigned:          12 * time.Second,
		assurance.IncidentOnSite:            20 * time.Second,
		assurance.IncidentControlled:        30 * time.Second,
		assurance.IncidentLabSent:           40 * time.Second,
		assurance.IncidentConfirmedPositive: 20 * time.Second,
		assurance.IncidentCleared:           30 * time.Second,
		assurance.IncidentDisposed:          30 * time.Second,
		assurance.IncidentSignedOff:         60 * time.Second,
	}
	// A dish without its retained sample raises the alarm 15 s into the
	// service (30 min at a real event).
	pc.Duty.RetentionGrace = 15 * time.Second
	// An enzyme result waits in 待复测 for its repeats (decision 0015); the
	// simulated operators do not repeat yet, so the team goes when the
	// compressed wait runs out.
	pc.Incident.RepeatFirst.Within = 8 * time.Second
	return pc
}

// demoAssure is the engine configuration of the demo.
func demoAssure() command.Config {
	pc := demoProtocol()
	return command.Config{Assure: engine.Config{Protocol: &pc, Tick: time.Second,
		Cluster: geo.ClusterParams{MinEvents: 4, Radius: 120, Window: 10 * time.Minute}}}
}

// Simulated speeds and pauses of the compressed timeline.
const (
	walkSpeed = 60.0                    // metres per second (a real team walks 1.4)
	stepEvery = 500 * time.Millisecond  // position reports while moving
	fieldStep = 1500 * time.Millisecond // on site → sealed → sent to the lab → disposed
	labTime   = 8 * time.Second         // the lab's answer
	signAfter = 2 * time.Second         // the command centre's 销号 and closing
)

// demoUsers are the people of the demo besides admin: a duty commander
// who signs off (销号), the operator, a viewer, and one inspector per team.
type demoUsers struct {
	commander, duty, operator, viewer string            // API tokens
	inspectors                        map[string]string // team id → token
}

const eventIDPrefix = "EV-"

// eventID is the demo event's id for the venue's first day.
func eventID(v *venue.Venue) string { return eventIDPrefix + v.Start.Format("20060102") + "-JH" }

// makeUsers creates the demo's users (kept across runs) and API tokens.
func makeUsers(svc *command.Service, v *venue.Venue) (demoUsers, error) {
	u := demoUsers{inspectors: map[string]string{}}
	pw, _ := store.NewToken("")
	mk := func(name, display string, role assurance.Role, team string) (string, error) {
		err := svc.Auth().CreateUser(name, display, role, pw[:16])
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
		if team != "" {
			store.Modify(svc.Store(), "user", name, func(x *store.User) error { x.TeamID = team; return nil })
		}
		return svc.Auth().NewAPIToken(name, "demo")
	}
	var err error
	if u.commander, err = mk("cmd-zhou", "周指挥", assurance.RoleCommander, ""); err != nil {
		return u, err
	}
	if u.duty, err = mk("cmd-duty", "值班指挥员", assurance.RoleCommander, ""); err != nil {
		return u, err
	}
	if u.operator, err = mk("op-01", "检测员", assurance.RoleOperator, ""); err != nil {
		return u, err
	}
	if u.viewer, err = mk("viewer", "观察员", assurance.RoleViewer, ""); err != nil {
		return u, err
	}
	for _, t := range v.Teams {
		if u.inspectors[t.ID], err = mk("insp-"+t.ID, t.Leader, assurance.RoleInspector, t.ID); err != nil {
			return u, err
		}
	}
	return u, nil
}

// assuranceRun drives the protocol through the API: teams, the event from
// filing to live, menus, readiness, banquets and the chef register; then
// the teams and the command centre work the incidents the kiosks' results
// open, and the teams walk their patrol plans.
type assuranceRun struct {
	base  string
	v     *venue.Venue
	users demoUsers
	o     Options
	log   *slog.Logger
	out   io.Writer
	start time.Time
	event string

	mu    sync.Mutex
	seen  map[string]time.Time // incident state key → when the simulation first saw it
	outMu sync.Mutex           // the goroutines share Out
}

func (a *assuranceRun) say(format string, args ...any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	fmt.Fprintf(a.out, "  [%5.1fs] %s\n", time.Since(a.start).Seconds(), fmt.Sprintf(format, args...))
}

func (a *assuranceRun) run(ctx context.Context) {
	cmd := newClient(a.base, a.users.commander)
	if err := a.setupTeams(ctx, cmd); err != nil {
		a.log.Warn("demo: teams", "err", err)
	}
	var wg sync.WaitGroup
	// The teams and the command centre start at once: results (and
	// incidents) flow from the first second.
	for _, t := range a.v.Teams {
		wg.Add(1)
		go func() { defer wg.Done(); a.team(ctx, t) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.commandCentre(ctx) }()
	if err := a.prepareEvent(ctx, cmd); err != nil && ctx.Err() == nil {
		a.log.Warn("demo: event", "err", err)
	} else if err := a.dutyDay(ctx, cmd); err != nil && ctx.Err() == nil {
		a.log.Warn("demo: duty logs", "err", err)
	}
	if err := a.banquets(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("demo: banquets", "err", err)
	}
	if err := a.publicSide(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("demo: market self-tests, lab report and a complaint", "err", err)
	}
	wg.Wait()
}

func ptr(p orb.Point) *assurance.Point { return &assurance.Point{Lon: p[0], Lat: p[1]} }

func (a *assuranceRun) setupTeams(ctx context.Context, cmd *apiClient) error {
	for _, t := range a.v.Teams {
		mode := engine.ModePatrol
		if t.Mode == venue.Stationed {
			mode = engine.ModeStationed
		}
		err := cmd.do(ctx, "POST", "/api/v1/teams", engine.Team{ID: t.ID, Name: t.Name, NameEN: t.NameEN, Mode: mode, KitchenID: t.KitchenID,
			EventID: a.event, Leader: t.Leader, Members: []string{"insp-" + t.ID}, Home: ptr(t.Home), Position: ptr(t.Home), OnDuty: true}, nil)
		if err != nil {
			return err
		}
	}
	a.say("%d assurance teams on duty (保障组: %d stationed 驻点, %d patrol 巡查)", len(a.v.Teams), 2, len(a.v.Teams)-2)
	return nil
}

// prepareEvent files the event and takes it through early intervention,
// menu assessment and the kitchens' readiness to live (全程防控).
func (a *assuranceRun) prepareEvent(ctx context.Context, cmd *apiClient) error {
	v := a.v
	first := assurance.DateOf(v.Start)
	f := assurance.EventFiling{Name: v.Event, Organiser: assurance.Organiser{Name: "南通市人民政府办公室", Contact: "王处长", Phone: "0513-85098000"},
		FirstDay: first, LastDay: assurance.DateOf(v.End.Add(-time.Hour)), Headcount: 12000, Mode: assurance.SupervisionFull,
		NotifiedOn: first.AddDays(-35), Venues: []assurance.Venue{{ID: v.ID, Name: v.Name, Point: ptr(v.Centre)}}}
	for _, k := range v.Kitchens {
		cid := "C-" + k.ID
		f.Caterers = append(f.Caterers, assurance.Caterer{ID: cid, Name: k.Caterer})
		f.Kitchens = append(f.Kitchens, assurance.Kitchen{ID: k.ID, Name: k.Name, CatererID: cid, VenueID: v.ID, Point: ptr(k.Point)})
	}
	var ev engine.EventView
	err := cmd.do(ctx, "POST", "/api/v1/events", map[string]any{"id": a.event, "filing": f, "note": "主办方按期报备"}, &ev)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == 409 {
		if err := cmd.do(ctx, "GET", "/api/v1/events/"+a.event, nil, &ev); err != nil {
			return err
		}
		a.say("event %s already %s (%s) from an earlier run", a.event, ev.Phase, ev.PhaseLabel.ZH)
		return nil
	} else if err != nil {
		return err
	}
	a.say("event filed 重大活动已备案: %s, %s–%s, %d kitchens", v.Event, f.FirstDay, f.LastDay, len(f.Kitchens))
	phase := func(to, note string) error {
		err := cmd.do(ctx, "POST", "/api/v1/events/"+a.event+"/phase", map[string]any{"to": to, "note": note}, &ev)
		if err == nil {
			a.say("event → %s (%s)", ev.Phase, ev.PhaseLabel.ZH)
		}
		return err
	}
	if err := phase("preparing", "提前介入：审查菜单、培训、演练"); err != nil {
		return err
	}
	if err := a.menus(ctx); err != nil {
		return err
	}
	// Readiness, item by item, by each kitchen's stationed team or the
	// patrol team 1.
	staff := []assurance.StaffMember{
		{Name: "王建华", Post: "厨师长", Cert: assurance.HealthCertificate{Number: "NT-JK-0001", ValidUntil: f.LastDay.AddDays(200)}},
		{Name: "李秀英", Post: "切配", Cert: assurance.HealthCertificate{Number: "NT-JK-0002", ValidUntil: f.LastDay.AddDays(90)}},
		{Name: "陈志明", Post: "面点", Cert: assurance.HealthCertificate{Number: "NT-JK-0003", ValidUntil: f.LastDay.AddDays(30)}},
	}
	for i, k := range v.Kitchens {
		insp := newClient(a.base, a.users.inspectors[a.teamFor(k.ID)])
		kiosk := fmt.Sprintf("K-NT-%02d", i%a.o.Kiosks+1)
		items := []map[string]any{
			{"item": "responsibility_commitment", "ref": "承诺书-" + k.ID},
			{"item": "implementation_plan", "ref": "实施方案-" + k.ID},
			{"item": "emergency_plan", "ref": "应急预案-" + k.ID},
			{"item": "emergency_drill", "note": "食物中毒应急演练"},
			{"item": "training", "note": "从业人员食品安全培训"},
			{"item": "health_certificate", "staff": staff},
			{"item": "sample_retention", "retention": engine.RetentionInput{FridgeID: "留样柜-" + k.ID, Responsible: "李秀英", MassG: 150, HoldHours: 48}},
			{"item": "kiosk_ready", "kiosk_id": kiosk, "instruments": calibrations(i%a.o.Kiosks, first)},
		}
		for _, it := range items {
			if err := insp.do(ctx, "POST", "/api/v1/events/"+a.event+"/kitchens/"+k.ID+"/readiness", it, &ev); err != nil {
				return fmt.Errorf("readiness %s %v: %w", k.ID, it["item"], err)
			}
			sleep(ctx, 100*time.Millisecond)
		}
	}
	// The kiosks must be online with their instruments before the gate
	// opens; a refusal lists what is still open.
	for try := 0; ; try++ {
		err := phase("ready", "")
		if err == nil {
			break
		}
		if try%10 == 0 {
			a.say("not ready yet 尚未就绪: %v", err)
		}
		if try > 120 || !sleep(ctx, 500*time.Millisecond) {
			return err
		}
	}
	return phase("live", "开幕，全程防控")
}

// teamFor returns the team stationed at a kitchen, else the first patrol.
func (a *assuranceRun) teamFor(kitchen string) string {
	for _, t := range a.v.Teams {
		if t.KitchenID == kitchen {
			return t.ID
		}
	}
	for _, t := range a.v.Teams {
		if t.Mode == venue.Patrol {
			return t.ID
		}
	}
	return a.v.Teams[0].ID
}

var kitchenDishes = [][]assurance.Dish{
	{{Name: "清蒸长江鲥鱼", Category: assurance.CategoryHotDish}, {Name: "凉拌黄瓜", Category: assurance.CategoryColdDish},
		{Name: "文蛤炖蛋", Category: assurance.CategoryHotDish}, {Name: "西亭脆饼", Category: assurance.CategoryPastry}},
	{{Name: "红烧狮子头", Category: assurance.CategoryHotDish}, {Name: "凉拌鲜黄花菜", Category: assurance.CategoryColdDish},
		{Name: "清炒时蔬", Category: assurance.CategoryHotDish}, {Name: "银耳羹", Category: assurance.CategorySoup}},
	{{Name: "盐水鸭", Category: assurance.CategoryColdDish}, {Name: "狼山鸡汤", Category: assurance.CategorySoup}, {Name: "扬州炒饭", Category: assurance.CategoryStaple}},
	{{Name: "红烧肉", Category: assurance.CategoryHotDish}, {Name: "清炒四季豆", Category: assurance.CategoryHotDish}, {Name: "米饭", Category: assurance.CategoryStaple}},
}

// menus assesses each kitchen's menu: flagged dishes get controls; the
// fresh day-lily dish is forbidden, so that menu is rejected, revised
// without it and approved.
func (a *assuranceRun) menus(ctx context.Context) error {
	for i, k := range a.v.Kitchens {
		insp := newClient(a.base, a.users.inspectors[a.teamFor(k.ID)])
		dishes := kitchenDishes[i%len(kitchenDishes)]
		var m engine.MenuView
		if err := insp.do(ctx, "POST", "/api/v1/menus", map[string]any{"owner_id": k.ID, "dishes": dishes}, &m); err != nil {
			return fmt.Errorf("menu %s: %w", k.ID, err)
		}
		path := "/api/v1/menus/" + m.ID
		submit := func() error {
			return insp.do(ctx, "POST", path+"/transition", map[string]any{"to": "submitted"}, &m)
		}
		decideAll := func() (rejected bool, err error) {
			for _, s := range m.Screening {
				if len(s.Flags) == 0 {
					continue
				}
				var controls []string
				body := map[string]any{"dish": s.Dish, "outcome": "require_controls"}
				for _, fl := range s.Flags {
					if fl.Severity == assurance.SeverityForbid {
						body = map[string]any{"dish": s.Dish, "outcome": "reject", "note": fl.Label.ZH}
						rejected = true
						break
					}
					if fl.Controls.ZH != "" {
						controls = append(controls, fl.Controls.ZH)
					}
				}
				if body["outcome"] == "require_controls" {
					body["controls"] = cmp.Or(strings.Join(controls, "；"), "加热彻底，专人专区加工")
				}
				if err := insp.do(ctx, "POST", path+"/decisions", body, &m); err != nil {
					return rejected, err
				}
			}
			return rejected, nil
		}
		if err := submit(); err != nil {
			return err
		}
		rejected, err := decideAll()
		if err != nil {
			return err
		}
		if rejected {
			if err := insp.do(ctx, "POST", path+"/transition", map[string]any{"to": "rejected", "note": "含禁用菜品"}, &m); err != nil {
				return err
			}
			a.say("menu of %s rejected 菜单评估不通过 (forbidden dish); revised", k.ID)
			if err := insp.do(ctx, "POST", path+"/transition", map[string]any{"to": "draft", "note": "撤下禁用菜品"}, &m); err != nil {
				return err
			}
			keep := slices.DeleteFunc(slices.Clone(dishes), func(d assurance.Dish) bool { return strings.Contains(d.Name, "鲜黄花菜") })
			if err := insp.do(ctx, "PUT", path+"/dishes", map[string]any{"dishes": keep}, &m); err != nil {
				return err
			}
			if err := submit(); err != nil {
				return err
			}
			if _, err := decideAll(); err != nil {
				return err
			}
		}
		to := "approved"
		for _, s := range m.Screening {
			if len(s.Flags) > 0 {
				to = "approved_with_controls"
			}
		}
		if err := insp.do(ctx, "POST", path+"/transition", map[string]any{"to": to}, &m); err != nil {
			return err
		}
	}
	a.say("menus assessed 菜单评估: %d kitchens", len(a.v.Kitchens))
	return nil
}

var banquetTypes = map[venue.BanquetType]assurance.BanquetType{venue.Wedding: assurance.BanquetWedding, venue.Birthday: assurance.BanquetBirthday,
	venue.HouseMoving: assurance.BanquetHousewarming, venue.Funeral: assurance.BanquetFuneral}

var chefSources = map[string]assurance.ChefSource{"外请厨师": assurance.ChefHired, "家庭成员": assurance.ChefFamily, "亲朋好友": assurance.ChefRelatives}

// banquets registers village chefs, files the venue's rural banquets
// (guidance is assigned by the command from 50 diners), and has the
// guidance team check the first two: one clean, one with a finding that
// is rectified with a photo.
func (a *assuranceRun) banquets(ctx context.Context) error {
	op := newClient(a.base, a.users.operator)
	chefs := []assurance.VillageChef{
		{ID: "VC-001", Name: "陈德胜", Phone: "13962881234", Trainings: 3, ServiceArea: "先锋街道",
			Cert: assurance.HealthCertificate{Number: "NT-CS-101", ValidUntil: assurance.DateOf(a.v.End).AddDays(180)}},
		{ID: "VC-002", Name: "沈卫东", Phone: "13962885678", Trainings: 1, ServiceArea: "兴仁镇",
			Cert: assurance.HealthCertificate{Number: "NT-CS-102", ValidUntil: assurance.DateOf(a.v.End).AddDays(60)}},
		{ID: "VC-003", Name: "顾永刚", Phone: "13862221111", Trainings: 0, ServiceArea: "刘桥镇",
			Cert: assurance.HealthCertificate{Number: "NT-CS-103", ValidUntil: assurance.DateOf(a.v.Start).AddDays(-3)}},
	}
	for _, c := range chefs {
		if err := op.do(ctx, "POST", "/api/v1/chefs", c, nil); err != nil {
			return err
		}
	}
	filed := 0
	for i, b := range a.v.Banquets {
		var sittings []assurance.Sitting
		for d := b.Start; d.Before(b.End); d = d.AddDate(0, 0, 1) {
			meal := assurance.MealLunch
			if d.Hour() >= 15 {
				meal = assurance.MealDinner
			}
			sittings = append(sittings, assurance.Sitting{Date: assurance.DateOf(d), Meal: meal})
		}
		cook := assurance.BanquetCook{Name: chefs[i%len(chefs)].Name, Role: assurance.CookChef, ChefID: chefs[i%len(chefs)].ID, Cert: assurance.CertValid}
		if i%len(chefs) == 2 {
			cook.Cert = assurance.CertExpired
		}
		f := assurance.BanquetFiling{FilingNo: b.FilingNo, Town: b.Town, Village: b.Village,
			Host: assurance.Host{Name: b.Host, Phone: strings.ReplaceAll(b.Phone, "*", "6")}, Type: banquetTypes[b.Type],
			Place: b.Village + b.Host + "宅", Point: ptr(b.Point), Sittings: sittings, Headcount: b.Headcount,
			ChefSource: chefSources[b.ChefSource], Cooks: []assurance.BanquetCook{cook, {Name: b.Host, Role: assurance.CookHelper, Cert: assurance.CertValid}},
			Menu: []assurance.Dish{{Name: "红烧蹄髈"}, {Name: "清蒸白鱼"}, {Name: "凉拌海蜇", Category: assurance.CategoryColdDish}}}
		var res struct {
			Banquet engine.Banquet `json:"banquet"`
		}
		err := op.do(ctx, "POST", "/api/v1/banquets", map[string]any{"id": b.ID, "filing": f}, &res)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == 409 {
			continue
		}
		if err != nil {
			return fmt.Errorf("banquet %s: %w", b.ID, err)
		}
		filed++
		if i >= 2 || res.Banquet.TeamID == "" {
			continue
		}
		insp := newClient(a.base, a.users.inspectors[res.Banquet.TeamID])
		path := "/api/v1/banquets/" + b.ID
		step := func(body map[string]any) error { return insp.do(ctx, "POST", path+"/transition", body, nil) }
		if i == 0 {
			if err := step(map[string]any{"to": "on_site_checked", "note": "现场指导：生熟分开、留样到位"}); err != nil {
				return err
			}
			if err := step(map[string]any{"to": "closed", "note": "聚餐结束，无不适"}); err != nil {
				return err
			}
			continue
		}
		if err := step(map[string]any{"to": "on_site_checked", "findings": []assurance.Finding{{Text: "凉菜未专间加工", Severity: assurance.FindingMinor}}}); err != nil {
			return err
		}
		if err := step(map[string]any{"to": "rectifying"}); err != nil {
			return err
		}
		ref, err := insp.upload(ctx, path+"/evidence", "photo", "rectified.png", demoPhoto(uint64(i)+99))
		if err != nil {
			return err
		}
		if err := insp.do(ctx, "POST", path+"/rectifications/R1/close", map[string]any{"note": "已设临时凉菜间",
			"evidence": []assurance.EvidenceRef{{Kind: "photo", Ref: ref}}}, nil); err != nil {
			return err
		}
		if err := step(map[string]any{"to": "closed", "note": "整改到位"}); err != nil {
			return err
		}
	}
	a.say("%d rural banquets filed 农村集体聚餐已备案 (guidance assigned from 50 diners); village-chef register: %d", filed, len(chefs))
	return nil
}

// team is one assurance team's members in the field: they walk to the
// incident assigned to them, arrive, seal, send to the lab, record the
// lab's answer and dispose, with photos. Between incidents a patrol team
// walks its day's patrol plan and records its visits; a stationed team
// stays at its kitchen.
func (a *assuranceRun) team(ctx context.Context, t venue.Team) {
	c := newClient(a.base, a.users.inspectors[t.ID])
	rnd := rand.New(rand.NewPCG(a.o.Seed, uint64(len(t.ID))*7919+uint64(t.ID[len(t.ID)-1])))
	pos := t.Home
	var plan []engine.PlanStop
	planned := false
	tick := time.NewTicker(stepEvery)
	defer tick.Stop()
	moveTo := func(dst orb.Point) bool { // true when arrived
		d := geo.Distance(pos, dst)
		step := walkSpeed * stepEvery.Seconds()
		if d <= step {
			pos = dst
		} else {
			f := step / d
			pos = orb.Point{pos[0] + (dst[0]-pos[0])*f, pos[1] + (dst[1]-pos[1])*f}
		}
		c.do(ctx, "POST", "/api/v1/teams/"+t.ID+"/position", assurance.Point{Lon: pos[0], Lat: pos[1]}, nil)
		return d <= step
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var incs []engine.Incident
		if err := c.do(ctx, "GET", "/api/v1/incidents?open=1&team="+t.ID, nil, &incs); err != nil {
			continue
		}
		slices.SortFunc(incs, func(x, y engine.Incident) int { return x.OpenedAt.Compare(y.OpenedAt) })
		moving := false
		for _, inc := range incs {
			if inc.TeamID != t.ID {
				continue
			}
			if a.work(ctx, c, rnd, inc, &pos, moveTo, &moving) {
				break // one field step per tick
			}
		}
		if moving || t.Mode == venue.Stationed {
			continue // busy with an incident, or posted at its kitchen
		}
		// Idle: walk the patrol plan.
		if !planned {
			var p engine.PatrolPlan
			if err := c.do(ctx, "GET", "/api/v1/patrols/plan?team="+t.ID+"&max=8", nil, &p); err == nil {
				plan, planned = p.Stops, true
				a.say("%s patrol plan 巡查路线: %d stops, %.0f m", t.Name, len(p.Stops), p.Metres)
			}
		}
		if len(plan) == 0 {
			moveTo(t.Home)
			continue
		}
		next := plan[0]
		if moveTo(orb.Point{next.Point.Lon, next.Point.Lat}) {
			visit := map[string]any{"target_id": next.TargetID, "team_id": t.ID, "note": "例行巡查"}
			if rnd.IntN(5) == 0 {
				visit["findings"] = []assurance.Finding{{Text: "餐具消毒记录不全", Severity: assurance.FindingMinor}}
			}
			c.do(ctx, "POST", "/api/v1/patrols/visits", visit, nil)
			plan = plan[1:]
		}
	}
}

// work does the next step of one incident if it is due, and reports
// whether it used the tick.
func (a *assuranceRun) work(ctx context.Context, c *apiClient, rnd *rand.Rand, inc engine.Incident, pos *orb.Point,
	moveTo func(orb.Point) bool, moving *bool) bool {
	path := "/api/v1/incidents/" + inc.ID
	since := time.Since(inc.StateSince)
	step := func(body map[string]any) {
		if err := c.do(ctx, "POST", path+"/transition", body, nil); err != nil {
			a.log.Info("demo: step refused", "incident", inc.ID, "to", body["to"], "err", err)
		}
	}
	evidence := func(kind, name string, data []byte) []assurance.EvidenceRef {
		ref, err := c.upload(ctx, path+"/evidence", kind, name, data)
		if err != nil {
			a.log.Info("demo: upload refused", "incident", inc.ID, "err", err)
			return nil
		}
		return []assurance.EvidenceRef{{Kind: kind, Ref: ref}}
	}
	switch inc.State {
	case assurance.IncidentAssigned:
		if inc.Trigger.Where == nil {
			return false
		}
		*moving = true
		if moveTo(orb.Point{inc.Trigger.Where.Lon, inc.Trigger.Where.Lat}) {
			step(map[string]any{"to": "on_site", "note": "到达" + inc.SubjectName})
		}
		return true
	case assurance.IncidentOnSite:
		*moving = true // stays at the stall until the batch is sealed and sent off
		if since < fieldStep {
			return false
		}
		if inc.Trigger.Kind != assurance.TriggerPositive {
			step(map[string]any{"to": "cleared", "note": "留样复测阴性，解除 / repeat test negative"})
			return true
		}
		step(map[string]any{"to": "controlled", "controls": []string{"sealed", "sale_stopped"}, "note": "封存样品批次，暂停销售",
			"evidence": evidence("seal_record", "seal.png", demoPhoto(rnd.Uint64()))})
		return true
	case assurance.IncidentControlled:
		*moving = true
		if since < fieldStep {
			return false
		}
		step(map[string]any{"to": "lab_sent", "note": "送南通市食品药品监督检验中心",
			"lab": assurance.LabSubmission{Lab: "南通市食品药品监督检验中心", SampleID: "NT-" + inc.ID[4:],
				Method: assurance.TestMethod{Kind: assurance.MethodLab, Name: "GB 23200.113-2018 GC-MS/MS"}}})
		return true
	case assurance.IncidentLabSent:
		if since < labTime {
			return false
		}
		report := evidence("lab_report", "report.pdf", labReport(inc.ID))
		if rnd.IntN(10) < 7 {
			step(map[string]any{"to": "confirmed_positive", "note": "实验室确证：毒死蜱超标", "evidence": report})
		} else {
			step(map[string]any{"to": "cleared", "note": "实验室检验合格，排除", "evidence": report})
		}
		return true
	case assurance.IncidentConfirmedPositive:
		// Back to the stall: the batch is destroyed under the team's eyes.
		if inc.Trigger.Where == nil {
			return false
		}
		*moving = true
		if !moveTo(orb.Point{inc.Trigger.Where.Lon, inc.Trigger.Where.Lat}) || since < fieldStep {
			return true
		}
		step(map[string]any{"to": "disposed", "note": "监督下无害化处置（粉碎深埋）",
			"evidence": evidence("photo", "disposal.png", demoPhoto(rnd.Uint64()))})
		return true
	}
	return false
}

// commandCentre signs off (销号, the duty commander) and closes (the
// commander) what the teams finished, and now and then a stall asks for a
// re-test within 4 hours (recorded by the operator, honoured, by the lab).
func (a *assuranceRun) commandCentre(ctx context.Context) {
	duty, cmd, op := newClient(a.base, a.users.duty), newClient(a.base, a.users.commander), newClient(a.base, a.users.operator)
	rnd := rand.New(rand.NewPCG(a.o.Seed, 42))
	retested := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var alarms []store.Alarm
		if err := cmd.do(ctx, "GET", "/api/v1/alarms?open=1&limit=200", nil, &alarms); err == nil {
			for _, al := range slices.Backward(alarms) {
				if al.Code == "incident_overdue" || al.Code == "cluster_warning" || al.Code == "no_team_available" {
					a.once(fmt.Sprint("alarm/", al.Seq), "ALERT %s", al.Message)
				}
			}
		}
		var incs []engine.Incident
		if err := cmd.do(ctx, "GET", "/api/v1/incidents?open=1", nil, &incs); err != nil {
			continue
		}
		for _, inc := range slices.Backward(incs) {
			team := inc.TeamID
			if team == "" {
				team = "—"
			}
			a.once(inc.ID+"/opened", "incident %s %s at %s (%s) → %s %s", inc.ID, inc.Trigger.Kind.Label().ZH, inc.SubjectName,
				inc.Trigger.SubjectID, team, inc.StateLabel.ZH)
			path := "/api/v1/incidents/" + inc.ID + "/transition"
			since := time.Since(inc.StateSince)
			switch {
			case (inc.State == assurance.IncidentDisposed || inc.State == assurance.IncidentCleared) && since >= signAfter:
				if duty.do(ctx, "POST", path, map[string]any{"to": "signed_off", "note": "处置到位，同意销号"}, nil) == nil {
					a.once(inc.ID+"/signed", "incident %s 销号 signed off (%s)", inc.ID, inc.SubjectName)
				}
			case inc.State == assurance.IncidentSignedOff && since >= signAfter:
				cmd.do(ctx, "POST", path, map[string]any{"to": "closed", "note": "归档"}, nil)
			case inc.State == assurance.IncidentControlled && inc.Trigger.Kind == assurance.TriggerPositive && !retested[inc.ID]:
				retested[inc.ID] = true
				if rnd.IntN(4) == 0 {
					err := op.do(ctx, "POST", "/api/v1/incidents/"+inc.ID+"/retest", map[string]any{"party": inc.SubjectName,
						"method": assurance.TestMethod{Kind: assurance.MethodLab, Name: "GB 23200.113-2018 GC-MS/MS"}}, nil)
					if err == nil {
						a.say("incident %s: %s asked for a re-test 申请复检 (within 4 h, laboratory method) — honoured", inc.ID, inc.SubjectName)
					}
				}
			}
		}
	}
}

// once says something the first time a key is seen.
func (a *assuranceRun) once(key, format string, args ...any) {
	a.mu.Lock()
	_, seen := a.seen[key]
	if !seen {
		a.seen[key] = time.Now()
	}
	a.mu.Unlock()
	if !seen {
		a.say(format, args...)
	}
}

// summary prints the incidents by state and the KPIs.
func (a *assuranceRun) summary(ctx context.Context) {
	c := newClient(a.base, a.users.viewer)
	var incs []engine.Incident
	if err := c.do(ctx, "GET", "/api/v1/incidents?limit=10000", nil, &incs); err != nil {
		return
	}
	by := map[assurance.IncidentState]int{}
	for _, inc := range incs {
		by[inc.State]++
	}
	var parts []string
	for _, s := range assurance.IncidentStates() {
		if by[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s %d", s, s.Label().ZH, by[s]))
		}
	}
	fmt.Fprintf(a.out, "incidents 风险处置事件: %d — %s\n", len(incs), strings.Join(parts, ", "))
	var k struct {
		Report assurance.KPIReport `json:"report"`
	}
	if err := c.do(ctx, "GET", "/api/v1/kpis?event="+url.QueryEscape(a.event), nil, &k); err == nil {
		t := k.Report.Total
		fmt.Fprintf(a.out, "KPIs: tests %d, 疑似阳性检出率 %d/%d, 无害化处置率 %d/%d, median time to arrive %s, to close %s, readiness %d/%d\n",
			t.Tests, t.DetectionRate.Num, t.DetectionRate.Den, t.DisposalRate.Num, t.DisposalRate.Den,
			t.TimeToArrive.Median.Round(100*time.Millisecond), t.TimeToClose.Median.Round(100*time.Millisecond), t.Readiness.Num, t.Readiness.Den)
	}
}

// demoPhoto is a small distinct PNG standing in for a photo.
func demoPhoto(seed uint64) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	r := rand.New(rand.NewPCG(seed, 1))
	for y := range 24 {
		for x := range 32 {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(100 + 50*math.Sin(float64(x)/5)), 80, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// labReport is a minimal PDF standing in for the laboratory's report.
func labReport(id string) []byte {
	return []byte("%PDF-1.4\n% Shian demo lab report for " + id + "\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// missedKitchen is the kitchen (by index) whose stationed team forgets to
// retain its last dish: the retention alarm the demo shows.
const missedKitchen = 1

// dutyDay runs a meal at every kitchen the way the stationed teams log it
// (驻点保障工作日志): the lunch service starts in a few seconds and the
// retention grace is compressed to 15 s; each team records the morning
// check of the kitchen staff, a retained sample of every dish (but one
// kitchen misses its last dish, and the retention alarm follows), the core
// temperature of a hot dish, the cold-dish room and the tableware
// disinfection, and a problem fixed on the spot. Then the command centre
// runs one emergency drill (应急演练) on the first kitchen's meal from the
// report to its conclusion, and a training session is recorded.
func (a *assuranceRun) dutyDay(ctx context.Context, cmd *apiClient) error {
	now := time.Now()
	staff := []map[string]any{
		{"worker": "王建华", "post": "厨师长", "present": true, "healthy": true, "hands_ok": true, "certificate": true},
		{"worker": "李秀英", "post": "切配", "present": true, "healthy": true, "hands_ok": true, "certificate": true},
		{"worker": "陈志明", "post": "面点", "present": true, "healthy": true, "hands_ok": true, "certificate": true},
	}
	var first engine.MealView
	for i, k := range a.v.Kitchens {
		insp := newClient(a.base, a.users.inspectors[a.teamFor(k.ID)])
		var dishes []assurance.MealDish
		for j, d := range kitchenDishes[i%len(kitchenDishes)] {
			if strings.Contains(d.Name, "鲜黄花菜") { // forbidden at the menu review
				continue
			}
			dishes = append(dishes, assurance.MealDish{ID: fmt.Sprintf("d%d", j+1), Name: d.Name, Category: d.Category})
		}
		diners := 400 + 120*i
		var m engine.MealView
		start := now.Add(3 * time.Second)
		id := fmt.Sprintf("M-%s-%s-%s", k.ID, start.In(assurance.ChinaStandardTime).Format("20060102"), assurance.MealLunch)
		if insp.do(ctx, "GET", "/api/v1/meals/"+url.PathEscape(id), nil, &m) == nil {
			if i == 0 {
				first = m
			}
			a.say("duty log %s already kept today (an earlier run)", m.ID)
			continue
		}
		err := insp.do(ctx, "POST", "/api/v1/meals", assurance.EventMeal{EventID: a.event, KitchenID: k.ID, Meal: assurance.MealLunch, Name: "工作午餐",
			Start: start, End: now.Add(80 * time.Minute), Dishes: dishes, Diners: diners, Tables: diners / 10}, &m)
		if err != nil {
			return fmt.Errorf("meal at %s: %w", k.ID, err)
		}
		if i == 0 {
			first = m
		}
		path := "/api/v1/meals/" + url.PathEscape(m.ID) + "/duty"
		entries := []map[string]any{{"morning": staff}}
		for j, d := range dishes {
			if i == missedKitchen && j == len(dishes)-1 {
				continue // forgotten: the alarm
			}
			entries = append(entries, map[string]any{"sample": map[string]any{"dish_id": d.ID, "mass": 150000 + 10000*j,
				"fridge_id": "留样柜-" + k.ID, "by": "李秀英", "source": "kiosk_scale"}})
		}
		entries = append(entries,
			map[string]any{"check": map[string]any{"kind": "core_temp_check", "dish_id": dishes[0].ID, "temp": 78500, "source": "kiosk_probe"}},
			map[string]any{"check": map[string]any{"kind": "cold_room_check", "temp": 22000}},
			map[string]any{"check": map[string]any{"kind": "tableware_disinfection", "disinfected": true, "method": "热力消毒（消毒柜）"}},
			map[string]any{"problem": map[string]any{"text": "垃圾桶未加盖", "fixed": true, "fix": "已当场加盖"}})
		for _, e := range entries {
			if err := insp.do(ctx, "POST", path, e, &m); err != nil {
				return fmt.Errorf("duty log %s: %w", m.ID, err)
			}
		}
		a.say("duty log 驻点保障工作日志 %s %s: %d staff checked, %d of %d dishes retained, %d gaps", k.Name, m.ID, len(staff), len(m.Log.Samples), len(dishes), len(m.Gaps))
	}

	// The drill (应急演练): reported by the command centre once the lunch is
	// served, the same flow as a real emergency, closed as a drill.
	if !sleep(ctx, time.Until(first.Start.Add(2*time.Second))) {
		return ctx.Err()
	}
	var ems []engine.Emergency
	if err := cmd.do(ctx, "GET", "/api/v1/emergencies?event="+url.QueryEscape(a.event), nil, &ems); err != nil {
		return err
	}
	if slices.ContainsFunc(ems, func(e engine.Emergency) bool { return e.Drill }) {
		a.say("the drill was run by an earlier run")
		return nil
	}
	var em engine.EmergencyView
	err := cmd.do(ctx, "POST", "/api/v1/emergencies", map[string]any{"drill": true, "report": assurance.IllnessReport{
		Reporter: "演练导调组", MealID: first.ID, Symptoms: []string{"腹痛", "腹泻", "呕吐"}, OnsetAt: time.Now(),
		Tables: []string{"3", "7"}, Ill: 12, Severe: 1, Note: "应急演练：模拟工作午餐后多人腹泻"}}, &em)
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	a.say("drill 应急演练 %s opened at %s (%s), %d samples frozen, %d teams sent", em.ID, em.Level, em.LevelLabel.ZH, len(em.Dishes), len(em.Dispatches))
	insp := newClient(a.base, a.users.inspectors[a.teamFor(first.KitchenID)])
	act := "/api/v1/emergencies/" + em.ID + "/actions"
	for _, step := range []string{"patients_treated", "scene_controlled", "samples_to_lab", "investigation"} {
		sleep(ctx, 300*time.Millisecond)
		if err := insp.do(ctx, "POST", act, map[string]any{"step": step}, &em); err != nil {
			return fmt.Errorf("drill step %s: %w", step, err)
		}
	}
	if err := cmd.do(ctx, "POST", act, map[string]any{"close": map[string]any{"cause": "drill_completed",
		"text": "演练按预案完成：接报至派组 1 分钟内，留样全部封存，各环节衔接顺畅"}}, &em); err != nil {
		return fmt.Errorf("drill close: %w", err)
	}
	a.say("drill 应急演练 %s closed: %s", em.ID, em.Conclusion.Text)
	var tr assurance.Training
	err = insp.do(ctx, "POST", "/api/v1/trainings", assurance.Training{EventID: a.event, KitchenID: first.KitchenID, Topic: "食物中毒应急处置",
		Content: "报告程序、留样封存、现场控制、病人救治", Trainer: "市疾控中心 张医生", Attendees: []string{"王建华", "李秀英", "陈志明"}, Minutes: 45}, &tr)
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	a.say("training 培训指导 %s: %s, %d attendees", tr.ID, tr.Topic, len(tr.Attendees))
	return nil
}
