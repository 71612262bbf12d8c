// Package sbom produces a software bill of materials for each image ladder
// builds, so that what runs in an environment can be checked against
// vulnerability advisories and licence policy without rebuilding it.
//
// For Go services the SBOM is read from the binary itself: the Go linker
// embeds the main module, every dependency module with its version and
// go.sum hash, the toolchain version and the build settings (see
// debug/buildinfo). That is exactly what was linked, not what a go.mod
// claims, and it needs no network or module cache.
//
// The output is CycloneDX 1.6 JSON, written with
// github.com/CycloneDX/cyclonedx-go, the CycloneDX project's own Go
// library, so the document follows the specification (field names, enums,
// schema URL) without ladder maintaining a copy of the format. Components
// are named by package URL (pkg:golang/..., pkg:oci/...), which is what
// scanners such as grype, Trivy and Dependency-Track match advisories on.
//
// Like the images themselves, SBOMs are reproducible: the serial number is
// derived from the image, there is no timestamp, and every list is sorted,
// so the same image always gives a byte-identical SBOM that can be cached
// and compared by digest.
package sbom
