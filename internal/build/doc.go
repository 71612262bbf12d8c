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
// A service is built by one of two builders. The Go builder takes a build
// context that holds a Go main package, compiles it as a static linux
// binary and wraps it in a single-layer image the way ko does it. The
// Dockerfile builder takes a context with a Dockerfile (or
// build.dockerfile / dockerfile_inline) to BuildKit (see package
// buildkit): the Docker engine's own BuildKit by default (Options.Docker,
// see NewDockerClient), or a BuildKit at Options.BuildKitHost; only an
// engine without BuildKit falls back to its classic builder, and the
// Builder says so once (a StateNotice progress event). The image is
// exported into the same store, normalised (OCI media types, timestamps at
// the epoch, ladder's labels). Its inputs hash covers the files
// .dockerignore lets through (never ladder's state directory), the
// Dockerfile, build args, target, the base images by ID, the names of
// build secrets and SSH agents, and the builder.
//
// ladder never pulls: every image the target's stages read (found with
// BuildKit's Dockerfile parser, walking the stages from the target) must
// be in the engine, which LoadImage can put there from the store without
// a registry; one that is missing is a ConfigError naming the command
// that provides it. A BuildKit at an address gets those images from the
// artifact store as named contexts (oci-layout://), copied there from the
// engine once. They are recorded in the artifact (snapshot.BaseImage).
//
// Go images are byte-for-byte reproducible anywhere; Dockerfile images are
// as reproducible as their steps (a BuildKit at an address also clamps
// file times in the layers to the epoch). Either way a service is built
// once per inputs hash.
//
// Rootfs unpacks an image for the process target to run natively, with a
// manifest of every file's SHA-256 beside the tree; the tree is checked
// against the image before each use and unpacked again when it was
// altered, and CheckRootfs reports differences for verification. Temp
// directories carry their maker's PID and start time, so a later run
// removes the ones a killed build left behind (tempdir.go).
//
// Services that run an image ladder does not build (Compose `image:`
// without `build:`) are pinned instead (Pin, pin.go): the tag is resolved
// to a digest once, from the store when it was pinned before, from the
// Docker engine's copy, or from the registry with the user's Docker
// credentials, following the pull policy; the image is copied into the
// same layout with every blob checked against its digest (fetch.go), and
// its artifact records repository@digest. Push (push.go) sends a
// snapshot's images to a rung's registry by digest. Layers read from the
// layout are verified as they stream (lookup.go), so an altered blob is
// refused by whatever reads it: a load into the engine, a push, an unpack.
package build
