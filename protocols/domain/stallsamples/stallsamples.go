// Package stallsamples is the one home of which samples fit which stall: a
// table from a stall's category (its business, as the command's site
// records name it: 奶茶, 凉菜, 烧烤 …) to the samples an operator is offered
// for it, each with its zh-CN and English name and the sample category
// (蔬菜, 畜禽肉, 饮品 …) it is filed under.
//
// The kiosk's touchscreen offers a stall's samples first, so a milk-tea
// stall is offered milk tea, fresh milk and tea leaves rather than spinach;
// the simulator's operators pick from the same table, so the demo's samples
// fit their stalls.
//
// No source behind the project confirms which samples a regulator screens
// at which kind of stall, so every mapping of [Default] is [UNVERIFIED]
// (Suggestion.Verified is false): an assumption drawn from what each kind
// of stall cooks and what the kiosk's instruments test (enzyme inhibition
// for pesticides on vegetables and tea, colloidal gold for veterinary drugs
// in meat and aquatic products, ATP for hygiene). A deployment replaces or
// extends them in kiosk.yaml (`sample_suggestions`, see kiosk.Config) —
// [Table.Merge] — without a new build.
package stallsamples

import (
	"fmt"
	"strings"
)

// Sample categories a suggestion is filed under (zh-CN, as the records
// keep them; the screen's string table translates them).
const (
	Vegetable = "蔬菜"
	Fruit     = "水果"
	Meat      = "畜禽肉"
	Aquatic   = "水产品"
	Soy       = "豆制品"
	Drink     = "饮品"
	Other     = "其他"
)

// Categories are the sample categories in the order the screen shows them.
var Categories = []string{Vegetable, Fruit, Meat, Aquatic, Soy, Drink, Other}

// Suggestion is one sample offered for a kind of stall.
type Suggestion struct {
	// Name is the sample's zh-CN name (what is recorded); NameEn its
	// English name for the English screen.
	Name   string `json:"name" yaml:"name"`
	NameEn string `json:"name_en,omitempty" yaml:"name_en"`
	// Category is the sample category, one of Categories.
	Category string `json:"category" yaml:"category"`
	// Verified is true only where a source confirms the mapping; every
	// built-in mapping is [UNVERIFIED].
	Verified bool `json:"verified,omitempty" yaml:"verified"`
}

// Table maps a stall category (zh-CN) to its samples, most likely first.
// The key "" holds the samples offered for a stall of no or an unknown
// category.
type Table map[string][]Suggestion

func s(zh, en, cat string) Suggestion { return Suggestion{Name: zh, NameEn: en, Category: cat} }

// Default returns the built-in table (a fresh copy; every entry
// [UNVERIFIED]).
func Default() Table {
	greens := []Suggestion{s("菠菜", "Spinach", Vegetable), s("小白菜", "Bok choy", Vegetable), s("青菜", "Green vegetables", Vegetable),
		s("韭菜", "Chinese chives", Vegetable), s("芹菜", "Celery", Vegetable), s("生菜", "Lettuce", Vegetable),
		s("油麦菜", "Indian lettuce", Vegetable), s("豇豆", "Yardlong beans", Vegetable), s("黄瓜", "Cucumber", Vegetable), s("番茄", "Tomato", Vegetable)}
	return Table{
		"": greens,
		"奶茶": {s("奶茶", "Milk tea", Drink), s("鲜牛奶", "Fresh milk", Drink), s("茶叶", "Tea leaves", Drink),
			s("柠檬", "Lemon", Fruit), s("珍珠", "Tapioca pearls", Other), s("果汁", "Fruit juice", Drink)},
		"饮品": {s("鲜榨果汁", "Fresh juice", Drink), s("奶茶", "Milk tea", Drink), s("茶叶", "Tea leaves", Drink),
			s("鲜牛奶", "Fresh milk", Drink), s("柠檬", "Lemon", Fruit), s("西瓜", "Watermelon", Fruit)},
		"凉菜": {s("黄瓜", "Cucumber", Vegetable), s("菠菜", "Spinach", Vegetable), s("生菜", "Lettuce", Vegetable),
			s("芹菜", "Celery", Vegetable), s("木耳", "Wood ear", Vegetable), s("豆腐皮", "Tofu skin", Soy)},
		"烧烤": {s("羊肉串", "Lamb skewers", Meat), s("猪肉", "Pork", Meat), s("鸡翅", "Chicken wings", Meat),
			s("韭菜", "Chinese chives", Vegetable), s("青椒", "Green pepper", Vegetable), s("茄子", "Aubergine", Vegetable)},
		"面食": {s("小白菜", "Bok choy", Vegetable), s("青菜", "Green vegetables", Vegetable), s("猪肉", "Pork", Meat),
			s("韭菜", "Chinese chives", Vegetable), s("鸡蛋", "Eggs", Other)},
		"小吃": {s("臭豆腐", "Stinky tofu", Soy), s("豆腐", "Tofu", Soy), s("韭菜", "Chinese chives", Vegetable),
			s("生菜", "Lettuce", Vegetable), s("猪肉", "Pork", Meat)},
		"水产": {s("虾", "Shrimp", Aquatic), s("鲈鱼", "Sea bass", Aquatic), s("蛤蜊", "Clams", Aquatic),
			s("小龙虾", "Crayfish", Aquatic), s("鱿鱼", "Squid", Aquatic)},
		"卤味": {s("猪肉", "Pork", Meat), s("鸭脖", "Duck neck", Meat), s("牛肉", "Beef", Meat),
			s("豆干", "Dried tofu", Soy), s("鸡爪", "Chicken feet", Meat)},
		"甜品": {s("鲜牛奶", "Fresh milk", Drink), s("草莓", "Strawberry", Fruit), s("芒果", "Mango", Fruit),
			s("西瓜", "Watermelon", Fruit), s("鸡蛋", "Eggs", Other)},
	}
}

// For returns the samples for a stall category, the "" entry when the
// category has none.
func (t Table) For(category string) []Suggestion {
	if l, ok := t[strings.TrimSpace(category)]; ok && len(l) > 0 {
		return l
	}
	return t[""]
}

// Merge returns t with the categories of over replacing t's (over's
// entries are a deployment's; a category not in over keeps t's list).
func (t Table) Merge(over Table) Table {
	out := Table{}
	for k, v := range t {
		out[k] = v
	}
	for k, v := range over {
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// Validate says what is wrong with a table a deployment wrote, naming the
// entry to fix.
func (t Table) Validate() error {
	for k, l := range t {
		for i, sg := range l {
			switch {
			case strings.TrimSpace(sg.Name) == "":
				return fmt.Errorf("sample_suggestions[%q][%d]: name is required (the sample's zh-CN name)", k, i)
			case len(sg.Name) > 80:
				return fmt.Errorf("sample_suggestions[%q][%d]: name longer than 80 bytes", k, i)
			case !isCategory(sg.Category):
				return fmt.Errorf("sample_suggestions[%q][%d]: category %q is not one of %s", k, i, sg.Category, strings.Join(Categories, " "))
			}
		}
	}
	return nil
}

func isCategory(c string) bool {
	for _, x := range Categories {
		if x == c {
			return true
		}
	}
	return false
}
