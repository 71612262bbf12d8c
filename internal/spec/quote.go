package spec

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Quote returns s unchanged when it is plain printable text, else quoted
// and escaped as strconv.Quote does. Names and paths come from files and
// directories anyone may write: a right-to-left override (U+202E), an ANSI
// escape or a newline echoed raw would make a message read differently
// from what it says.
func Quote(s string) string {
	if s == "" {
		return `""`
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return strconv.Quote(s)
			}
		}
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
