//go:build !race

package jsoncodec_test

const raceEnabled = false
