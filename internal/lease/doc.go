// Package lease holds leases from the store: the one way ladder decides
// who owns an environment, a site's deploy or a rung's agent. A Held lease
// renews itself in the background and cancels its context the moment it
// is lost, so work done under it stops instead of racing a new owner.
// Nothing here looks at PIDs or /proc: a holder is alive while it renews.
package lease
