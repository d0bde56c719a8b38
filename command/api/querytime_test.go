package api

import (
	"net/http/httptest"
	"testing"
	"time"
)

// A bare date in since/until is the day from 00:00 Beijing time: at
// 03:21 there (19:21 UTC the day before) "since=<today>" must include
// the night's results. It read 00:00 UTC once, and the daily report's
// test counted 0 results when CI ran after 16:00 UTC.
func TestQueryTimeDateIsBeijingMidnight(t *testing.T) {
	for q, want := range map[string]string{
		"since=2026-12-03":                  "2026-12-02T16:00:00Z",
		"since=2026-12-03T09:00:00%2B08:00": "2026-12-03T01:00:00Z",
		"since=2026-12-03T01:00:00Z":        "2026-12-03T01:00:00Z",
	} {
		got, err := queryTime(httptest.NewRequest("GET", "/x?"+q, nil), "since")
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if w, _ := time.Parse(time.RFC3339, want); !got.Equal(w) {
			t.Errorf("%s: %s, want %s", q, got.UTC().Format(time.RFC3339), want)
		}
	}
	if _, err := queryTime(httptest.NewRequest("GET", "/x?since=12/03/2026", nil), "since"); err == nil {
		t.Error("since=12/03/2026 was accepted")
	}
}
