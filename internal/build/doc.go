// Package build turns the services of a stack into artifacts: OCI images
// built once from source, identified by their content digest, and kept in
// ladder's local content-addressed store (an OCI image layout).
//
// The unit of reuse is the inputs hash: a digest of everything a build
// reads (source files, embedded files, go.mod and go.sum, the versions of
// dependency modules, the toolchain version and target, the build flags and
// the image recipe). Two builds with the same inputs hash produce the same
// image digest byte for byte, so a service whose inputs did not change is
// never rebuilt: its artifact is found in the store by (service, inputs) and
// reused, and the same digest is promoted through every environment.
//
// Computing the inputs hash cold needs `go list`, which costs a hundred
// milliseconds or more per service. A stat cache (Dir/cache/inputs.json)
// remembers, per build context, the files and directories the hash was made
// from with their size, mtime, ctime and inode; when none of them changed,
// the hash is reused without running go list or reading a file, which makes
// a no-op build of a whole stack take milliseconds.
//
// Today a service is built by the Go builder: its build context must hold a
// Go main package, which is compiled as a static linux binary and wrapped in
// a single-layer image the way ko does it. Dockerfile contexts are refused
// with ErrDockerfile until the compose target can build them.
package build
