// Package registrytest runs a real OCI registry for tests and benchmarks
// (Debian's docker-registry, CNCF distribution 2.8) on a free 127.0.0.1
// port with its storage in a temp dir, and makes small runnable images
// locally: FROM scratch with a static busybox, assembled with
// go-containerregistry, so nothing comes from a public registry.
package registrytest
