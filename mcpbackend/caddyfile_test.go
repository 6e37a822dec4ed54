package mcpbackend

import (
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Handler
		wantErr bool
	}{
		{"inline url", `nextcloud_mcp http://127.0.0.1:8080`, Handler{Nextcloud: "http://127.0.0.1:8080"}, false},
		{"full block", `nextcloud_mcp {
			nextcloud http://nc:8080
			credentials basic admin {env.NC_APP_PASSWORD}
			apps notes files
			apps deck
			scope_separator "."
			allowed_hosts mcp.example.com example.com:8443
			stateless
			timeout 10s
		}`, Handler{
			Nextcloud:      "http://nc:8080",
			Credentials:    CredentialsConfig{Mode: "basic", User: "admin", Password: "{env.NC_APP_PASSWORD}"},
			Apps:           []string{"notes", "files", "deck"},
			ScopeSeparator: ".",
			AllowedHosts:   []string{"mcp.example.com", "example.com:8443"},
			Stateless:      true,
			Timeout:        caddy.Duration(10e9),
		}, false},
		{"bearer", "nextcloud_mcp {\n nextcloud http://nc\n credentials bearer\n}", Handler{Nextcloud: "http://nc", Credentials: CredentialsConfig{Mode: "bearer"}}, false},
		{"app_password", "nextcloud_mcp {\n credentials app_password\n}", Handler{Credentials: CredentialsConfig{Mode: "app_password"}}, false},
		{"app_password with key", "nextcloud_mcp {\n credentials app_password {env.NC_KEY}\n}", Handler{Credentials: CredentialsConfig{Mode: "app_password", EncryptionKey: "{env.NC_KEY}"}}, false},
		{"app_password two args", "nextcloud_mcp {\n credentials app_password a b\n}", Handler{}, true},
		{"origins and external gateway", "nextcloud_mcp {\n allowed_origins https://a.example https://b.example\n external_gateway\n}",
			Handler{AllowedOrigins: []string{"https://a.example", "https://b.example"}, ExternalGateway: true}, false},
		{"external_gateway with arg", "nextcloud_mcp {\n external_gateway yes\n}", Handler{}, true},
		{"empty allowed_origins", "nextcloud_mcp {\n allowed_origins\n}", Handler{}, true},
		{"bearer with extra arg", "nextcloud_mcp {\n credentials bearer tok\n}", Handler{}, true},
		{"basic missing password", "nextcloud_mcp {\n credentials basic admin\n}", Handler{}, true},
		{"unknown credentials", "nextcloud_mcp {\n credentials cookie\n}", Handler{}, true},
		{"unknown subdirective", "nextcloud_mcp {\n frobnicate\n}", Handler{}, true},
		{"empty apps", "nextcloud_mcp {\n apps\n}", Handler{}, true},
		{"two inline args", "nextcloud_mcp http://a http://b", Handler{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(h, tt.want) {
				t.Errorf("got %+v\nwant %+v", h, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		h    Handler
		ok   bool
	}{
		{"minimal", Handler{Nextcloud: "http://nc"}, true},
		{"placeholder url", Handler{Nextcloud: "{env.NC_URL}"}, true},
		{"no url", Handler{}, false},
		{"not http", Handler{Nextcloud: "ftp://nc"}, false},
		{"bad separator", Handler{Nextcloud: "http://nc", ScopeSeparator: "/"}, false},
		{"unknown app", Handler{Nextcloud: "http://nc", Apps: []string{"mail"}}, false},
		{"app_password", Handler{Nextcloud: "http://nc", Credentials: CredentialsConfig{Mode: "app_password"}}, true},
		{"bad mode", Handler{Nextcloud: "http://nc", Credentials: CredentialsConfig{Mode: "x"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.h.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
