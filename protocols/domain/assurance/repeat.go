package assurance

import "github.com/shianfood/shian/protocols/domain/assay"

// RepeatState is where an incident opened from a rapid result stands in
// the repeat-before-dispatch policy ([RepeatPolicy]): waiting for the
// repeats of the same sample (复测), or decided by them.
type RepeatState string

// Repeat states.
const (
	// RepeatAwaiting: 待复测, the repeats have not all come in; no team is
	// sent yet.
	RepeatAwaiting RepeatState = "awaiting_repeat"
	// RepeatReproduced: the repeats reproduced the result; a team is sent.
	RepeatReproduced RepeatState = "repeat_reproduced"
	// RepeatNotReproduced: a valid repeat did not reproduce it; no team is
	// sent, the command centre decides (send one to clear it on site).
	RepeatNotReproduced RepeatState = "repeat_not_reproduced"
	// RepeatOverdue: the repeats did not come within the policy's time; a
	// team is sent anyway.
	RepeatOverdue RepeatState = "repeat_overdue"
)

// RepeatStates returns every repeat state.
func RepeatStates() []RepeatState {
	return []RepeatState{RepeatAwaiting, RepeatReproduced, RepeatNotReproduced, RepeatOverdue}
}

// Label returns the zh-CN and en label.
func (s RepeatState) Label() Label { return labelOf(string(s)) }

// Dispatches reports whether a team is to be sent in state s.
func (s RepeatState) Dispatches() bool { return s == RepeatReproduced || s == RepeatOverdue }

// DecideRepeats says what the repeats of a rapid result decide so far:
// initial is the first result's verdict (positive or suspicious), needed
// the valid repeats the policy asks for ([RepeatPolicy.Waits]) and repeats
// the repeats' verdicts in the order they were run. It returns the state
// and, while awaiting, how many valid repeats are still missing.
//
// Invalid repeats do not count (they must be redone). A positive is
// reproduced when each of the first needed valid repeats is positive
// again (GB/T 5009.199, docs/domain.md §1.1); a suspicious result when each
// is positive or suspicious. The first valid repeat that does not
// reproduce it decides: not reproduced.
func DecideRepeats(initial assay.Verdict, needed int, repeats []assay.Verdict) (RepeatState, int) {
	valid := 0
	for _, v := range repeats {
		if valid == needed {
			break
		}
		switch v {
		case assay.Positive:
		case assay.Suspicious:
			if initial == assay.Positive {
				return RepeatNotReproduced, 0
			}
		case assay.Negative:
			return RepeatNotReproduced, 0
		default: // invalid: redo
			continue
		}
		valid++
	}
	if valid < needed {
		return RepeatAwaiting, needed - valid
	}
	return RepeatReproduced, 0
}
