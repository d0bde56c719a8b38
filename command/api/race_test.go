//go:build race

package api_test

// raceOn: the race detector slows excelize down some twentyfold, so the
// export test stores fewer results under -race.
const raceOn = true
