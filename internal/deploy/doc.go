// Package deploy is the one loop that makes a release: render the
// snapshot for a site, observe the site, plan, let the target carry the
// plan out, and record the release and its events. Nothing else in ladder
// starts or stops a service.
package deploy
