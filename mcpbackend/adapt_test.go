package mcpbackend_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	_ "github.com/scopegate/scopegate/mcpbackend"
)

// TestAdaptCaddyfile adapts a site with the directive: it must become an
// http.handlers.nextcloud_mcp handler ordered before reverse_proxy, with
// placeholders kept for Provision to resolve.
func TestAdaptCaddyfile(t *testing.T) {
	const caddyfile = `example.com {
	reverse_proxy 127.0.0.1:8080
	nextcloud_mcp /mcp {
		nextcloud http://127.0.0.1:8080
		credentials basic admin {env.NC_APP_PASSWORD}
		apps notes deck
		allowed_hosts example.com
	}
}
`
	out, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapt: %v (warnings %v)", err, warn)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []struct {
							Routes []struct {
								Handle []json.RawMessage `json:"handle"`
							} `json:"routes"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	var order []string
	var mcpHandler string
	for _, srv := range cfg.Apps.HTTP.Servers {
		for _, r := range srv.Routes {
			for _, h := range r.Handle {
				for _, sub := range h.Routes {
					for _, raw := range sub.Handle {
						var m struct {
							Handler string `json:"handler"`
						}
						_ = json.Unmarshal(raw, &m)
						order = append(order, m.Handler)
						if m.Handler == "nextcloud_mcp" {
							mcpHandler = string(raw)
						}
					}
				}
			}
		}
	}
	if strings.Join(order, ",") != "nextcloud_mcp,reverse_proxy" {
		t.Errorf("handler order %v, want nextcloud_mcp before reverse_proxy\n%s", order, out)
	}
	for _, want := range []string{`"nextcloud":"http://127.0.0.1:8080"`, `"password":"{env.NC_APP_PASSWORD}"`, `"apps":["notes","deck"]`, `"allowed_hosts":["example.com"]`} {
		if !strings.Contains(mcpHandler, want) {
			t.Errorf("handler JSON lacks %s: %s", want, mcpHandler)
		}
	}
}
