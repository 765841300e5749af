//go:build race

package main

// raceEnabled: under the race detector, reading Google's corpus of
// contracts would cost gigabytes.
const raceEnabled = true
