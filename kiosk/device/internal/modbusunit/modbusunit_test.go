package modbusunit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/kiosk/device/internal/modbusunit"
)

func TestTimingParse(t *testing.T) {
	tm := modbusunit.DefaultTiming()
	mode := ""
	extra := func(k, v string) (bool, error) {
		if k == "mode" {
			mode = v
			return true, nil
		}
		return false, nil
	}
	if err := tm.Parse("gold-1", map[string]string{"poll_every": "250ms", "gap": "0s", "fail_after": "5", "mode": "line"}, "mode, "+modbusunit.Keys, extra); err != nil {
		t.Fatal(err)
	}
	if tm.PollEvery != 250*time.Millisecond || tm.Gap != 0 || tm.FailAfter != 5 || mode != "line" || tm.ReplyTimeout != 300*time.Millisecond {
		t.Errorf("parsed %+v mode %q", tm, mode)
	}
	for opts, want := range map[string]string{
		"poll_every=0s":           `options.poll_every "0s": want a positive duration`,
		"reply_timeout=soon":      `options.reply_timeout "soon"`,
		"fail_after=0":            `options.fail_after "0": want a whole number ≥ 1`,
		"backoff_min=1m":          "backoff_max 30s is below backoff_min 1m0s",
		"speed=fast":              `unknown option "speed" (known: mode, backoff_max`,
		"pause_after_connect=-1s": `options.pause_after_connect "-1s"`,
		"backoff_max=1ms":         "is below backoff_min",
	} {
		k, v, _ := strings.Cut(opts, "=")
		tm := modbusunit.DefaultTiming()
		err := tm.Parse("gold-1", map[string]string{k: v}, "mode, "+modbusunit.Keys, extra)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `device "gold-1"`) {
			t.Errorf("%s: %v, want %q", opts, err, want)
		}
	}
}

func TestInterFrameGap(t *testing.T) {
	if g := modbusunit.InterFrameGap(9600); g < 4*time.Millisecond || g > 4100*time.Microsecond {
		t.Errorf("9600 baud: %v", g)
	}
	if g := modbusunit.InterFrameGap(115200); g != 1750*time.Microsecond {
		t.Errorf("115200 baud: %v", g)
	}
}
