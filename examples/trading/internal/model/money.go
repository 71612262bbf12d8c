package model

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Money is an amount in US cents. Prices are integers so that the seeded
// random walk gives bit-identical results on every platform (floating-point
// code may be fused differently per architecture) and so sums are exact.
// On the wire it is a plain JSON number with two decimals, e.g. 187.23.
type Money int64

// String formats m with two decimals, e.g. "187.23" or "-0.05".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign = "-"
		m = -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}

// MarshalJSON writes m as a JSON number with two decimals.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number (or a quoted one) and rounds it to cents.
func (m *Money) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("invalid money amount %q", b)
	}
	*m = Money(math.Round(f * 100))
	return nil
}
