package profilesim

import (
	"embed"
	"fmt"

	"github.com/shianfood/shian/protocols/device/profile"
)

// examples are profiles of readers no driver of the project knows:
// lanyu-gr20.yaml is the worked example of docs/profiles.md.
//
//go:embed examples/*.yaml
var examples embed.FS

// Example returns an example profile's file and the profile parsed from
// it ("lanyu-gr20.yaml").
func Example(name string) ([]byte, *profile.Profile, error) {
	b, err := examples.ReadFile("examples/" + name)
	if err != nil {
		return nil, nil, fmt.Errorf("profilesim: no example %s: %w", name, err)
	}
	p, err := profile.Parse(name, b)
	if err != nil {
		return nil, nil, err
	}
	return b, p, nil
}
