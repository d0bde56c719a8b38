// Package devopts reads the timing options of a kiosk.yaml device
// (`options:`), for the drivers' two loops (kiosk/device/internal/serialloop
// and kiosk/device/internal/modbusunit): durations, fail_after and the
// backoff bounds, with errors that name the device and the option and say
// what to write; any other key goes to the driver.
package devopts

import (
	"fmt"
	"strconv"
	"time"
)

// Fields are where the options go.
type Fields struct {
	// Durations must be positive; MayBeZero may be 0.
	Durations, MayBeZero map[string]*time.Duration
	// FailAfter is fail_after (a whole number ≥ 1).
	FailAfter *int
	// BackoffMin and BackoffMax are checked against each other.
	BackoffMin, BackoffMax *time.Duration
}

// Parse reads m into f. A key f does not hold goes to extra (nil knows
// none), which reports whether it knew it; known lists every key the
// device takes, for the error message.
func Parse(id string, m map[string]string, f Fields, known string, extra func(k, v string) (bool, error)) error {
	for k, v := range m {
		switch {
		case f.MayBeZero[k] != nil:
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("device %q: options.%s %q: want a duration like 500ms, or 0s", id, k, v)
			}
			*f.MayBeZero[k] = d
		case f.Durations[k] != nil:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("device %q: options.%s %q: want a positive duration like 1s or 300ms", id, k, v)
			}
			*f.Durations[k] = d
		case k == "fail_after" && f.FailAfter != nil:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("device %q: options.fail_after %q: want a whole number ≥ 1", id, v)
			}
			*f.FailAfter = n
		default:
			ok, err := false, error(nil)
			if extra != nil {
				ok, err = extra(k, v)
			}
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("device %q: unknown option %q (known: %s)", id, k, known)
			}
		}
	}
	if f.BackoffMin != nil && f.BackoffMax != nil && *f.BackoffMax < *f.BackoffMin {
		return fmt.Errorf("device %q: options.backoff_max %v is below backoff_min %v", id, *f.BackoffMax, *f.BackoffMin)
	}
	return nil
}
