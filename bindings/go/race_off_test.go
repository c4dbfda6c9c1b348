//go:build !race

package katamari

const raceEnabled = false
