// Package assay decides the verdict of a rapid food-safety test from its raw
// measurements, by the published rule of each test method.
//
// # Trust measurements, not conclusions
//
// A kiosk sends the raw values a result was derived from (for the enzyme
// inhibition tester: the control's and the sample's absorbance changes). The
// command service re-derives every verdict with this package and flags a
// mismatch, so a kiosk with a stale rule table or a bug cannot put a wrong
// colour on the map. Both sides call the same [Rules.Decide].
//
// # Methods and verdicts
//
// A [Method] names a test method family. Every method maps its raw values
// to one [Verdict]: rapid screening methods say negative / suspicious /
// positive / invalid; the hygiene and compliance measurements say pass /
// caution / fail; a surface temperature is recorded and says "na".
// [Verdict.Severity] puts them all on one scale for the map.
//
//	method               raw values            rule (defaults)
//	enzyme_inhibition    ΔA0, ΔAt              I=(ΔA0−ΔAt)/ΔA0; ≥50 % positive (repeat ×2), 40–50 % suspicious
//	gold_line (消线)      C, T intensities      C ≤ c_thr invalid; T ≤ t_a positive; T ≥ t_b negative
//	gold_ratio (比色)     C, T intensities      as gold_line on T/C with ct_a, ct_b
//	atp                  RLU                   ≤10 pass, 11–30 caution, >30 fail (per luminometer model)
//	frying_oil           TPC %, AV             TPC > 27 % or AV > 5 mg KOH/g → fail
//	core_temperature     core (probe)          ≥ 70 °C
//	hot_holding          core, else air        > 60 °C
//	cold_holding         core, else air        0–8 °C (above → fail, below → caution)
//	frozen               core, else air        ≤ −12 °C
//	surface_temperature  surface (IR)          recorded only, never decides
//	retention (留样)      mass, hours kept      ≥ 125 g, ≥ 48 h
//
// # Thresholds
//
// Every threshold is a field of a rule struct with the default from the
// standard or vendor practice ([DefaultRules]); values marked [UNVERIFIED] in
// the domain notes (such as the control validity check ΔA0 ≥ 0.3) default to
// off or are documented as such, and all can be overridden in configuration:
// decode the kiosk's YAML (or JSON) onto DefaultRules() and call
// [Rules.Validate], which names the field of every threshold that makes no
// sense:
//
//	assay rules: gold.items.clenbuterol.t_a: 30.0 is above t_b 25.0: …
//
// Gold-strip thresholds are per test item ([GoldTable.For] finds 克伦特罗 and
// "clenbuterol" alike) and, like ATP limits, may be set per instrument
// model, because each reader has its own scale; [Rules.ForModel] selects
// a model's tables before deciding.
//
// # Retest flow
//
// A rapid-test positive is a screening result. For the enzyme method the
// standard requires repeats: [EnzymeRule.Retest] takes the initial outcome
// and its repeats and says whether the positive stands
// (confirmation_pending: send the sample to the lab), is still waiting for
// repeats (repeat_required), or was not reproduced; a statutory lab
// verdict then confirms or clears it.
package assay
