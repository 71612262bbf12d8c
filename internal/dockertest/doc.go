// Package dockertest starts a second Docker engine on this machine for
// tests: a dockerd of its own with its own socket, TCP port on 127.0.0.1,
// data root, exec root, pidfile, containerd namespaces and bridge, so
// that a test can run a site on another engine than the machine's, and
// removes all of it when the test ends. It needs root, dockerd (Debian's
// docker.io) and ip (iproute2); without them the test is skipped, and
// fails under CI=true.
package dockertest
