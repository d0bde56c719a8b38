package assay

import "github.com/shianfood/shian/protocols/domain/measure"

// Raw holds the raw measurements a verdict is derived from. Only the fields
// a method uses are set; the rest stay nil and are omitted from JSON. Values
// are integer quantities from package measure (see protocols/wire/README.md
// for their units on the wire).
type Raw struct {
	// Enzyme inhibition (GB/T 5009.199): ΔA0 of the control and ΔAt of the
	// sample over 3 minutes.
	ControlDeltaA *measure.Absorbance `json:"control_delta_a,omitempty"`
	SampleDeltaA  *measure.Absorbance `json:"sample_delta_a,omitempty"`

	// Colloidal gold strips: control (C) and test (T) line intensities.
	C *measure.Intensity `json:"c,omitempty"`
	T *measure.Intensity `json:"t,omitempty"`

	// ATP bioluminescence.
	RLU *measure.RLU `json:"rlu,omitempty"`

	// Frying oil: total polar compounds and acid value.
	TPC       *measure.Percent   `json:"tpc,omitempty"`
	AcidValue *measure.AcidValue `json:"acid_value,omitempty"`

	// Temperatures. Core (probe) and surface (infrared) are kept apart: the
	// 70 °C cooking rule is a core temperature.
	CoreTemp    *measure.Temperature `json:"core_temp,omitempty"`
	SurfaceTemp *measure.Temperature `json:"surface_temp,omitempty"`
	AirTemp     *measure.Temperature `json:"air_temp,omitempty"`
	Humidity    *measure.Percent     `json:"humidity,omitempty"`

	// Sample retention.
	Mass      *measure.Mass `json:"mass,omitempty"`
	KeptHours *int64        `json:"kept_hours,omitempty"`
}

// Ptr returns a pointer to v, for filling Raw in code and tests.
func Ptr[T any](v T) *T { return &v }
