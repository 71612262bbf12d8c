// Package service is the scaffolding shared by every trading demo service:
// configuration from the environment, the operational endpoints that ladder
// relies on, Prometheus instrumentation, fault injection, a container
// health check and graceful shutdown. A service's main is one line:
//
//	func main() { service.Main("users", setup) }
//
// where setup registers the service's own routes with Service.Handle.
//
// # Environment
//
//	PORT                listen port (default 8080; 0 picks a free port)
//	SEED                seed of the deterministic start-up data (default 42)
//	LADDER_SNAPSHOT     snapshot ID, reported by /healthz, /version, the logs
//	LADDER_ENVIRONMENT  environment name, reported by /version
//	LADDER_SITE         site name, reported by /version
//
// # Fault knobs
//
// These let a deployment misbehave on purpose, so that ladder's promotion
// gates can be shown to stop a bad snapshot. They are read once at
// start-up; an invalid value is a start-up error (exit status 2).
//
//	FAULT_ERROR_RATE  fraction 0..1 of API/page requests answered with
//	                  HTTP 500. Deterministic: after n requests exactly
//	                  floor(n*rate) have failed, spread evenly.
//	FAULT_LATENCY     Go duration (e.g. 250ms) added to every API/page request
//	FAULT_HEALTH      "fail": /healthz answers 503 for the life of the process
//	FAULT_CRASH       "start": log "fault injection: crashing on start" and
//	                  exit 1 at once; "after:5s": serve, then exit 1 after 5s
//
// Faults apply only to the service's own API/page routes, never to
// /healthz (except FAULT_HEALTH), /metrics or /version, so that ladder can
// still observe a faulty deployment. Injected errors and latency are
// recorded by the metrics like real ones: that is what ladder should see.
//
// # Endpoints
//
//	GET /healthz  200 {"status":"ok","service":...,"snapshot":...}; 503 on FAULT_HEALTH=fail
//	GET /metrics  Prometheus exposition: http_requests_total{method,route,code},
//	              http_request_duration_seconds{method,route}, Go and process metrics
//	GET /version  {"service":...,"snapshot":...,"environment":...,"site":...}
//
// # Flags
//
//	-healthcheck  GET http://127.0.0.1:$PORT/healthz with an 8s timeout and
//	              exit 0 on 200, 1 otherwise; for images built FROM scratch
package service
