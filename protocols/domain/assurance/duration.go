package assurance

import (
	"fmt"
	"time"
)

// DurationZH says a duration for people in zh-CN, to the second under a
// minute and to the minute above: "45 秒", "12 分钟", "2 小时 5 分钟" (never
// Go's "1m12.3s" in a zh-CN message).
func DurationZH(d time.Duration) string {
	h, m, sec := splitDuration(d)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d 小时 %d 分钟", h, m)
	case h > 0:
		return fmt.Sprintf("%d 小时", h)
	case m > 0:
		return fmt.Sprintf("%d 分钟", m)
	}
	return fmt.Sprintf("%d 秒", sec)
}

// DurationEN is DurationZH in English: "45 s", "12 min", "2 h 5 min".
func DurationEN(d time.Duration) string {
	h, m, sec := splitDuration(d)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	case m > 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d s", sec)
}

func splitDuration(d time.Duration) (h, m, s int) {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return 0, 0, max(1, int(d.Round(time.Second)/time.Second))
	}
	mins := int(d.Round(time.Minute) / time.Minute)
	return mins / 60, mins % 60, 0
}
