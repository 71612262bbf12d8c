// Package cli is ladder's command line: one file per verb, each a thin
// adapter that parses options, validates them and calls the library.
// Errors are classified here into exit codes (see exit.go); nothing below
// this package knows about exit codes or terminals.
package cli
