package assay

import (
	"fmt"
	"slices"
)

// Tier is the testing tier a result belongs to: the city's testing system
// has four (四位一体, docs/domain.md §1.8), and its figures are reported
// per tier and together.
type Tier string

// The four tiers.
const (
	// TierWholesale: the wholesale market's own testing room (批发市场检测).
	TierWholesale Tier = "wholesale_market"
	// TierMarketSelfTest: a farmers' market operator's self-test (农贸市场自检),
	// imported from the market's file or system.
	TierMarketSelfTest Tier = "market_self_test"
	// TierRegulator: the regulators' linked rapid tests (监管部门联动快检);
	// the tier of a kiosk result that names none.
	TierRegulator Tier = "regulator_rapid"
	// TierLab: a statutory laboratory test (实验室法定检测).
	TierLab Tier = "statutory_lab"
)

// Tiers lists the tiers in the order reports show them.
func Tiers() []Tier { return []Tier{TierWholesale, TierMarketSelfTest, TierRegulator, TierLab} }

// Valid reports whether t is one of the four tiers.
func (t Tier) Valid() bool { return slices.Contains(Tiers(), t) }

// Label returns the on-screen label in zh-CN and en.
func (t Tier) Label() (zh, en string) {
	switch t {
	case TierWholesale:
		return "批发市场检测", "Wholesale-market testing"
	case TierMarketSelfTest:
		return "农贸市场自检", "Farmers' market self-test"
	case TierRegulator:
		return "监管部门联动快检", "Regulators' rapid test"
	case TierLab:
		return "实验室法定检测", "Statutory laboratory test"
	}
	return "未知", "Unknown"
}

// ParseTier checks a tier identifier.
func ParseTier(s string) (Tier, error) {
	if t := Tier(s); t.Valid() {
		return t, nil
	}
	return "", fmt.Errorf("tier %q is not one of wholesale_market, market_self_test, regulator_rapid, statutory_lab", clipText(s))
}
