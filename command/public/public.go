// Package public is the diners' side of Shian (信息公示 and 社会共治): the
// page a scanned stall label opens, without a login, and the complaint and
// whistleblower form (投诉举报 / 吹哨人) with its private follow-up code.
//
// # What a diner sees
//
// [StallView] is the whole of what the public API says about a stall: its
// name, zone and registration (备案) details, its risk grade with what the
// grade means, its latest results (method, item, sample, verdict, date and
// tier — never the operator, the kiosk, the raw values or a result id),
// the disposals and rectifications published (公示) once signed off, and
// the event on today. Results are published after Options.ResultDelay and
// notices after Options.NoticeDelay; either can be switched off.
//
// # Safe to expose
//
// Every route is read-only except the complaint, every answer is JSON
// built from the fields above (the page puts it on screen as text nodes),
// and each client address has a token bucket per kind of request
// ([Limiter]): reading, filing, looking up a code. The client address is
// the API's (api.Server.ClientAddr): the TCP peer, or behind a trusted
// proxy the X-Forwarded-For client, so diners behind one proxy are
// limited apart and a forged header from anyone else is not believed. A complaint's photos are
// sniffed (JPEG, PNG, GIF, WebP), at most 5 MiB and 3 per complaint, and
// stored as the incident's evidence; the same complaint twice in a day is
// recognised and refused. No third-party captcha.
//
// # Routes
//
//	GET  /s/{id}                       the stall's public page (a QR label's address)
//	GET  /complain                     the general complaint page (a point on the map)
//	GET  /api/public/stalls/{id}       StallView
//	POST /api/public/complaints        multipart: description, stall | lon+lat, observed_at, contact, whistleblower, photo ×3
//	GET  /api/public/complaints/{code} ComplaintStatus: stage, reply, reply deadline
//	GET  /api/v1/complaints            commander: every complaint with its contact
//	POST /api/v1/incidents/{id}/reply  commander: {"text"}: the answer the complainant sees
package public

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Options configures what is published.
type Options struct {
	// ResultDelay holds a result back from the public page this long
	// after it was measured (0: at once). NoResults publishes none.
	ResultDelay time.Duration
	NoResults   bool
	// NoticeDelay holds a disposal notice back this long after its
	// sign-off. NoNotices publishes none.
	NoticeDelay time.Duration
	NoNotices   bool
	// Pages is the file system holding public.html (command/web's).
	Pages fs.FS
	Now   func() time.Time
	Log   *slog.Logger
}

// Results is what the public side reads of the history.
type Results interface {
	Results(f history.Filter) ([]wire.Result, error)
}

// Register adds the public routes and the commanders' complaint routes.
func Register(s *api.Server, e *engine.Engine, res Results, opts Options) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	p := &pub{s: s, e: e, res: res, o: opts,
		read:   NewLimiter(2, 60, opts.Now),      // 2 per second, bursts of 60
		file:   NewLimiter(1.0/300, 8, opts.Now), // 8 complaints, then one per 5 minutes
		lookup: NewLimiter(0.5, 20, opts.Now)}    // follow-up codes: 20, then one per 2 s
	page := p.limited(p.read, http.HandlerFunc(p.page))
	s.Mount("GET /s/{id}", page)
	s.Mount("GET /complain", page)
	s.Mount("GET /api/public/stalls/{id}", p.limited(p.read, p.wrap(p.stall)))
	s.Mount("POST /api/public/complaints", p.limited(p.file, p.wrap(p.complain)))
	s.Mount("GET /api/public/complaints/{code}", p.limited(p.lookup, p.wrap(p.followUp)))
	s.Handle("GET /api/v1/complaints", assurance.RoleCommander, p.listComplaints)
	s.Handle("POST /api/v1/incidents/{id}/reply", assurance.RoleCommander, p.reply)
}

type pub struct {
	s                  *api.Server
	e                  *engine.Engine
	res                Results
	o                  Options
	read, file, lookup *Limiter
}

func (p *pub) wrap(h api.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			api.WriteError(w, p.o.Log, err)
		}
	})
}

func (p *pub) limited(l *Limiter, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The client the API sees too: the TCP peer, or behind a trusted
		// proxy (--trusted-proxy) the address it forwards for, so that
		// diners behind one proxy are limited apart.
		if wait, ok := l.Allow(p.s.ClientAddr(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			api.WriteError(w, p.o.Log, api.Errorf(http.StatusTooManyRequests, "rate_limited",
				"请求过于频繁，请 %d 秒后再试 / too many requests; try again in %d s", int(wait/time.Second)+1, int(wait/time.Second)+1))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// securePublic sets the headers of every public answer.
func securePublic(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

func (p *pub) page(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(p.o.Pages, "public.html")
	if err != nil {
		http.Error(w, "public page not built", http.StatusInternalServerError)
		return
	}
	securePublic(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}

// StallView is everything the public learns about a stall.
type StallView struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	Name         string          `json:"name"`
	NameEN       string          `json:"name_en,omitempty"`
	Zone         string          `json:"zone,omitempty"`
	ZoneEN       string          `json:"zone_en,omitempty"`
	Business     string          `json:"business,omitempty"` // the licence holder (经营主体)
	Category     string          `json:"category,omitempty"`
	Grade        string          `json:"grade,omitempty"` // A–D
	GradeLabel   assurance.Label `json:"grade_label"`
	GradeMeaning assurance.Label `json:"grade_meaning"`
	Results      []PublicResult  `json:"results"`
	Notices      []Notice        `json:"notices"`
	Event        *PublicEvent    `json:"event,omitempty"`
	AsOf         time.Time       `json:"as_of"`
}

// PublicResult is one published test result.
type PublicResult struct {
	Date         string          `json:"date"` // YYYY-MM-DD HH:MM, China Standard Time
	Method       string          `json:"method"`
	MethodLabel  assurance.Label `json:"method_label"`
	Item         string          `json:"item"`
	Sample       string          `json:"sample,omitempty"`
	Verdict      string          `json:"verdict"`
	VerdictLabel assurance.Label `json:"verdict_label"`
	TierLabel    assurance.Label `json:"tier_label"`
}

// Notice is a published disposal or rectification (公示).
type Notice struct {
	Date        string          `json:"date"`
	Kind        string          `json:"kind"` // disposed, cleared, complaint
	KindLabel   assurance.Label `json:"kind_label"`
	What        string          `json:"what,omitempty"` // the item or the complaint's subject
	Controls    []string        `json:"controls,omitempty"`
	SignedOffOn string          `json:"signed_off_on"`
}

// PublicEvent is the major event the stall serves today.
type PublicEvent struct {
	Name       string          `json:"name"`
	Phase      string          `json:"phase"`
	PhaseLabel assurance.Label `json:"phase_label"`
	FirstDay   string          `json:"first_day"`
	LastDay    string          `json:"last_day"`
	Today      bool            `json:"today"`
}

var gradeMeaning = map[string]assurance.Label{
	"A": {ZH: "风险最低：食品安全状况良好，监管部门每年至少检查 1 次", EN: "Lowest risk: a good food-safety record; inspected at least once a year"},
	"B": {ZH: "风险较低：每年检查 1–2 次", EN: "Low risk: inspected once or twice a year"},
	"C": {ZH: "风险较高：重点监管，每年检查 2–3 次", EN: "Higher risk: closely supervised, inspected 2–3 times a year"},
	"D": {ZH: "风险最高：严格监管，每年检查 3–4 次", EN: "Highest risk: strictly supervised, inspected 3–4 times a year"},
}

var methodLabels = map[string]assurance.Label{
	string(assay.EnzymeInhibition): {ZH: "酶抑制率法", EN: "Enzyme inhibition"},
	string(assay.GoldLine):         {ZH: "胶体金法", EN: "Colloidal gold"},
	string(assay.GoldRatio):        {ZH: "胶体金法", EN: "Colloidal gold"},
	string(assay.ATP):              {ZH: "ATP 荧光法", EN: "ATP bioluminescence"},
	string(assay.FryingOil):        {ZH: "煎炸油检测", EN: "Frying oil"},
	string(assay.CoreTemperature):  {ZH: "中心温度", EN: "Core temperature"},
	string(assay.HotHolding):       {ZH: "热藏温度", EN: "Hot holding"},
	string(assay.ColdHolding):      {ZH: "冷藏温度", EN: "Cold holding"},
	string(assay.Frozen):           {ZH: "冷冻温度", EN: "Frozen storage"},
	"lab":                          {ZH: "实验室法定检验方法", EN: "Laboratory (statutory) method"},
	"rapid":                        {ZH: "快速检测方法", EN: "Rapid method"},
}

var cst = time.FixedZone("CST", 8*3600)

func label(id string) assurance.Label {
	for _, l := range assurance.Labels() {
		if l.ID == id {
			return l.Label
		}
	}
	return assurance.Label{ZH: "其他", EN: "Other"}
}

func (p *pub) stall(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var st store.Site
	if err := p.s.Store.Get("site", id, &st); err != nil || st.Kind == "banquet" {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "没有编号为 %q 的摊位；请重新扫描标签 / no stall %q; scan the label again", clip(id), clip(id))
	}
	now := p.o.Now()
	v := StallView{ID: st.ID, Kind: st.Kind, Name: st.Name, NameEN: st.NameEn, Business: st.Business, Category: st.Category,
		Grade: st.Grade, Results: []PublicResult{}, Notices: []Notice{}, AsOf: now}
	var z store.Zone
	if st.ZoneID != "" && p.s.Store.Get("zone", st.ZoneID, &z) == nil {
		v.Zone, v.ZoneEN = z.Name, z.NameEn
	}
	for _, acct := range []string{st.Business, st.ID} {
		if acct == "" {
			continue
		}
		if c, err := p.e.Vendor(acct); err == nil {
			v.Grade = string(c.Grade)
			break
		}
	}
	if v.Grade != "" {
		v.GradeLabel, v.GradeMeaning = label("grade_"+v.Grade), gradeMeaning[v.Grade]
	}
	if !p.o.NoResults {
		rs, err := p.res.Results(history.Filter{StallID: st.ID, Until: now.Add(-p.o.ResultDelay), Limit: 30})
		if err != nil {
			return err
		}
		// Newest measured first (an imported file arrives after the
		// kiosks' results of the same hour).
		slices.SortStableFunc(rs, func(a, b wire.Result) int { return b.MeasuredAt.Compare(a.MeasuredAt) })
		for _, x := range rs {
			vd := x.EffectiveVerdict()
			if vd == assay.Invalid || vd == assay.NotDecided {
				continue // a redone test says nothing to a diner
			}
			zh, en := vd.Label()
			tzh, ten := x.EffectiveTier().Label()
			v.Results = append(v.Results, PublicResult{Date: x.MeasuredAt.In(cst).Format("2006-01-02 15:04"), Method: string(x.Method),
				MethodLabel: cmp.Or(methodLabels[string(x.Method)], assurance.Label{ZH: "快速检测方法", EN: "Rapid method"}),
				Item:        x.Item, Sample: x.Sample.Name, Verdict: string(vd), VerdictLabel: assurance.Label{ZH: zh, EN: en},
				TierLabel: assurance.Label{ZH: tzh, EN: ten}})
			if len(v.Results) == 10 {
				break
			}
		}
	}
	if !p.o.NoNotices {
		incs, err := p.e.Incidents(engine.IncidentFilter{Subject: st.ID, Limit: 50})
		if err != nil {
			return err
		}
		for _, inc := range incs {
			at, ok := signedOff(inc)
			if !ok || now.Sub(at) < p.o.NoticeDelay {
				continue
			}
			kind := "disposed"
			switch {
			case inc.Trigger.Kind == assurance.TriggerComplaint:
				kind = "complaint"
			case reached(inc, assurance.IncidentCleared):
				kind = "cleared"
			}
			n := Notice{Date: inc.OpenedAt.In(cst).Format("2006-01-02"), Kind: kind, What: inc.Trigger.Item, SignedOffOn: at.In(cst).Format("2006-01-02"),
				KindLabel: map[string]assurance.Label{"disposed": {ZH: "不合格产品已无害化处置", EN: "Failed product harmlessly disposed"},
					"cleared": {ZH: "实验室检验排除", EN: "Cleared by the laboratory"}, "complaint": {ZH: "投诉已核查处理", EN: "Complaint checked and handled"}}[kind]}
			for _, c := range inc.Controls {
				n.Controls = append(n.Controls, string(c))
			}
			v.Notices = append(v.Notices, n)
		}
	}
	if st.EventID != "" {
		if ev, err := p.e.Event(st.EventID); err == nil {
			today := assurance.DateOf(now.In(cst))
			v.Event = &PublicEvent{Name: ev.Filing.Name, Phase: string(ev.Phase), PhaseLabel: ev.PhaseLabel,
				FirstDay: ev.Filing.FirstDay.String(), LastDay: ev.Filing.LastDay.String(),
				Today: !today.Before(ev.Filing.FirstDay) && !today.After(ev.Filing.LastDay)}
		}
	}
	securePublic(w)
	// Cached a minute by the phone and any proxy: a poor connection loads
	// the page once; what it shows is public anyway.
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(append(b, '\n'))
	return nil
}

func signedOff(inc engine.Incident) (time.Time, bool) {
	for _, a := range inc.Audit {
		if a.To == string(assurance.IncidentSignedOff) {
			return a.At, true
		}
	}
	return time.Time{}, false
}

func reached(inc engine.Incident, s assurance.IncidentState) bool {
	for _, a := range inc.Audit {
		if a.To == string(s) {
			return true
		}
	}
	return false
}

// complain files a complaint from a multipart form.
func (p *pub) complain(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, engine.MaxPublicPhotos*engine.MaxPublicPhoto+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return api.Invalid("请用表单提交 / send the complaint as multipart/form-data (%v)", err)
	}
	var f engine.ComplaintFiling
	var lon, lat string
	type photo struct {
		name string
		data []byte
	}
	var photos []photo
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return tooLarge(err)
		}
		if part.FormName() == "photo" {
			if part.FileName() == "" {
				continue
			}
			if len(photos) == engine.MaxPublicPhotos {
				return api.Invalid("最多 %d 张照片 / at most %d photos", engine.MaxPublicPhotos, engine.MaxPublicPhotos)
			}
			b, err := io.ReadAll(io.LimitReader(part, engine.MaxPublicPhoto+1))
			if err != nil {
				return tooLarge(err)
			}
			if len(b) > engine.MaxPublicPhoto {
				return api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "照片不能超过 5 MB / a photo may be at most 5 MB")
			}
			if len(b) > 0 {
				photos = append(photos, photo{part.FileName(), b})
			}
			continue
		}
		v, err := formValue(part)
		if err != nil {
			return tooLarge(err)
		}
		switch part.FormName() {
		case "description":
			f.Description = v
		case "stall":
			f.SubjectID = v
		case "lon":
			lon = v
		case "lat":
			lat = v
		case "contact":
			f.Contact = v
		case "whistleblower":
			f.Whistleblower = v == "1" || v == "on" || v == "true"
		case "observed_at":
			if v != "" {
				t, err := time.ParseInLocation("2006-01-02T15:04", v, cst)
				if err != nil {
					return api.Invalid("observed_at=%q: want 2006-01-02T15:04", clip(v))
				}
				f.ObservedAt = t
			}
		}
	}
	if lon != "" || lat != "" {
		x, err1 := strconv.ParseFloat(lon, 64)
		y, err2 := strconv.ParseFloat(lat, 64)
		if err1 != nil || err2 != nil || x < -180 || x > 180 || y < -90 || y > 90 {
			return api.Invalid("位置无效 / lon, lat: not a WGS-84 position")
		}
		f.Where = &assurance.Point{Lon: x, Lat: y}
	}
	// Photos are checked before anything is stored: a bad one refuses the
	// complaint whole, so it can be sent again without a duplicate.
	for _, ph := range photos {
		if ct := http.DetectContentType(ph.data); !strings.HasPrefix(ct, "image/") || ct == "image/svg+xml" || ct == "image/bmp" || ct == "image/x-icon" {
			return api.Errorf(http.StatusUnsupportedMediaType, api.CodeInvalid, "照片格式不支持（%s），请上传 JPEG、PNG、GIF 或 WebP / the photo is %s; send a JPEG, PNG, GIF or WebP", ct, ct)
		}
	}
	c, code, err := p.e.FileComplaint(f)
	if err != nil {
		return err
	}
	for _, ph := range photos {
		if _, err := p.e.AddComplaintPhoto(c.ID, ph.name, strings.NewReader(string(ph.data))); err != nil {
			p.o.Log.Warn("public: a complaint's photo was not kept", "complaint", c.ID, "err", err)
		}
	}
	securePublic(w)
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusCreated, map[string]any{"id": c.ID, "code": code, "received_at": c.ReceivedAt, "photos": len(photos),
		"message": "已受理。请保存查询码，凭码查看处理进展和答复 / received. Keep the follow-up code to see the progress and the reply"})
	return nil
}

func formValue(part *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, 8<<10))
	return strings.TrimSpace(string(b)), err
}

func tooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "提交内容过大（照片最多 3 张，每张 5 MB）/ too large: at most 3 photos of 5 MB")
	}
	return api.Invalid("表单无法读取 / the form cannot be read (%v)", err)
}

func (p *pub) followUp(w http.ResponseWriter, r *http.Request) error {
	st, err := p.e.ComplaintByCode(r.PathValue("code"))
	if err != nil {
		return err
	}
	securePublic(w)
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (p *pub) listComplaints(w http.ResponseWriter, r *http.Request) error {
	cs, err := p.e.Complaints()
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []engine.Complaint{}
	}
	for i := range cs {
		cs[i].CodeHash, cs[i].Fingerprint = "", ""
	}
	api.WriteJSON(w, http.StatusOK, cs)
	return nil
}

func (p *pub) reply(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Text string `json:"text"`
	}
	if err := api.DecodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	u := api.UserOf(r)
	inc, err := p.e.ReplyToComplaint(r.PathValue("id"), req.Text, assurance.Actor{UserID: u.Name, Role: u.Role, TeamID: u.TeamID})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, inc)
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
