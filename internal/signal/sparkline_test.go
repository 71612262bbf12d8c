package signal

import (
	"encoding/xml"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSparklineGolden(t *testing.T) {
	perSecond := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "/s" }
	percent := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }
	millis := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + " <ms>" }
	cases := []struct {
		name     string
		values   []float64
		title    string
		label    func(float64) string
		fromZero bool
	}{
		{"empty", nil, "api requests/s", nil, false},
		{"one", []float64{4.2}, "api requests/s", nil, false},
		{"constant", []float64{3, 3, 3, 3, 3}, "api error rate", nil, false},
		{"rising", []float64{1, 2, 3, 4, 5, 6, 7, 8}, "api p95 <latency> & more", nil, false},
		{"spiky", []float64{0, 0, 12.5, 0, 0.25, 0, 40, 0, 0, 3}, "web requests/s", nil, false},
		// With a scale: the axis's top and bottom, with their unit.
		{"scale_spiky", []float64{0, 0, 12.5, 0, 0.25, 0, 40, 0, 0, 3}, "web requests/s", perSecond, true},
		{"scale_small_errors", []float64{0, 0.1, 0.4, 0.2}, "api error rate (%)", percent, true},
		{"scale_all_zero", []float64{0, 0, 0, 0}, "api error rate (%)", percent, true},
		{"scale_constant", []float64{3, 3, 3}, "api error rate (%)", percent, false},
		{"scale_latency", []float64{12, 18, 9, math.NaN(), 250}, "api p95 latency (ms)", millis, true},
		{"scale_empty", nil, "api p95 latency (ms)", millis, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(Sparkline(c.values, SparkOptions{Width: 120, Height: 24, Title: c.title, Label: c.label, FromZero: c.fromZero}))
			path := filepath.Join("testdata", "sparkline_"+c.name+".svg")
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("Sparkline mismatch with %s (run with -update if intended)\n got: %s\nwant: %s", path, got, want)
			}
			checkSVG(t, got, c.title)
		})
	}
}

// checkSVG asserts the output is well-formed XML with an accessible name.
func checkSVG(t *testing.T, svg, title string) {
	t.Helper()
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		Role    string   `xml:"role,attr"`
		Title   string   `xml:"title"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
	}
	if doc.Role != "img" || doc.Title != title {
		t.Errorf("role=%q title=%q, want img and %q", doc.Role, doc.Title, title)
	}
	if strings.Contains(svg, "<script") || strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Errorf("unexpected content in %s", svg)
	}
}

func TestSparklineShapes(t *testing.T) {
	// The scaled points stay inside the padded box; the last point marker
	// sits on the last value; a rising series climbs (SVG y grows downward).
	svg := string(Sparkline([]float64{5, 10, 15}, SparkOptions{Width: 100, Height: 20, Title: "x"}))
	if !strings.Contains(svg, `points="2,18 50,10 98,2"`) || !strings.Contains(svg, `cx="98" cy="2"`) {
		t.Errorf("rising series: %s", svg)
	}
	// Gaps keep their place on the time axis and the marker is on the
	// last finite value.
	svg = string(Sparkline([]float64{0, math.NaN(), 10, math.Inf(1)}, SparkOptions{Width: 100, Height: 20, Title: "gaps"}))
	if !strings.Contains(svg, `points="2,18 66,2"`) || !strings.Contains(svg, `cx="66" cy="2"`) {
		t.Errorf("series with gaps: %s", svg)
	}
	checkSVG(t, svg, "gaps")
	// Only non-finite values: the placeholder.
	if svg := string(Sparkline([]float64{math.NaN()}, SparkOptions{Title: "none"})); !strings.Contains(svg, "stroke-dasharray") ||
		!strings.Contains(svg, `width="100" height="20"`) {
		t.Errorf("all-NaN series: %s", svg)
	}
}

// TestSparklineScale: the scale's labels are the axis's ends, the plot
// keeps clear of them, and a zero-based axis puts a small value low in
// the chart instead of stretching it to the top.
func TestSparklineScale(t *testing.T) {
	pct := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }
	svg := string(Sparkline([]float64{0.2, 0.4}, SparkOptions{Width: 100, Height: 20, Title: "e", Label: pct, FromZero: true}))
	if !strings.Contains(svg, `>0.4%</text>`) || !strings.Contains(svg, `>0.0%</text>`) {
		t.Errorf("scale labels missing: %s", svg)
	}
	// 4 characters of 5.4px and a 3px gap: the plot ends at 100-3-21.6.
	if !strings.Contains(svg, `points="2,10 75.4,2"`) {
		t.Errorf("plot should end left of the labels and start at mid-height (0.2 of 0..0.4): %s", svg)
	}
	// Without FromZero the same series fills the height.
	svg = string(Sparkline([]float64{0.2, 0.4}, SparkOptions{Width: 100, Height: 20, Title: "e", Label: pct}))
	if !strings.Contains(svg, `points="2,18 75.4,2"`) || !strings.Contains(svg, `>0.2%</text>`) {
		t.Errorf("min..max axis: %s", svg)
	}
	checkSVG(t, svg, "e")
}
