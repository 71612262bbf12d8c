package signal

import (
	"encoding/xml"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSparklineGolden(t *testing.T) {
	cases := []struct {
		name   string
		values []float64
		title  string
	}{
		{"empty", nil, "api requests/s"},
		{"one", []float64{4.2}, "api requests/s"},
		{"constant", []float64{3, 3, 3, 3, 3}, "api error rate"},
		{"rising", []float64{1, 2, 3, 4, 5, 6, 7, 8}, "api p95 <latency> & more"},
		{"spiky", []float64{0, 0, 12.5, 0, 0.25, 0, 40, 0, 0, 3}, "web requests/s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(Sparkline(c.values, 120, 24, c.title))
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
	svg := string(Sparkline([]float64{5, 10, 15}, 100, 20, "x"))
	if !strings.Contains(svg, `points="2,18 50,10 98,2"`) || !strings.Contains(svg, `cx="98" cy="2"`) {
		t.Errorf("rising series: %s", svg)
	}
	// Gaps keep their place on the time axis and the marker is on the
	// last finite value.
	svg = string(Sparkline([]float64{0, math.NaN(), 10, math.Inf(1)}, 100, 20, "gaps"))
	if !strings.Contains(svg, `points="2,18 66,2"`) || !strings.Contains(svg, `cx="66" cy="2"`) {
		t.Errorf("series with gaps: %s", svg)
	}
	checkSVG(t, svg, "gaps")
	// Only non-finite values: the placeholder.
	if svg := string(Sparkline([]float64{math.NaN()}, 0, 0, "none")); !strings.Contains(svg, "stroke-dasharray") ||
		!strings.Contains(svg, `width="100" height="20"`) {
		t.Errorf("all-NaN series: %s", svg)
	}
}
