package command_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/shianfood/shian/command"
)

// postComplaint files a complaint from the public page's form, with no
// credential.
func (e *assureEnv) postComplaint(t *testing.T, fields map[string]string, photos ...[]byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, p := range photos {
		fw, _ := mw.CreateFormFile("photo", "p.png")
		fw.Write(p)
	}
	mw.Close()
	resp, err := http.Post(e.srv.URL+"/api/public/complaints", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func getPublic(t *testing.T, url string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

// TestPublicSide: the diners' API needs no login and says only what is
// published; complaints are size- and type-checked, duplicates refused,
// each address rate limited; the follow-up code shows the reply, and the
// incident is not signed off before the complainant is answered.
func TestPublicSide(t *testing.T) {
	e := startAssure(t, command.Config{})
	code, h, v := getPublic(t, e.srv.URL+"/api/public/stalls/S-001")
	if code != 200 || v["name"] != "张记蔬菜" || v["grade"] != "B" || h.Get("Content-Security-Policy") == "" || !strings.Contains(h.Get("Cache-Control"), "max-age") {
		t.Fatalf("stall view: %d %v %v", code, v, h)
	}
	for _, k := range []string{"loc", "event_id", "operator"} {
		if _, ok := v[k]; ok {
			t.Errorf("the public view has %q", k)
		}
	}
	if code, _, _ := getPublic(t, e.srv.URL+"/api/public/stalls/nope"); code != 404 {
		t.Errorf("unknown stall: %d", code)
	}
	resp, err := http.Get(e.srv.URL + "/s/S-001")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the page at the label's address: %v %v", resp, err)
	}
	resp.Body.Close()

	// Bad complaints: no words, no place, a file that is not a photo.
	if code, _ := e.postComplaint(t, map[string]string{"description": "差", "stall": "S-001"}); code != 400 {
		t.Errorf("too short: %d", code)
	}
	if code, _ := e.postComplaint(t, map[string]string{"description": "地面很脏，有老鼠"}); code != 400 {
		t.Errorf("no place: %d", code)
	}
	if code, _ := e.postComplaint(t, map[string]string{"description": "地面很脏，有老鼠", "stall": "S-001"}, []byte("<svg onload=alert(1)></svg>")); code != 415 {
		t.Errorf("an SVG as a photo: %d", code)
	}
	if code, _ := e.postComplaint(t, map[string]string{"description": "地面很脏，有老鼠", "stall": "S-001"}, bytes.Repeat([]byte{0x89}, 5<<20+10)); code != 413 {
		t.Errorf("a 5 MB+ photo: %d", code)
	}
	if n, _ := e.svc.Assure().Complaints(); len(n) != 0 {
		t.Fatalf("refused complaints were stored: %d", len(n))
	}
	code, out := e.postComplaint(t, map[string]string{"description": "地面很脏，有老鼠", "stall": "S-001", "contact": "13800000000"}, photo())
	if code != 201 || len(out["code"].(string)) != 14 {
		t.Fatalf("complaint: %d %v", code, out)
	}
	fcode := out["code"].(string)
	// The same words about the same stall again: a duplicate.
	if code, _ := e.postComplaint(t, map[string]string{"description": "地面很脏， 有老鼠！", "stall": "S-001"}); code != 409 {
		t.Errorf("duplicate: %d", code)
	}
	// One address may send 8 complaints in a row (the 6 above were
	// requests too), then one per 5 minutes.
	for i, want := range []int{201, 201, 429} {
		code, _ = e.postComplaint(t, map[string]string{"description": fmt.Sprintf("第%d件事：餐具没有消毒", i+2), "stall": "S-001"})
		if code != want {
			t.Errorf("request %d from one address: %d, want %d", 7+i, code, want)
		}
	}

	code, _, st := getPublic(t, e.srv.URL+"/api/public/complaints/"+fcode)
	if code != 200 || (st["stage"] != "received" && st["stage"] != "handling") || st["reply"] != nil {
		t.Fatalf("follow-up: %d %v", code, st)
	}
	if _, ok := st["contact"]; ok {
		t.Error("the follow-up shows the contact")
	}
	if code, _, _ := getPublic(t, e.srv.URL+"/api/public/complaints/AAAA-BBBB-CCCC"); code != 404 {
		t.Errorf("unknown code: %d", code)
	}
	cs, _ := e.svc.Assure().Complaints()
	inc := cs[len(cs)-1].IncidentID // newest first
	var list []map[string]any
	e.must(t, 200, "GET", "/api/v1/complaints", "cmd1", nil, &list)
	if len(list) != 3 || list[2]["contact"] != "13800000000" || list[2]["code_hash"] != nil {
		t.Fatalf("commanders' list: %v", list)
	}
	if code, _ := e.do(t, "GET", "/api/v1/complaints", "viewer", nil); code != 403 {
		t.Errorf("a viewer lists complaints: %d", code)
	}
	if code, _ := e.do(t, "POST", "/api/v1/incidents/"+inc+"/reply", "insp1", map[string]string{"text": "x"}); code != 403 {
		t.Errorf("an inspector replies: %d", code)
	}
	// The closed loop: on site, cleared on site; the sign-off waits for
	// the reply to the complainant.
	path := "/api/v1/incidents/" + inc + "/transition"
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "on_site", "where": nearLoc}, nil)
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "cleared", "note": "现场核查：地面已清扫，未见鼠迹"}, nil)
	var ae apiErr
	e.must(t, 409, "POST", path, "cmd1", map[string]any{"to": "signed_off"}, &ae)
	if ae.Error.Rule != "complaint_reply_required" {
		t.Fatalf("sign-off before the reply: %+v", ae.Error)
	}
	e.must(t, 200, "POST", "/api/v1/incidents/"+inc+"/reply", "cmd1", map[string]string{"text": "已核查，责令整改"}, nil)
	e.must(t, 200, "POST", path, "cmd1", map[string]any{"to": "signed_off"}, nil)
	if code, _ := e.do(t, "POST", "/api/v1/incidents/"+inc+"/reply", "cmd1", map[string]string{"text": "改口"}); code != 409 {
		t.Errorf("a reply changed after the sign-off: %d", code)
	}
	// Signed off, it is published on the stall's page.
	_, _, v = getPublic(t, e.srv.URL+"/api/public/stalls/S-001")
	if ns, _ := v["notices"].([]any); len(ns) != 1 || ns[0].(map[string]any)["kind"] != "complaint" {
		t.Errorf("notices after the sign-off: %v", v["notices"])
	}
	_, _, st = getPublic(t, e.srv.URL+"/api/public/complaints/"+strings.ToLower(fcode))
	if rep, _ := st["reply"].(map[string]any); rep == nil || rep["text"] != "已核查，责令整改" || st["stage"] != "concluded" {
		t.Fatalf("the reply on the follow-up: %v", st)
	}
}
