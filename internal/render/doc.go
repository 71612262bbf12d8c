// Package render turns a snapshot, the stack definition and one
// environment's values into the desired state of a site: exactly which
// artifact each service runs, with which command, environment, ports,
// replicas and health checks. It is pure (no I/O), so every render can be
// golden-tested and compared between environments.
package render
