// Package bench compares Katamari with bbolt and Pebble on the same workloads, from Go.
// It is a separate module so that the binding itself has no dependencies. See
// README.md for how to run it and the latest figures.
package bench
