// Package ladder holds what the ladder binary carries with it: the demo
// stack's sources, so that `ladder demo` runs end to end on a machine with
// nothing but ladder and a Go toolchain.
package ladder

import "embed"

// Demo is the trading demo stack with the module files it builds against.
// Its paths are those of this repository: go.mod, go.sum, examples/trading/...
//
//go:embed go.mod go.sum examples/trading
var Demo embed.FS

// DebianImageScript is scripts/debian-image.sh, which builds a Docker
// image from Debian's packages; `ladder demo` runs it for the demo's
// PostgreSQL image on a machine that has none.
//
//go:embed scripts/debian-image.sh
var DebianImageScript string

// DemoDir is the demo stack's directory inside Demo.
const DemoDir = "examples/trading"
