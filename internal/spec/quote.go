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

// Escape writes every rune of s that is not printable (control and
// format characters, invalid UTF-8) as a Go escape (\u202e, \x1b), and
// leaves the rest, line breaks and tabs included, as they are. It is for
// whole messages, where Quote's quotes would be wrong: every error ladder
// prints goes through it, so a name that reached a message unquoted still
// cannot rewrite the terminal or reverse the text.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != '\n' && r != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b []byte
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&15])
		case r == '\n' || r == '\t' || unicode.IsPrint(r):
			b = append(b, s[i:i+size]...)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\u202e'
			b = append(b, q[1:len(q)-1]...)
		}
	}
	return string(b)
}
