// Package dockertest starts a second Docker engine on this machine for
// tests: a dockerd of its own with its own socket, TCP port on 127.0.0.1,
// data root, exec root, pidfile, containerd namespaces and bridge, so
// that a test can run a site on another engine than the machine's, and
// removes all of it when the test ends. Engine.ServeSSH also puts it
// behind an OpenSSH server on 127.0.0.1, for a site whose docker host is
// ssh://. It needs root, dockerd (Debian's docker.io) and ip (iproute2),
// and for ssh openssh-server and openssh-client; without them the test is
// skipped, and fails under CI=true.
package dockertest
