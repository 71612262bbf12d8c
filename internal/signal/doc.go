// Package signal turns running instances into the health signals and
// metrics ladder ties to the snapshot that is deployed.
//
// A release is only as good as the evidence that it works, and that
// evidence is only useful if it names the exact snapshot that produced it.
// This package gathers that evidence:
//
//   - Scraper reads each instance's Prometheus /metrics endpoint and turns
//     two successive readings into a store.Sample per service (request rate,
//     error rate, p50/p95 latency), aggregated over the service's replicas
//     and labelled with the snapshot the instances run.
//   - History keeps the recent samples in memory for dashboards and
//     comparisons without a round trip to the store.
//   - ProbeHTTP, ProbeCommand and Tracker judge liveness the way Docker's
//     HEALTHCHECK does, so a Compose file's healthcheck means the same thing
//     under ladder as under Docker, and report each change of state once.
//   - Sparkline draws a sample series as a small inline SVG for the HTML UI.
//
// Nothing here writes to the store or emits events: callers decide what to
// persist, which keeps this package free of I/O policy and easy to test.
package signal
