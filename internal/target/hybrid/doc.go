// Package hybrid is the process target for stacks that mix static
// binaries with images: what ladder builds as a static single binary
// runs as a native process (package process, the fast inner loop), and
// every other service (Compose image: services, Dockerfile builds that
// are not one static binary) runs as a container in the Docker engine
// (package compose), one Compose project and network per site.
//
// Services reach each other by name across the boundary. A container
// finds a native service through extra_hosts (NAME:GATEWAY, the site
// network's gateway on this host), where a relay listens on the
// service's own port and forwards to the service's front on 127.0.0.1.
// A native process finds a container the way it finds native services:
// its "service:port" addresses are rewritten to a front on 127.0.0.1,
// here a relay to the container's current address on the network, so
// replacing the container never moves the address a process was given.
//
// Which half runs what is decided per service from its artifact
// (build.StaticBinary); the order in which the halves are applied
// follows depends_on across the boundary (target.Split). The kind stays
// "process": users pick --target process and see where each service ran
// in `ladder status` and on the release's deploy.started event.
package hybrid
