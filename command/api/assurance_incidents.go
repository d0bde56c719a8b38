package api

// The assurance routes of incidents (风险处置事件), their evidence, and cluster
// warnings; registered in assurance.go.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

func (a *assureAPI) listIncidents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := queryInt(r, "limit", 200, 10000)
	if err != nil {
		return err
	}
	f := engine.IncidentFilter{EventID: q.Get("event"), TeamID: q.Get("team"), Subject: q.Get("subject"),
		OpenOnly: q.Get("open") == "1" || q.Get("open") == "true", Events: userOf(r).Events, Limit: limit}
	if s := q.Get("state"); s != "" {
		if f.State, err = assurance.ParseIncidentState(s); err != nil {
			return err
		}
	}
	if f.Since, err = queryTime(r, "since"); err != nil {
		return err
	}
	incs, err := a.e.Incidents(f)
	return replyList(w, incs, err)
}

func (a *assureAPI) incident(r *http.Request) (engine.Incident, error) {
	inc, err := a.e.Incident(r.PathValue("id"))
	if err != nil {
		return inc, err
	}
	return inc, inScope(r, inc.Trigger.EventID)
}

func (a *assureAPI) getIncident(w http.ResponseWriter, r *http.Request) error {
	inc, err := a.incident(r)
	return reply(w, http.StatusOK, inc, err)
}

func (a *assureAPI) openIncident(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Trigger assurance.Trigger `json:"trigger"`
		Note    string            `json:"note"`
		Where   *assurance.Point  `json:"where"`
	}
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	event := req.Trigger.EventID
	if event == "" {
		event = a.e.EventOf(req.Trigger.SubjectID)
	}
	if err := inScope(r, event); err != nil {
		return err
	}
	inc, err := a.e.OpenIncident(req.Trigger, assurance.Act{Actor: actorOf(r), Note: req.Note, Where: req.Where})
	return reply(w, http.StatusCreated, inc, err)
}

type incidentStepReq struct {
	To       string                     `json:"to"`
	TeamID   string                     `json:"team_id"`
	Deadline time.Time                  `json:"deadline,omitzero"`
	Controls []assurance.ControlMeasure `json:"controls"`
	Lab      *assurance.LabSubmission   `json:"lab"`
	Note     string                     `json:"note"`
	Where    *assurance.Point           `json:"where"`
	Evidence []assurance.EvidenceRef    `json:"evidence"`
}

func (a *assureAPI) incidentStep(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.incident(r); err != nil {
		return err
	}
	var req incidentStepReq
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	to, err := assurance.ParseIncidentState(req.To)
	if err != nil {
		return err
	}
	inc, err := a.e.Transition(r.PathValue("id"), engine.Step{Origin: r.RemoteAddr, IncidentStep: assurance.IncidentStep{
		To: to, TeamID: req.TeamID, Deadline: req.Deadline, Controls: req.Controls, Lab: req.Lab,
		Act: assurance.Act{Actor: actorOf(r), Where: req.Where, Note: req.Note, Evidence: req.Evidence}}})
	return reply(w, http.StatusOK, inc, err)
}

func (a *assureAPI) requestRetest(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.incident(r); err != nil {
		return err
	}
	var req struct {
		Party  string               `json:"party"`
		Method assurance.TestMethod `json:"method"`
		Note   string               `json:"note"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	inc, err := a.e.RequestRetest(r.PathValue("id"), req.Party, req.Method, assurance.Act{Actor: actorOf(r), Note: req.Note}, r.RemoteAddr)
	return reply(w, http.StatusOK, inc, err)
}

func (a *assureAPI) waiveRetest(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.incident(r); err != nil {
		return err
	}
	var req struct {
		Party    string                  `json:"party"`
		Note     string                  `json:"note"`
		Evidence []assurance.EvidenceRef `json:"evidence"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	inc, err := a.e.WaiveRetest(r.PathValue("id"), req.Party, assurance.Act{Actor: actorOf(r), Note: req.Note, Evidence: req.Evidence}, r.RemoteAddr)
	return reply(w, http.StatusOK, inc, err)
}

// uploadEvidence takes a multipart form with the file in field "file" and
// optionally "kind" (photo, lab_report, disposal_record, …). The request
// body is limited to the engine's MaxEvidence plus room for the form.
func (a *assureAPI) uploadEvidence(subject string) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := a.subjectScope(r, subject, id); err != nil {
			return err
		}
		a.s.slowBody(w, r)
		r.Body = http.MaxBytesReader(w, r.Body, a.e.MaxEvidence()+64<<10)
		mr, err := r.MultipartReader()
		if err != nil {
			return Invalid("send the file as multipart/form-data with the file in field \"file\": %v", err)
		}
		kind := ""
		for {
			part, err := mr.NextPart()
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the upload is larger than %d bytes", a.e.MaxEvidence())
				}
				return Invalid("no \"file\" field in the form (%v)", err)
			}
			switch part.FormName() {
			case "kind":
				b := make([]byte, 64)
				n, _ := part.Read(b)
				kind = string(b[:n])
			case "file":
				ev, err := a.e.AddEvidence(subject, id, kind, part.FileName(), part, actorOf(r))
				if err != nil {
					var mbe *http.MaxBytesError
					if errors.As(err, &mbe) {
						return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the upload is larger than %d bytes", a.e.MaxEvidence())
					}
					return err
				}
				WriteJSON(w, http.StatusCreated, ev)
				return nil
			}
		}
	}
}

// subjectScope checks the event scope of an incident or banquet.
func (a *assureAPI) subjectScope(r *http.Request, subject, id string) error {
	switch subject {
	case engine.SubjectIncident:
		_, err := a.incident(r)
		return err
	default:
		if _, err := a.e.Banquet(id); err != nil {
			return err
		}
		return inScope(r, "")
	}
}

// serveEvidence sends an evidence file back with its sniffed type, never
// rendered as anything else (nosniff), as an attachment for PDFs.
func (a *assureAPI) serveEvidence(subject string) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := a.subjectScope(r, subject, id); err != nil {
			return err
		}
		ev, path, err := a.e.EvidenceFile(subject, id, r.PathValue("ref"))
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("evidence %s: %w", ev.Ref, err)
		}
		defer f.Close()
		w.Header().Set("Content-Type", ev.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "private, max-age=86400")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
		disp := "inline"
		if ev.ContentType == "application/pdf" {
			disp = "attachment"
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf("%s; filename=%q", disp, ev.Ref+extOf(ev.ContentType)))
		http.ServeContent(a.s.streaming(w), r, "", ev.At, f)
		return nil
	}
}

func extOf(ct string) string {
	switch ct {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

func (a *assureAPI) listClusters(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.e.Clusters()
	if err != nil {
		return err
	}
	sc, err := a.s.scopeOf(r)
	if err != nil {
		return err
	}
	cs = slices.DeleteFunc(cs, func(c engine.Cluster) bool { return !sc.Any(c.Subjects) })
	return replyList(w, cs, nil)
}
