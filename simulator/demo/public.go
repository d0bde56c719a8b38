package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/shianfood/shian/command/imports"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// publicSide shows issue 16's parts on the demo: two farmers' markets'
// self-test files imported (one with a bad row, listed with its line), a
// lab's report through the REST endpoint, and a diner's complaint from
// the public page with a photo, answered by the duty commander (the
// teams then work it like any incident, and the commander signs it off).
func (a *assuranceRun) publicSide(ctx context.Context) error {
	if len(a.v.Stalls) < 4 {
		return nil
	}
	op := newClient(a.base, a.users.operator)
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	at := func(min int) string { return now.Add(time.Duration(-min) * time.Minute).Format("2006-01-02 15:04") }
	s := func(i int) string { return a.v.Stalls[i%len(a.v.Stalls)].ID }
	files := map[string]string{
		"market:NT-CHONGCHUAN": "记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果,检测方法,检测值,单位\n" +
			fmt.Sprintf("CC-0001,%s,%s,菠菜,农药残留,阴性,酶抑制率法,11.2,%%\n", at(50), s(0)) +
			fmt.Sprintf("CC-0002,%s,%s,韭菜,农药残留,阳性,酶抑制率法,58.4,%%\n", at(45), s(1)) +
			fmt.Sprintf("CC-0003,%s,%s,豇豆,农药残留,阴性,酶抑制率法,8.9,%%\n", at(40), s(2)) +
			fmt.Sprintf("CC-0004,%s,S-UNKNOWN,芹菜,农药残留,阴性,,,\n", at(35)),
		"market:NT-GANGZHA": "记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果,检测方法\n" +
			fmt.Sprintf("GZ-1,%s,%s,猪肉,克伦特罗,阴性,胶体金\n", at(30), s(3)) +
			fmt.Sprintf("GZ-2,%s,%s,牛肉,莱克多巴胺,阴性,胶体金\n", at(25), s(4)),
	}
	for source, f := range files {
		var rep struct {
			Stored   int `json:"stored"`
			Problems []struct {
				Line    int    `json:"line"`
				Message string `json:"message"`
			} `json:"problems"`
		}
		req, err := http.NewRequestWithContext(ctx, "POST", a.base+"/api/v1/sources/"+source+"/import", strings.NewReader(f))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "text/csv")
		if err := op.send(req, &rep); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
		a.say("农贸市场自检导入 %s：入库 %d 条，问题行 %d 条 / market self-tests imported from %s: %d stored, %d bad rows", source, rep.Stored, len(rep.Problems), source, rep.Stored, len(rep.Problems))
		for _, p := range rep.Problems {
			a.say("  第 %d 行 / line %d: %s", p.Line, p.Line, p.Message)
		}
	}
	// The lab confirms the market's positive (韭菜 at stall 1).
	if err := op.do(ctx, "POST", "/api/v1/sources/lab:NT-CDC/results", map[string]any{"rows": []map[string]any{{
		"row_id": "NT-CDC-2026-0117", "tested_at": at(5), "stall_id": s(1), "sample": "韭菜", "item": "农药残留",
		"verdict": "阳性", "method": "GB 23200.113 气相色谱-质谱联用法", "value": 0.32, "unit": "mg/kg",
		"confirms": imports.ResultID("market:NT-CHONGCHUAN", "CC-0002")}}}, nil); err != nil {
		return fmt.Errorf("lab report: %w", err)
	}
	a.say("实验室法定检测结果已接入（%s 韭菜 确证阳性）/ the lab's statutory result is in", s(1))

	// A diner's anonymous complaint with a photo, from the public page.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("description", "买的凉拌黄瓜有异味，吃后肚子不舒服")
	mw.WriteField("stall", s(2))
	mw.WriteField("whistleblower", "1")
	fw, _ := mw.CreateFormFile("photo", "cucumber.png")
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for i := range img.Pix {
		img.Pix[i] = []uint8{90, 160, 70, 255}[i%4]
	}
	png.Encode(fw, img)
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, "POST", a.base+"/api/public/complaints", &buf)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	var filed struct {
		ID, Code string
	}
	json.NewDecoder(resp.Body).Decode(&filed)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		if resp.StatusCode == http.StatusConflict {
			return nil // the demo ran before on this data directory
		}
		return fmt.Errorf("complaint: %s", resp.Status)
	}
	a.say("公众匿名投诉 %s（查询码 %s），页面 %s/s/%s / a diner's complaint, follow-up code %s", filed.ID, filed.Code, a.base, s(2), filed.Code)
	inc := "INC-" + strings.TrimPrefix(filed.ID, "CP-")
	duty := newClient(a.base, a.users.duty)
	if err := duty.do(ctx, "POST", "/api/v1/incidents/"+inc+"/reply", map[string]string{
		"text": "您好，经现场核查，该摊位凉拌菜已停售并责令整改，感谢您的监督。"}, nil); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	a.say("值班指挥员已答复投诉 %s；凭查询码可见 / the duty commander answered; the code shows it", filed.ID)
	return nil
}
