// Package drift compares what a site should run (render.Desired) with
// what it actually runs, read from the runtime field by field (Live), and
// reports every difference grouped by service: a removed or stopped
// instance, another image, command, environment, port, replica count,
// label or an unhealthy instance. It is pure, so every report has a golden
// text form; secrets are redacted in every form of a report.
package drift
