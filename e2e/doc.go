// Package e2e holds ladder's end-to-end tests: they build the ladder
// binary, run it as a user would against a copy of the trading demo, and
// check what it did through its output, its HTTP API, its dashboard in a
// real browser and the processes it left (or did not leave) running.
package e2e
