// Package buildkit reaches a BuildKit daemon and runs Dockerfile builds on
// it with the moby/buildkit client.
//
// Two kinds of BuildKit are supported, as docker buildx supports them:
//
//   - The Docker engine's own BuildKit (buildx's "docker" driver, what
//     `docker build` uses on Docker 23 and later). The client reaches it
//     through the engine's API: the /grpc endpoint, upgraded to HTTP/2, for
//     the control API, and /session for the build session (the context,
//     secrets and SSH agents the build reads from this process). The image
//     lands in the engine's image store under a tag.
//   - A BuildKit daemon at an address (buildx's "remote" driver), such as
//     unix:///run/buildkit/buildkitd.sock or tcp://host:1234. It has no image
//     store that ladder reads, so the image comes back as a `docker save`
//     tarball, and base images are handed to it as named contexts from an
//     OCI layout on this machine (oci-layout://), never pulled.
//
// The package knows nothing of stacks or artifacts: the build package
// decides what to build and stores the result.
package buildkit
