//go:build race

package httprule

// raceEnabled: under the race detector, reading Google's corpus of
// contracts would cost gigabytes.
const raceEnabled = true
