// Package venue generates a plausible major-event venue near Nantong (南通)
// for the demo and for tests: vendor zones with stalls, event kitchens,
// rural banquet sites in nearby villages and assurance teams, all in WGS-84.
//
// # Determinism
//
// [Generate] is a pure function of its [Config]: the same seed gives the
// same venue, byte for byte, so a demo, a screenshot or a failing test can
// be reproduced. Nothing reads the clock; the event's first day is part of
// the Config.
//
// # Geography
//
// The venue is a convention-centre district in Nantong's new town
// (around 120.94 E, 31.99 N). The coordinates are plausible, not surveyed:
// this is demo data, not a map. Zones are fixed shapes laid out in metres
// around the centre (one has a hole: the stage in the middle of the food
// plaza); the seed decides the stalls, names, grades, banquets and team
// posts. Stalls are sampled uniformly inside their zone, at least
// [StallMargin] metres from any edge, so the count scales to 10,000 and
// beyond for map tests while every stall stays strictly inside its zone.
//
// # GeoJSON
//
// [Venue.ZonesGeoJSON], [Venue.StallsGeoJSON], [Venue.SitesGeoJSON] and
// [Venue.GeoJSON] return github.com/shianfood/shian/geo FeatureCollections
// that re-import through geo.DecodeFeatureCollection.
package venue

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/shianfood/shian/geo"
)

// Centre is the venue's reference point (WGS-84 [lon, lat]).
var Centre = orb.Point{120.9390, 31.9890}

// StallMargin is the least distance, in metres, between a stall and the
// edge of its zone (or of the zone's hole).
const StallMargin = 2.0

// MaxStalls bounds Config.Stalls.
const MaxStalls = 100_000

// Config sets what Generate builds. Zero fields take the defaults.
type Config struct {
	Seed     uint64
	Stalls   int       // default 48; up to MaxStalls
	Banquets int       // default 4; up to 12
	Teams    int       // default 5; 4–6
	Start    time.Time // the event's first day (midnight, local); default 2026-05-01 China time
	Days     int       // event length; default 3
}

// China Standard Time; fixed, so generation never depends on the host's
// zone database.
var cst = time.FixedZone("CST", 8*3600)

func (c Config) withDefaults() (Config, error) {
	if c.Stalls == 0 {
		c.Stalls = 48
	}
	if c.Banquets == 0 {
		c.Banquets = 4
	}
	if c.Teams == 0 {
		c.Teams = 5
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 5, 1, 0, 0, 0, 0, cst)
	}
	if c.Days == 0 {
		c.Days = 3
	}
	switch {
	case c.Stalls < 0 || c.Stalls > MaxStalls:
		return c, fmt.Errorf("venue: %d stalls is outside 1–%d; set Config.Stalls in range", c.Stalls, MaxStalls)
	case c.Banquets < 0 || c.Banquets > 12:
		return c, fmt.Errorf("venue: %d banquets is outside 1–12; set Config.Banquets in range", c.Banquets)
	case c.Teams < 4 || c.Teams > 6:
		return c, fmt.Errorf("venue: %d teams is outside 4–6; set Config.Teams in range", c.Teams)
	case c.Days < 1 || c.Days > 30:
		return c, fmt.Errorf("venue: %d days is outside 1–30; set Config.Days in range", c.Days)
	}
	return c, nil
}

// Venue is a generated event site.
type Venue struct {
	ID, Name, NameEN string
	// Event is the major event (重大活动) held at the venue.
	Event, EventEN string
	Start, End     time.Time // first day 00:00 to the day after the last
	Centre         orb.Point
	Boundary       orb.Polygon // the venue grounds
	Zones          []Zone
	Stalls         []Stall
	Kitchens       []Kitchen
	Banquets       []Banquet
	Teams          []Team
}

// Zone is a vendor zone (摊贩集中区).
type Zone struct {
	ID, Name, NameEN string
	Area             orb.Polygon
}

// RiskGrade is a food business's risk grade, A (lowest) to D (highest).
type RiskGrade string

// Risk grades.
const (
	GradeA RiskGrade = "A"
	GradeB RiskGrade = "B"
	GradeC RiskGrade = "C"
	GradeD RiskGrade = "D"
)

// Stall is a food stall (摊位) in a vendor zone.
type Stall struct {
	ID       string // "S-001"; wider when there are 1,000 or more
	Name     string // zh-CN, e.g. "张记烧烤"
	Category string // 烧烤 面食 凉菜 饮品 小吃 水产 卤味 甜品
	ZoneID   string
	Grade    RiskGrade
	Point    orb.Point
}

// Kitchen is an event kitchen (供餐点/厨房).
type Kitchen struct {
	ID, Name, NameEN string
	Caterer          string // the catering company
	Headcount        int    // meals per sitting
	Point            orb.Point
}

// BanquetType is the kind of rural banquet (聚餐类型).
type BanquetType string

// Banquet types from the filing form.
const (
	Wedding     BanquetType = "婚宴"
	Birthday    BanquetType = "生日"
	HouseMoving BanquetType = "乔迁"
	Funeral     BanquetType = "丧事"
)

// Banquet is a rural collective dining site (农村集体聚餐) with its filing
// details.
type Banquet struct {
	ID         string // "B-01"
	FilingNo   string // 备案编号
	Host       string // 举办人
	Phone      string // masked
	Type       BanquetType
	Town       string
	Village    string
	Headcount  int
	ChefSource string    // 家庭成员 / 亲朋好友 / 外请厨师
	Start, End time.Time // the date window of the sittings
	Point      orb.Point
}

// TeamMode is how an assurance team works.
type TeamMode string

// Team modes (see docs/glossary.md).
const (
	Stationed TeamMode = "stationed" // 驻点保障, posted at a kitchen
	Patrol    TeamMode = "patrol"    // 巡查督查
)

// Team is an assurance team (保障组).
type Team struct {
	ID, Name, NameEN string
	Mode             TeamMode
	Leader           string
	Members          int
	Home             orb.Point
	KitchenID        string // for stationed teams
}

// local converts metres east/north of Centre to WGS-84 (an
// equirectangular approximation, exact enough within a few kilometres).
func local(x, y float64) orb.Point {
	lat0 := Centre[1] * math.Pi / 180
	return orb.Point{
		Centre[0] + x/(geo.EarthRadius*math.Cos(lat0))*180/math.Pi,
		Centre[1] + y/geo.EarthRadius*180/math.Pi,
	}
}

type xy = orb.Point // a position in local metres

func ring(pts ...xy) orb.Ring {
	r := make(orb.Ring, 0, len(pts)+1)
	r = append(r, pts...)
	return append(r, pts[0])
}

func toLonLat(p orb.Polygon) orb.Polygon {
	out := make(orb.Polygon, len(p))
	for i, r := range p {
		out[i] = make(orb.Ring, len(r))
		for j, q := range r {
			out[i][j] = local(q[0], q[1])
		}
	}
	return out
}

type zoneSpec struct {
	id, name, nameEN string
	shape            orb.Polygon // local metres
	categories       []string    // weighted by repetition
}

// The zones, in local metres around Centre. Z-01 has a hole (the stage).
var zoneSpecs = []zoneSpec{
	{"Z-01", "美食广场", "Food Plaza",
		orb.Polygon{
			ring(xy{-420, -90}, xy{-180, -90}, xy{-180, 90}, xy{-420, 90}),
			ring(xy{-330, -25}, xy{-330, 25}, xy{-270, 25}, xy{-270, -25}),
		},
		[]string{"烧烤", "面食", "小吃", "小吃", "卤味", "饮品", "凉菜"}},
	{"Z-02", "江海夜市街", "Jianghai Night Market Street",
		orb.Polygon{ring(xy{-150, 160}, xy{260, 160}, xy{260, 200}, xy{-110, 200}, xy{-110, 320}, xy{-150, 320})},
		[]string{"烧烤", "烧烤", "小吃", "小吃", "饮品", "卤味", "甜品"}},
	{"Z-03", "南通特色小吃区", "Nantong Local Snacks Court",
		orb.Polygon{ring(xy{60, -60}, xy{180, -100}, xy{250, -20}, xy{200, 80}, xy{80, 70})},
		[]string{"小吃", "小吃", "小吃", "面食", "甜品", "凉菜"}},
	{"Z-04", "江鲜水产区", "River & Sea Food Row",
		orb.Polygon{ring(xy{320, -140}, xy{420, -140}, xy{440, 140}, xy{330, 140})},
		[]string{"水产", "水产", "水产", "烧烤", "凉菜"}},
	{"Z-05", "饮品甜点区", "Drinks & Desserts",
		orb.Polygon{ring(xy{-100, -260}, xy{-20, -300}, xy{60, -260}, xy{60, -180}, xy{-20, -140}, xy{-100, -180})},
		[]string{"饮品", "饮品", "饮品", "甜品", "甜品"}},
}

// Venue grounds, local metres.
var boundary = orb.Polygon{ring(xy{-520, -380}, xy{560, -380}, xy{560, 420}, xy{-520, 420})}

// Generate builds a venue from cfg.
func Generate(cfg Config) (*Venue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed_5a1a_d0c5_f00d))
	v := &Venue{
		ID:       "V-NT-EXPO",
		Name:     "南通国际会展中心",
		NameEN:   "Nantong International Expo Centre",
		Event:    fmt.Sprintf("%d江海国际美食博览会", cfg.Start.Year()),
		EventEN:  fmt.Sprintf("%d Jianghai International Food Expo", cfg.Start.Year()),
		Start:    cfg.Start,
		End:      cfg.Start.AddDate(0, 0, cfg.Days),
		Centre:   Centre,
		Boundary: toLonLat(boundary),
	}
	for _, z := range zoneSpecs {
		v.Zones = append(v.Zones, Zone{ID: z.id, Name: z.name, NameEN: z.nameEN, Area: toLonLat(z.shape)})
	}
	v.Stalls = genStalls(rng, cfg.Stalls)
	v.Kitchens = genKitchens(rng)
	v.Banquets = genBanquets(rng, cfg)
	v.Teams = genTeams(rng, cfg.Teams, v.Kitchens)
	return v, nil
}

// area of a local polygon (shell minus holes), square metres.
func area(p orb.Polygon) float64 {
	a := math.Abs(planar.Area(p[0]))
	for _, h := range p[1:] {
		a -= math.Abs(planar.Area(h))
	}
	return a
}

// distToEdges is the least distance from q to any edge of p (local metres).
func distToEdges(p orb.Polygon, q xy) float64 {
	best := math.Inf(1)
	for _, r := range p {
		for i := 0; i+1 < len(r); i++ {
			best = math.Min(best, segDist(r[i], r[i+1], q))
		}
	}
	return best
}

func segDist(a, b, q xy) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := ((q[0]-a[0])*dx + (q[1]-a[1])*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	ex, ey := a[0]+t*dx-q[0], a[1]+t*dy-q[1]
	return math.Hypot(ex, ey)
}

var surnames = []rune("张王李赵刘陈杨黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁沈任姚卢姜崔钟谭陆汪范金石廖贾夏韦")

var namePatterns = map[string][]string{
	"烧烤": {"%c记烧烤", "%c家烤串", "老%c烧烤", "%c氏炭烤"},
	"面食": {"%c记面馆", "%c氏手擀面", "%c家馄饨", "%c记锅贴"},
	"凉菜": {"%c家凉菜", "%c记卤拌菜", "%c氏冷盘"},
	"饮品": {"%c记奶茶", "%c家鲜榨果汁", "%c记豆浆", "%c氏凉茶"},
	"小吃": {"%c记文蛤饼", "%c家西亭脆饼", "%c记油炸糕", "%c氏林梓潮糕", "%c记臭豆腐"},
	"水产": {"%c记江鲜", "%c家醉蟹", "%c记海鲜烧烤", "%c氏文蛤"},
	"卤味": {"%c记卤味", "%c家酱鸭", "%c氏卤菜"},
	"甜品": {"%c记甜品", "%c家双皮奶", "%c氏糖水"},
}

// gradeWeights gives the A, B, C, D weights per category: cold dishes and
// aquatic products carry more risk than drinks.
var gradeWeights = map[string][4]int{
	"烧烤": {2, 4, 3, 1}, "面食": {3, 4, 2, 1}, "凉菜": {1, 2, 4, 3}, "饮品": {4, 4, 1, 1},
	"小吃": {3, 4, 2, 1}, "水产": {1, 2, 4, 3}, "卤味": {2, 3, 3, 2}, "甜品": {3, 4, 2, 1},
}

func pickGrade(rng *rand.Rand, cat string) RiskGrade {
	w := gradeWeights[cat]
	n := rng.IntN(w[0] + w[1] + w[2] + w[3])
	for i, g := range []RiskGrade{GradeA, GradeB, GradeC, GradeD} {
		if n < w[i] {
			return g
		}
		n -= w[i]
	}
	return GradeD
}

func idWidth(n int) int { return max(3, len(fmt.Sprint(n))) }

func genStalls(rng *rand.Rand, n int) []Stall {
	// Share stalls between zones in proportion to their area
	// (largest-remainder, deterministic).
	areas := make([]float64, len(zoneSpecs))
	total := 0.0
	for i, z := range zoneSpecs {
		areas[i] = area(z.shape)
		total += areas[i]
	}
	counts := make([]int, len(zoneSpecs))
	given := 0
	for i := range counts {
		counts[i] = int(float64(n) * areas[i] / total)
		given += counts[i]
	}
	for i := 0; given < n; i = (i + 1) % len(counts) {
		counts[i]++
		given++
	}
	w := idWidth(n)
	stalls := make([]Stall, 0, n)
	for zi, z := range zoneSpecs {
		b := z.shape.Bound()
		for range counts[zi] {
			var q xy
			for {
				q = xy{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
				if planar.PolygonContains(z.shape, q) && distToEdges(z.shape, q) >= StallMargin {
					break
				}
			}
			cat := z.categories[rng.IntN(len(z.categories))]
			pats := namePatterns[cat]
			name := fmt.Sprintf(pats[rng.IntN(len(pats))], surnames[rng.IntN(len(surnames))])
			stalls = append(stalls, Stall{
				ID:       fmt.Sprintf("S-%0*d", w, len(stalls)+1),
				Name:     name,
				Category: cat,
				ZoneID:   z.id,
				Grade:    pickGrade(rng, cat),
				Point:    local(q[0], q[1]),
			})
		}
	}
	return stalls
}

var kitchenSpecs = []struct {
	name, nameEN, caterer string
	at                    xy
	headcount             [2]int
}{
	{"会展中心主厨房", "Expo Centre Main Kitchen", "南通江海餐饮管理有限公司", xy{-20, 20}, [2]int{1500, 3000}},
	{"贵宾接待餐厅", "VIP Reception Dining Room", "南通紫琅酒店管理有限公司", xy{120, 300}, [2]int{150, 400}},
	{"媒体中心供餐点", "Press Centre Canteen", "南通滨江团餐服务有限公司", xy{-300, -250}, [2]int{200, 600}},
	{"志愿者集中供餐点", "Volunteer Canteen", "江苏通达膳食服务有限公司", xy{450, -300}, [2]int{400, 1200}},
}

func genKitchens(rng *rand.Rand) []Kitchen {
	var ks []Kitchen
	for i, k := range kitchenSpecs {
		ks = append(ks, Kitchen{
			ID:        fmt.Sprintf("K-%02d", i+1),
			Name:      k.name,
			NameEN:    k.nameEN,
			Caterer:   k.caterer,
			Headcount: k.headcount[0] + rng.IntN(k.headcount[1]-k.headcount[0]+1)/50*50,
			Point:     local(k.at[0]+rng.Float64()*10-5, k.at[1]+rng.Float64()*10-5),
		})
	}
	return ks
}

// Towns and villages within about 20 km, north of the Yangtze (the river
// runs a few kilometres south of the venue). Approximate town centres.
var villages = []struct {
	town, townCode string
	at             orb.Point
	names          []string
}{
	{"先锋街道", "XF", orb.Point{120.975, 32.035}, []string{"东社村", "十总村", "新桥村"}},
	{"金沙街道", "JS", orb.Point{121.075, 32.065}, []string{"五里树村", "金北村", "新金村"}},
	{"兴仁镇", "XR", orb.Point{120.800, 32.090}, []string{"徐庄村", "兴东村", "仁和村"}},
	{"刘桥镇", "LQ", orb.Point{120.870, 32.130}, []string{"新河村", "永兴村", "刘北村"}},
	{"川姜镇", "CJ", orb.Point{121.100, 32.030}, []string{"姜灶村", "志浩村", "川港村"}},
	{"秦灶街道", "QZ", orb.Point{120.905, 32.055}, []string{"秦南村", "灶东村"}},
}

var givenNames = []string{"建华", "国强", "秀英", "桂兰", "志明", "海燕", "卫东", "红梅", "德胜", "玉珍", "永刚", "春花"}

// MaxBanquetKm bounds the distance of banquet sites from Centre.
const MaxBanquetKm = 20.0

func genBanquets(rng *rand.Rand, cfg Config) []Banquet {
	types := []BanquetType{Wedding, Wedding, Birthday, HouseMoving, Funeral}
	chefs := []string{"外请厨师", "外请厨师", "家庭成员", "亲朋好友"}
	var bs []Banquet
	for i := range cfg.Banquets {
		vl := villages[rng.IntN(len(villages))]
		var p orb.Point
		for {
			// Up to ~1.5 km from the town centre, kept within range.
			p = orb.Point{vl.at[0] + (rng.Float64()*2-1)*0.015, vl.at[1] + (rng.Float64()*2-1)*0.0135}
			if geo.Distance(Centre, p) <= MaxBanquetKm*1000 {
				break
			}
		}
		day := rng.IntN(cfg.Days)
		lunch := rng.IntN(2) == 0
		start := cfg.Start.AddDate(0, 0, day).Add(10*time.Hour + 30*time.Minute)
		if !lunch {
			start = cfg.Start.AddDate(0, 0, day).Add(16*time.Hour + 30*time.Minute)
		}
		end := start.Add(4 * time.Hour)
		bt := types[rng.IntN(len(types))]
		if bt == Wedding || bt == Funeral {
			// Weddings and funerals often run over two days.
			end = end.AddDate(0, 0, rng.IntN(2))
		}
		bs = append(bs, Banquet{
			ID:         fmt.Sprintf("B-%02d", i+1),
			FilingNo:   fmt.Sprintf("NT-TZ-%s-%d%02d%03d", vl.townCode, cfg.Start.Year(), int(cfg.Start.Month()), i+1),
			Host:       string(surnames[rng.IntN(len(surnames))]) + givenNames[rng.IntN(len(givenNames))],
			Phone:      fmt.Sprintf("1%d%d****%04d", 3+rng.IntN(7), rng.IntN(10), rng.IntN(10000)),
			Type:       bt,
			Town:       vl.town,
			Village:    vl.names[rng.IntN(len(vl.names))],
			Headcount:  (6 + rng.IntN(35)) * 10,
			ChefSource: chefs[rng.IntN(len(chefs))],
			Start:      start,
			End:        end,
			Point:      p,
		})
	}
	return bs
}

var teamNames = []struct{ zh, en string }{
	{"第一保障组", "Assurance Team 1"}, {"第二保障组", "Assurance Team 2"}, {"第三保障组", "Assurance Team 3"},
	{"第四保障组", "Assurance Team 4"}, {"第五保障组", "Assurance Team 5"}, {"第六保障组", "Assurance Team 6"},
}

func genTeams(rng *rand.Rand, n int, ks []Kitchen) []Team {
	var ts []Team
	// Two teams are stationed at the busiest kitchens; the rest patrol
	// from posts around the grounds.
	posts := []xy{{0, -330}, {-480, 0}, {500, 200}, {300, 380}}
	for i := range n {
		t := Team{
			ID:      fmt.Sprintf("T-%02d", i+1),
			Name:    teamNames[i].zh,
			NameEN:  teamNames[i].en,
			Leader:  string(surnames[rng.IntN(len(surnames))]) + givenNames[rng.IntN(len(givenNames))],
			Members: 3 + rng.IntN(4),
		}
		if i < 2 {
			t.Mode = Stationed
			t.KitchenID = ks[i].ID
			t.Home = ks[i].Point
		} else {
			t.Mode = Patrol
			q := posts[(i-2)%len(posts)]
			t.Home = local(q[0]+rng.Float64()*20-10, q[1]+rng.Float64()*20-10)
		}
		ts = append(ts, t)
	}
	return ts
}
