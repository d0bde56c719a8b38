//go:build race

package webtest

// raceDetector: the tests run under -race, several times slower.
const raceDetector = true
