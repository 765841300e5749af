//go:build race

package transcoding_test

// raceEnabled: under the race detector, loading Google's corpus of
// contracts would cost several gigabytes.
const raceEnabled = true
