package seed

import (
	"encoding/json"
	"reflect"
	"testing"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSameSeedSameData(t *testing.T) {
	for _, s := range []uint64{0, 1, Default, 1 << 63} {
		a, b := Generate(s), Generate(s)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("seed %d: two generations differ", s)
		}
		if mustJSON(t, a) != mustJSON(t, b) {
			t.Errorf("seed %d: JSON differs", s)
		}
	}
}

func TestDifferentSeedDifferentData(t *testing.T) {
	a, b := Generate(42), Generate(43)
	parts := []struct {
		name string
		a, b any
	}{
		{"users", a.Users, b.Users},
		{"quotes", a.Quotes, b.Quotes},
		{"trades", a.Trades, b.Trades},
		{"notifications", a.Notifications, b.Notifications},
	}
	for _, p := range parts {
		if reflect.DeepEqual(p.a, p.b) {
			t.Errorf("%s are identical for seeds 42 and 43", p.name)
		}
	}
}

// TestDefaultSeedGolden pins a few values of the default data set, so an
// accidental change to the generator (which would change what every
// deployment serves) is caught.
func TestDefaultSeedGolden(t *testing.T) {
	d := Generate(Default)
	got := []any{d.Users[0].Name, d.Quotes[0].Price.String(), d.Trades[0].Symbol, d.Trades[0].Qty}
	want := goldenDefault
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default seed changed: got %#v, want %#v", got, want)
	}
}

var goldenDefault = []any{"Radia Perlman", "218.23", "GOOG", 58}

func TestShapeAndInvariants(t *testing.T) {
	d := Generate(Default)
	if len(d.Users) != NumUsers || len(d.Trades) != NumTrades ||
		len(d.Quotes) != len(Symbols) || len(d.Notifications) != NumTrades {
		t.Fatalf("sizes: %d users, %d trades, %d quotes, %d notifications",
			len(d.Users), len(d.Trades), len(d.Quotes), len(d.Notifications))
	}
	emails := map[string]bool{}
	for i, u := range d.Users {
		if u.ID != i+1 {
			t.Errorf("user %d has ID %d", i, u.ID)
		}
		if emails[u.Email] {
			t.Errorf("duplicate email %s", u.Email)
		}
		emails[u.Email] = true
		if !u.CreatedAt.Before(Epoch) {
			t.Errorf("user %d created at %v, not before epoch", u.ID, u.CreatedAt)
		}
	}
	for i, tr := range d.Trades {
		if tr.ID != i+1 || tr.User < 1 || tr.User > NumUsers || tr.Qty < 1 || tr.Price <= 0 || !tr.Side.Valid() {
			t.Errorf("bad trade %+v", tr)
		}
		if _, ok := LookupSymbol(tr.Symbol); !ok {
			t.Errorf("trade %d has unknown symbol %s", tr.ID, tr.Symbol)
		}
		if i > 0 && !tr.Time.After(d.Trades[i-1].Time) {
			t.Errorf("trade %d is not after trade %d", tr.ID, i)
		}
	}
	for _, q := range d.Quotes {
		if q.Change != q.Price-q.Open {
			t.Errorf("%s: change %v != price %v - open %v", q.Symbol, q.Change, q.Price, q.Open)
		}
	}
	for i, n := range d.Notifications {
		if n.TradeID != d.Trades[i].ID || n.User != d.Trades[i].User || n.Message == "" {
			t.Errorf("notification %d does not match its trade: %+v", i, n)
		}
	}
}
