package profile

import (
	"embed"
	"fmt"
)

// examples are profiles of readers no driver of the project knows, for
// the docs, the simulator and the tests: lanyu-gr20.yaml is the worked
// example of docs/profiles.md.
//
//go:embed examples/*.yaml
var examples embed.FS

// Example returns an example profile's file and the profile parsed from
// it ("lanyu-gr20.yaml").
func Example(name string) ([]byte, *Profile, error) {
	b, err := examples.ReadFile("examples/" + name)
	if err != nil {
		return nil, nil, fmt.Errorf("profile: no example %s: %w", name, err)
	}
	p, err := Parse(name, b)
	if err != nil {
		return nil, nil, err
	}
	return b, p, nil
}
