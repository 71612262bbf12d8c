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

// SparkOptions shape a sparkline. Zero sizes take the defaults.
type SparkOptions struct {
	Width, Height int
	// Title names the chart for screen readers and as a tooltip.
	Title string
	// Label formats a value with its unit ("55/s", "0.4%", "12 ms"). When
	// set, the chart carries its scale: the top and bottom of its y axis,
	// labelled at the right edge, so a line can be read without hovering
	// and two charts with different ranges are not mistaken for alike.
	Label func(float64) string
	// FromZero starts the y axis at zero (for counts, rates and
	// latencies), so a small wobble does not fill the chart's height as
	// if it were a large change.
	FromZero bool
}

// Scale label metrics, in CSS pixels: the labels are drawn in a monospace
// font, so their width is known without measuring text.
const (
	sparkFont      = 9.0
	sparkCharWidth = 0.6 * sparkFont
	sparkLabelGap  = 3.0
)

// Sparkline draws values (oldest first) as a small inline SVG line chart
// with the last point marked, for the HTML UI's tables. It is pure SVG,
// no script, so it renders in any browser and in e-mail, and is
// accessible: role="img" with the title as its name and a text summary
// (last, min, max) as its description, since the picture alone says
// nothing to a screen reader.
//
// The y axis spans the values' min..max (from zero with FromZero); with a
// Label the axis's top and bottom are written at the right edge. A
// constant series is a flat line through the middle (along the bottom
// when it is zero on a FromZero axis); an empty one (or one with no
// finite value) is a faint dashed line, so a missing series does not
// look like a zero one. Non-finite values are gaps that keep their place
// on the time axis.
func Sparkline(values []float64, o SparkOptions) template.HTML {
	width, height := o.Width, o.Height
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
	b.WriteString(template.HTMLEscapeString(o.Title))
	b.WriteString(`"><title>`)
	b.WriteString(template.HTMLEscapeString(o.Title))
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
	if o.FromZero {
		lo, hi = min(lo, 0), max(hi, 0)
	}
	text := label
	if o.Label != nil {
		text = o.Label
	}
	b.WriteString(`<desc>last ` + template.HTMLEscapeString(text(last)) + `, min ` + template.HTMLEscapeString(text(lo)) +
		`, max ` + template.HTMLEscapeString(text(hi)) + `</desc>`)

	y := func(v float64) float64 {
		switch {
		case hi != lo:
			return sparkPad + (hi-v)/(hi-lo)*(h-2*sparkPad)
		case o.FromZero && v == 0:
			return h - sparkPad
		}
		return h / 2
	}
	// The scale: the axis's top and bottom at the right edge, the plot
	// left of them, with faint rules at both ends of the axis.
	right := w - sparkPad
	if o.Label != nil {
		top, bottom := o.Label(hi), o.Label(lo)
		if hi == lo {
			top, bottom = "", o.Label(hi)
		}
		chars := max(len([]rune(top)), len([]rune(bottom)))
		right = max(w-sparkLabelGap-float64(chars)*sparkCharWidth, w/2)
		lx := num(w)
		b.WriteString(`<g class="sparkline-scale" fill="currentColor" fill-opacity="0.7" font-family="ui-monospace,monospace" font-size="` +
			num(sparkFont) + `" font-weight="400" text-anchor="end">`)
		if top != "" {
			b.WriteString(`<text x="` + lx + `" y="` + num(sparkFont-1) + `">` + template.HTMLEscapeString(top) + `</text>`)
		}
		by := h - 1
		if hi == lo {
			by = min(max(y(hi)+sparkFont/2-1, sparkFont-1), h-1)
		}
		b.WriteString(`<text x="` + lx + `" y="` + num(by) + `">` + template.HTMLEscapeString(bottom) + `</text></g>`)
		rule := func(yv float64) {
			b.WriteString(`<line class="sparkline-rule" x1="` + num(sparkPad) + `" y1="` + num(yv) + `" x2="` + num(right) + `" y2="` + num(yv) +
				`" stroke="currentColor" stroke-opacity="0.2" stroke-width="1"/>`)
		}
		if hi != lo {
			rule(y(hi))
		}
		rule(y(lo))
	}
	x := func(i int) float64 {
		if len(values) == 1 {
			return right
		}
		return sparkPad + float64(i)*(right-sparkPad)/float64(len(values)-1)
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
