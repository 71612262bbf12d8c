package signal

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Sparkline sizes used when the caller passes zero or less, and the
// smallest drawable, below which the padding would leave no room.
const (
	sparkDefaultWidth  = 100
	sparkDefaultHeight = 20
	sparkMinSize       = 8
	// sparkPad keeps the stroke and the end marker inside the viewBox.
	sparkPad = 2.0
)

// Sparkline draws values (oldest first) as a small inline SVG line chart
// scaled to their own min..max, with the last point marked, for the HTML
// UI's tables. It is pure SVG, no script, so it renders in any browser and
// in e-mail, and is accessible: role="img" with title as its name and a
// text summary (last, min, max) as its description, since the picture
// alone says nothing to a screen reader.
//
// A constant series is a flat line through the middle; an empty one (or
// one with no finite value) is a faint dashed line, so a missing series
// does not look like a zero one. Non-finite values are gaps that keep
// their place on the time axis.
func Sparkline(values []float64, width, height int, title string) template.HTML {
	if width <= 0 {
		width = sparkDefaultWidth
	}
	if height <= 0 {
		height = sparkDefaultHeight
	}
	width, height = max(width, sparkMinSize), max(height, sparkMinSize)
	w, h := float64(width), float64(height)

	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="`)
	b.WriteString(strconv.Itoa(width))
	b.WriteString(`" height="`)
	b.WriteString(strconv.Itoa(height))
	b.WriteString(`" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(width) + " " + strconv.Itoa(height))
	b.WriteString(`" role="img" aria-label="`)
	b.WriteString(template.HTMLEscapeString(title))
	b.WriteString(`"><title>`)
	b.WriteString(template.HTMLEscapeString(title))
	b.WriteString(`</title>`)

	lo, hi, last, lastIdx := math.Inf(+1), math.Inf(-1), 0.0, -1
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
		last, lastIdx = v, i
	}
	if lastIdx < 0 {
		mid := num(h / 2)
		b.WriteString(`<desc>no data</desc><line class="sparkline-empty" x1="` + num(sparkPad) + `" y1="` + mid +
			`" x2="` + num(w-sparkPad) + `" y2="` + mid +
			`" fill="none" stroke="currentColor" stroke-opacity="0.4" stroke-width="1" stroke-dasharray="3 3"/></svg>`)
		return template.HTML(b.String())
	}
	b.WriteString(`<desc>last ` + label(last) + `, min ` + label(lo) + `, max ` + label(hi) + `</desc>`)

	x := func(i int) float64 {
		if len(values) == 1 {
			return w - sparkPad
		}
		return sparkPad + float64(i)*(w-2*sparkPad)/float64(len(values)-1)
	}
	y := func(v float64) float64 {
		if hi == lo {
			return h / 2
		}
		return sparkPad + (hi-v)/(hi-lo)*(h-2*sparkPad)
	}
	var pts []string
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		pts = append(pts, num(x(i))+","+num(y(v)))
	}
	if len(pts) == 1 {
		// A single reading is drawn as a level line leading to it, since
		// one point alone would be invisible.
		pts = append([]string{num(sparkPad) + "," + num(y(last))}, pts...)
	}
	b.WriteString(`<polyline points="` + strings.Join(pts, " ") +
		`" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>`)
	b.WriteString(`<circle class="sparkline-last" cx="` + num(x(lastIdx)) + `" cy="` + num(y(last)) +
		`" r="2" fill="currentColor"/></svg>`)
	return template.HTML(b.String())
}

// num formats a coordinate with at most two decimals: finer is invisible
// and only bloats the page.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// label formats a value for the text summary, with enough precision for
// rates and sub-millisecond latencies alike.
func label(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}
