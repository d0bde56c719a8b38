package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"reflect"
	"time"
)

// apiClient calls the command's REST API as one user, the way a field
// app or the command centre's screen would.
type apiClient struct {
	base  string // http://127.0.0.1:8080
	token string
	hc    *http.Client
}

func newClient(base, token string) *apiClient {
	return &apiClient{base: base, token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// apiError is a refusal from the API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// do sends body as JSON and decodes the answer into out (either may be
// nil).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

func (c *apiClient) send(req *http.Request, out any) error {
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(b, &e)
		return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil {
		// Decode into a zero value: json.Unmarshal reuses the elements of
		// a slice already there and keeps fields the JSON omits.
		reflect.ValueOf(out).Elem().SetZero()
		return json.Unmarshal(b, out)
	}
	return nil
}

// upload posts a file as multipart/form-data and returns the evidence
// ref the command gives it.
func (c *apiClient) upload(ctx context.Context, path, kind, name string, data []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("kind", kind)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		return "", err
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, &buf)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var ev struct {
		Ref string `json:"ref"`
	}
	err = c.send(req, &ev)
	return ev.Ref, err
}
