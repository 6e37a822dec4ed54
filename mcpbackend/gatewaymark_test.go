package mcpbackend

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestGatewayUser: the user claim comes from the gateway's request
// variable in process, and from X-Scopegate-User only with
// external_gateway; a client-sent header never counts in process.
func TestGatewayUser(t *testing.T) {
	for name, tc := range map[string]struct {
		external bool
		vars     map[string]any
		header   string
		want     string
	}{
		"variable":                      {vars: map[string]any{GatewayUserVar: "alice"}, want: "alice"},
		"header in process is ignored":  {vars: map[string]any{}, header: "mallory", want: ""},
		"variable wins in process":      {vars: map[string]any{GatewayUserVar: "alice"}, header: "mallory", want: "alice"},
		"no claim configured":           {vars: map[string]any{GatewaySubjectVar: "sub"}, want: ""},
		"external gateway header":       {external: true, header: "alice", want: "alice"},
		"external gateway, no header":   {external: true, want: ""},
		"external ignores the variable": {external: true, vars: map[string]any{GatewayUserVar: "alice"}, want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", nil)
			if tc.vars != nil {
				r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, tc.vars))
			}
			if tc.header != "" {
				r.Header.Set(HeaderUser, tc.header)
			}
			h := &Handler{ExternalGateway: tc.external}
			if got := h.gatewayUser(r); got != tc.want {
				t.Errorf("gatewayUser = %q, want %q", got, tc.want)
			}
		})
	}
}
