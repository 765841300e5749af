//go:build !race

package transcoding_test

const raceEnabled = false
