package assurance

import (
	"testing"
	"time"
)

func TestDurationForPeople(t *testing.T) {
	for _, c := range []struct {
		d      time.Duration
		zh, en string
	}{
		{100 * time.Millisecond, "1 秒", "1 s"},
		{45*time.Second + 300*time.Millisecond, "45 秒", "45 s"},
		{72 * time.Second, "1 分钟", "1 min"},
		{12*time.Minute + 40*time.Second, "13 分钟", "13 min"},
		{2*time.Hour + 5*time.Minute, "2 小时 5 分钟", "2 h 5 min"},
		{3 * time.Hour, "3 小时", "3 h"},
		{-time.Second, "1 秒", "1 s"},
	} {
		if zh, en := DurationZH(c.d), DurationEN(c.d); zh != c.zh || en != c.en {
			t.Errorf("%s: %q / %q, want %q / %q", c.d, zh, en, c.zh, c.en)
		}
	}
}
