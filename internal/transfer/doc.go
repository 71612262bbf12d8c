// Package transfer sends a snapshot to an OCI registry with everything
// another machine needs to deploy it, and brings it back from there: "build
// once in CI, promote the digest" when the builder and the promoter are
// not one machine.
//
// A snapshot travels as OCI artifacts in one registry (the address of a
// rung's `registry:` or any other):
//
//   - each artifact, by digest, at ADDRESS/STACK-SERVICE@sha256:… (as a
//     promotion to a rung with a registry pushes them);
//   - the snapshot itself: an OCI manifest of artifactType
//     application/vnd.ladder.snapshot.v1+json, tagged with the snapshot ID
//     at ADDRESS/STACK:ID, whose two layers are the snapshot document and
//     the stack definition it was made from (the archived, normalised
//     Compose project);
//   - its signature, an artifact whose subject is the snapshot manifest,
//     and each artifact's SBOM (CycloneDX JSON), an artifact whose subject
//     is that image: attached as OCI referrers, the way cosign and ORAS
//     attach signatures and SBOMs, so registries and tools that list
//     referrers see them. A registry without the referrers API gets the
//     referrers tag scheme of the distribution spec instead.
//
// Pull checks everything it brings: the snapshot's ID is recomputed from
// its content, every blob is checked against its digest, and the stack
// definition is checked against the snapshot's stack hash when it is
// first used. A signature is only data here: whether it is trusted is
// decided where it is verified, against the keys pinned there.
package transfer
