//go:build race

package katamari

// raceEnabled: the race detector's own bookkeeping grows RSS steadily, so RSS-based
// leak checks only run without it.
const raceEnabled = true
