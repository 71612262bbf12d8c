// Package seed generates the trading demo's start-up data: users, quotes,
// trades and notifications. Everything is a pure function of the seed
// (env SEED, default 42): the same seed yields byte-identical JSON on every
// run and every platform, so two deployments of one snapshot can be
// compared, and tests can assert on exact values.
//
// Each kind of data draws from its own PCG stream, so that changing how,
// say, users are generated does not reshuffle every trade. No wall-clock
// time is used: timestamps are offsets from the fixed Epoch.
package seed

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// Default is the seed used when SEED is unset.
const Default uint64 = 42

// Sizes of the generated data set.
const (
	NumUsers  = 20
	NumTrades = 100
)

// Epoch is the fixed origin of every seeded timestamp: a Monday's market
// open on the NYSE (09:30 New York time).
var Epoch = time.Date(2025, time.January, 6, 14, 30, 0, 0, time.UTC)

// TradeInterval is the spacing of the seeded trades; the quote walk takes
// one step per interval, so the latest quote is as of the end of trading.
const TradeInterval = 3 * time.Minute

// Symbol is a tradable instrument and its reference price.
type Symbol struct {
	Ticker string
	Name   string
	Base   model.Money
}

// Symbols are the instruments the trades API quotes and accepts.
var Symbols = []Symbol{
	{"AAPL", "Apple Inc.", 24300},
	{"MSFT", "Microsoft Corp.", 42500},
	{"NVDA", "NVIDIA Corp.", 14900},
	{"GOOG", "Alphabet Inc.", 19700},
	{"AMZN", "Amazon.com Inc.", 22700},
}

// Stream identifiers: one independent PCG stream per kind of data.
const (
	streamUsers uint64 = iota + 1
	streamPrices
	streamTrades
)

var firstNames = []string{
	"Ada", "Alan", "Barbara", "Claude", "Dennis", "Donald", "Edsger", "Frances",
	"Grace", "Hedy", "Ivan", "John", "Ken", "Leslie", "Margaret", "Niklaus",
	"Radia", "Rob", "Shafi", "Sophie", "Tim", "Tony", "Whitfield", "Yukihiro",
}

var lastNames = []string{
	"Allen", "Backus", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Gray", "Hamilton",
	"Hopper", "Kahn", "Knuth", "Lamport", "Liskov", "Lovelace", "McCarthy", "Perlman",
	"Ritchie", "Shannon", "Sutherland", "Thompson", "Turing", "Wilson", "Wirth", "Wozniak",
}

// Data is one complete seeded data set.
type Data struct {
	Seed          uint64
	Users         []model.User
	Quotes        []model.Quote
	Trades        []model.Trade
	Notifications []model.Notification
}

// Generate builds the data set for seed. It is cheap (microseconds), so
// every service simply calls it at start-up and keeps the part it owns.
func Generate(seed uint64) *Data {
	paths := pricePaths(seed)
	d := &Data{
		Seed:   seed,
		Users:  users(seed),
		Quotes: quotes(paths),
		Trades: trades(seed, paths),
	}
	d.Notifications = notifications(d.Trades)
	return d
}

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

func users(seed uint64) []model.User {
	r := newRand(seed, streamUsers)
	// A permutation of first names keeps names (and so e-mails) unique.
	first := r.Perm(len(firstNames))
	out := make([]model.User, NumUsers)
	for i := range out {
		fn := firstNames[first[i]]
		ln := lastNames[r.IntN(len(lastNames))]
		out[i] = model.User{
			ID:        i + 1,
			Name:      fn + " " + ln,
			Email:     strings.ToLower(fn+"."+ln) + "@example.com",
			CreatedAt: Epoch.AddDate(0, 0, -1-r.IntN(365)),
		}
	}
	return out
}

// pricePaths returns, per symbol, NumTrades+1 prices: a random walk that
// starts within ±10% of the symbol's base price and moves at most ±0.5% a
// step. Integer arithmetic keeps it identical on every platform.
func pricePaths(seed uint64) [][]model.Money {
	r := newRand(seed, streamPrices)
	paths := make([][]model.Money, len(Symbols))
	for s, sym := range Symbols {
		p := make([]model.Money, NumTrades+1)
		p[0] = sym.Base + sym.Base*model.Money(r.IntN(201)-100)/1000
		for t := 1; t < len(p); t++ {
			bp := model.Money(r.IntN(101) - 50) // basis points
			p[t] = max(p[t-1]+p[t-1]*bp/10000, 100)
		}
		paths[s] = p
	}
	return paths
}

func quotes(paths [][]model.Money) []model.Quote {
	asOf := Epoch.Add(NumTrades * TradeInterval)
	out := make([]model.Quote, len(Symbols))
	for s, sym := range Symbols {
		open, last := paths[s][0], paths[s][len(paths[s])-1]
		change := last - open
		out[s] = model.Quote{
			Symbol: sym.Ticker,
			Name:   sym.Name,
			Price:  last,
			Open:   open,
			Change: change,
			// Percent with two decimals; change*10000/open is exact in
			// integers before the single final division.
			ChangePct: float64(change*10000/open) / 100,
			AsOf:      asOf,
		}
	}
	return out
}

func trades(seed uint64, paths [][]model.Money) []model.Trade {
	r := newRand(seed, streamTrades)
	out := make([]model.Trade, NumTrades)
	for i := range out {
		s := r.IntN(len(Symbols))
		side := model.Buy
		if r.IntN(2) == 1 {
			side = model.Sell
		}
		out[i] = model.Trade{
			ID:     i + 1,
			User:   1 + r.IntN(NumUsers),
			Symbol: Symbols[s].Ticker,
			Side:   side,
			Qty:    1 + r.IntN(100),
			Price:  paths[s][i],
			Time:   Epoch.Add(time.Duration(i) * TradeInterval),
		}
	}
	return out
}

// notifications are the fill messages the seeded trades would have sent.
func notifications(trades []model.Trade) []model.Notification {
	out := make([]model.Notification, len(trades))
	for i, t := range trades {
		out[i] = model.Notification{
			ID:        i + 1,
			User:      t.User,
			TradeID:   t.ID,
			Message:   t.FillMessage(),
			CreatedAt: t.Time.Add(time.Second),
		}
	}
	return out
}

// LookupSymbol returns the symbol with the given ticker.
func LookupSymbol(ticker string) (Symbol, bool) {
	for _, s := range Symbols {
		if s.Ticker == ticker {
			return s, true
		}
	}
	return Symbol{}, false
}

// Applies reports whether seed data may be loaded on a rung whose data
// class (LADDER_DATA) is class: on "throwaway" and "seeded" rungs, and
// where no class is set (a service run by hand, outside ladder). Never on
// "real" data, nor "synthetic" (which brings its own).
func Applies(class string) bool {
	switch class {
	case "", "throwaway", "seeded":
		return true
	}
	return false
}
