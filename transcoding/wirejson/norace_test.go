//go:build !race

package wirejson_test

const raceEnabled = false
