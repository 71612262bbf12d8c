// Package plan compares what a site should run (render.Desired) with what
// it runs (Observed) and decides, without any I/O, what to do: which
// instances to keep, start and stop, and what to wait for. A target's
// executor then carries the plan out without making decisions of its own.
package plan
