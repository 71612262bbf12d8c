package model

import (
	"encoding/json"
	"testing"
)

func TestMoneyJSONRoundTrip(t *testing.T) {
	tests := []struct {
		m    Money
		json string
	}{
		{0, "0.00"},
		{5, "0.05"},
		{18723, "187.23"},
		{-5, "-0.05"},
		{-12345, "-123.45"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.m)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.json {
			t.Errorf("Marshal(%d) = %s, want %s", tt.m, b, tt.json)
		}
		var back Money
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != tt.m {
			t.Errorf("Unmarshal(%s) = %d, want %d", b, back, tt.m)
		}
	}
}

func TestMoneyUnmarshalRejectsGarbage(t *testing.T) {
	var m Money
	if err := json.Unmarshal([]byte(`"abc"`), &m); err == nil {
		t.Fatal("want error for non-numeric amount")
	}
}

func TestTradeHelpers(t *testing.T) {
	tr := Trade{ID: 7, Side: Buy, Qty: 3, Symbol: "AAPL", Price: 10050}
	if got := tr.Notional(); got != 30150 {
		t.Errorf("Notional = %d, want 30150", got)
	}
	if got, want := tr.FillMessage(), "Trade #7 filled: buy 3 AAPL @ 100.50"; got != want {
		t.Errorf("FillMessage = %q, want %q", got, want)
	}
	if !Buy.Valid() || !Sell.Valid() || Side("hold").Valid() {
		t.Error("Side.Valid is wrong")
	}
}
