package assay

// RetestState is where a screening result stands in the retest flow of
// DOMAIN §6:
//
//	screened ─(initial positive)→ repeat_required ─(repeats reproduce it)→ confirmation_pending
//	   → confirmed_positive | confirmed_negative           (statutory lab result)
//	repeat_required ─(a repeat does not reproduce it)→ not_reproduced
type RetestState string

// Retest states.
const (
	// RetestScreened: the initial result is not positive; nothing to repeat.
	RetestScreened RetestState = "screened"
	// RetestRepeatRequired: a positive waits for more valid repeats.
	RetestRepeatRequired RetestState = "repeat_required"
	// RetestConfirmationPending: the positive stands after its repeats; seal
	// the batch and send it to the lab (a rapid method cannot confirm).
	RetestConfirmationPending RetestState = "confirmation_pending"
	// RetestNotReproduced: a required repeat came out below the positive
	// threshold, so the initial positive does not stand.
	RetestNotReproduced RetestState = "not_reproduced"
	// RetestConfirmedPositive / RetestConfirmedNegative: the statutory
	// laboratory method decided (确证阳性 / 排除).
	RetestConfirmedPositive RetestState = "confirmed_positive"
	RetestConfirmedNegative RetestState = "confirmed_negative"
)

// RetestStatus is the state of a retest series and the verdict it gives.
type RetestStatus struct {
	State RetestState `json:"state"`
	// Verdict is the verdict the series gives so far: the initial
	// verdict until the repeats decide, Positive when the positive stands,
	// the repeats' verdict when it is not reproduced, the lab's when it
	// has answered.
	Verdict Verdict `json:"verdict"`
	// Stands is true when the initial positive has been reproduced by the
	// required repeats.
	Stands bool `json:"stands"`
	// RepeatsValid counts the valid repeats considered; RepeatsPositive
	// those at or above the positive threshold; RepeatsNeeded how many
	// more valid repeats the flow is waiting for.
	RepeatsValid    int `json:"repeats_valid"`
	RepeatsPositive int `json:"repeats_positive"`
	RepeatsNeeded   int `json:"repeats_needed"`
}

// Retest evaluates an enzyme-inhibition retest series: the initial
// outcome, its repeats in the order they were run (each decided with
// [EnzymeRule.Decide]), and the statutory lab verdict when one is known
// (Positive or Negative; anything else means "not yet").
//
// The positive stands when each of the first RepeatsOnPositive valid
// repeats is positive again (GB/T 5009.199: re-test two or more times;
// vendor practice: "if repeats stay above 50 % the sample exceeds the
// limit"). Invalid repeats do not count and must be redone. A lab verdict
// always decides: the statutory method overrides the screening.
func (r EnzymeRule) Retest(initial Outcome, repeats []Outcome, lab Verdict) RetestStatus {
	st := RetestStatus{State: RetestScreened, Verdict: initial.Verdict}
	if initial.Verdict == Positive {
		st = r.repeatSeries(repeats)
	}
	switch lab {
	case Positive:
		st.State, st.Verdict = RetestConfirmedPositive, Positive
	case Negative:
		st.State, st.Verdict = RetestConfirmedNegative, Negative
	}
	return st
}

func (r EnzymeRule) repeatSeries(repeats []Outcome) RetestStatus {
	st := RetestStatus{Verdict: Positive}
	need := r.RepeatsOnPositive
	worst := Negative
	for _, o := range repeats {
		if st.RepeatsValid == need {
			break
		}
		switch o.Verdict {
		case Positive:
			st.RepeatsPositive++
		case Negative:
		case Suspicious:
			worst = Suspicious
		default: // invalid or foreign: redo
			continue
		}
		st.RepeatsValid++
	}
	switch {
	case st.RepeatsPositive < st.RepeatsValid:
		st.State, st.Verdict = RetestNotReproduced, worst
	case st.RepeatsValid < need:
		st.State, st.RepeatsNeeded = RetestRepeatRequired, need-st.RepeatsValid
	default:
		st.State, st.Stands = RetestConfirmationPending, true
	}
	return st
}
