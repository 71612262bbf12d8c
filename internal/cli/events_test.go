package cli

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

func TestReadEvents(t *testing.T) {
	cases := []struct {
		name    string
		stream  string
		want    []int64
		wantErr string
	}{
		{"Empty", "", nil, io.ErrUnexpectedEOF.Error()},
		{"PreambleOnly", "retry: 2000\n: stream of ladder events\n\n", nil, io.ErrUnexpectedEOF.Error()},
		{"Events", "retry: 2000\n\nid: 7\ndata: {\"id\":7,\"kind\":\"deploy.started\"}\n\n: heartbeat\n\nid: 9\ndata:{\"id\":9}\n\n", []int64{7, 9}, io.ErrUnexpectedEOF.Error()},
		{"UnfinishedEventIsDropped", "id: 7\ndata: {\"id\":7}\n\nid: 8\ndata: {\"id\":8}\n", []int64{7}, io.ErrUnexpectedEOF.Error()},
		{"Malformed", "data: {\"id\":\n\n", nil, "an event of the stream"},
		{"NoDataNoEvent", "event: x\nid: 3\n\n", nil, io.ErrUnexpectedEOF.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			err := readEvents(strings.NewReader(tc.stream), func(e store.Event) { got = append(got, e.ID) })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("events %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestReadEventsBoundsALine(t *testing.T) {
	long := "data: " + strings.Repeat("x", maxEventLine+1) + "\n\n"
	err := readEvents(strings.NewReader(long), func(store.Event) { t.Error("an event from an over-long line") })
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want the scanner's too-long error", err)
	}
}
