package measure

// YAML: each type accepts its String notation ("50%", "70°C", "0.3 A") or
// a bare number in its display unit, through the unmarshaler signature that
// go.yaml.in/yaml/v3 (and v2) call, so this package needs no YAML import.
// JSON stays the plain integer (see the package doc).

func unmarshalYAMLWith(unmarshal func(any) error, set func(string) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	return set(s)
}

// UnmarshalYAML parses the String notation.
func (a *Absorbance) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, a.Set)
}

// UnmarshalYAML parses the String notation.
func (p *Percent) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, p.Set)
}

// UnmarshalYAML parses the String notation.
func (r *Ratio) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, r.Set)
}

// UnmarshalYAML parses the String notation.
func (t *Temperature) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, t.Set)
}

// UnmarshalYAML parses the String notation.
func (r *RLU) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, r.Set)
}

// UnmarshalYAML parses the String notation.
func (a *AcidValue) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, a.Set)
}

// UnmarshalYAML parses the String notation.
func (m *Mass) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, m.Set)
}

// UnmarshalYAML parses the String notation.
func (i *Intensity) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalYAMLWith(unmarshal, i.Set)
}
