package venue_test

import (
	"fmt"
	"os"

	"github.com/shianfood/shian/simulator/venue"
)

func Example() {
	v, err := venue.Generate(venue.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Name, v.Event)
	fmt.Println(len(v.Zones), "zones,", len(v.Stalls), "stalls,", len(v.Kitchens), "kitchens,", len(v.Banquets), "banquets,", len(v.Teams), "teams")
	for _, z := range v.Zones {
		fmt.Println(z.ID, z.Name, z.NameEN)
	}
	// Output:
	// 南通国际会展中心 2026江海国际美食博览会
	// 5 zones, 48 stalls, 4 kitchens, 4 banquets, 5 teams
	// Z-01 美食广场 Food Plaza
	// Z-02 江海夜市街 Jianghai Night Market Street
	// Z-03 南通特色小吃区 Nantong Local Snacks Court
	// Z-04 江鲜水产区 River & Sea Food Row
	// Z-05 饮品甜点区 Drinks & Desserts
}

// Write the stalls for the map as GeoJSON.
func ExampleVenue_StallsGeoJSON() {
	v, _ := venue.Generate(venue.Config{Seed: 1, Stalls: 3})
	if err := v.StallsGeoJSON().Encode(os.Stdout); err != nil {
		panic(err)
	}
}
