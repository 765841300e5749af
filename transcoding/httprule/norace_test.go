//go:build !race

package httprule

const raceEnabled = false
