package davclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRetryOnThrottling(t *testing.T) {
	tests := []struct {
		name       string
		answers    []int
		retryAfter string
		wantStatus int // 0: success
		wantCalls  int
		wantWaits  []time.Duration
	}{
		{"429 then success", []int{429, 201}, "1", 0, 2, []time.Duration{time.Second}},
		{"503 twice then success, backing off", []int{503, 503, 201}, "", 0, 3, []time.Duration{500 * time.Millisecond, time.Second}},
		{"gives up after two retries", []int{429, 429, 429, 201}, "0", 429, 3, []time.Duration{0, 0}},
		{"a long Retry-After is not waited for", []int{429, 201}, "120", 429, 1, nil},
		{"other failures are not retried", []int{412, 201}, "", 412, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls int
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				status := tt.answers[calls]
				calls++
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(status)
			}))
			defer srv.Close()
			var waits []time.Duration
			d := &doer{hc: srv.Client(), sleep: func(_ context.Context, w time.Duration) error {
				waits = append(waits, w)
				return nil
			}}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/cal/x.ics", strings.NewReader("BEGIN:VCALENDAR"))
			resp, err := d.Do(req)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			} else if StatusOf(err) != tt.wantStatus {
				t.Fatalf("err = %v, want HTTP %d", err, tt.wantStatus)
			}
			if calls != tt.wantCalls || len(waits) != len(tt.wantWaits) {
				t.Fatalf("calls %d waits %v, want %d and %v", calls, waits, tt.wantCalls, tt.wantWaits)
			}
			for i := range waits {
				if waits[i] != tt.wantWaits[i] {
					t.Errorf("wait %d = %v, want %v", i, waits[i], tt.wantWaits[i])
				}
			}
			for _, b := range bodies {
				if b != "BEGIN:VCALENDAR" {
					t.Errorf("a retry sent body %q", b)
				}
			}
		})
	}
}
