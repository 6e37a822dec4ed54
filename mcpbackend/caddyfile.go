package mcpbackend

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("nextcloud_mcp", parseCaddyfile)
	// A terminal handler belongs where reverse_proxy is: after the
	// gateway and any rewrites. Inside route/handle blocks the literal
	// order applies instead.
	httpcaddyfile.RegisterDirectiveOrder("nextcloud_mcp", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m Handler
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return &m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	nextcloud_mcp [<matcher>] {
//	    nextcloud       <base-url>
//	    credentials     bearer | basic <user> <app-password> | app_password [<encryption-key>]
//	    apps            <app...>          # notes files sharing deck cookbook tables ...; default all
//	    scope_separator ":" | "."
//	    allowed_hosts   <host...>
//	    allowed_origins <origin...>
//	    external_gateway
//	    stateless
//	    timeout         <duration>
//	}
//
// The base URL may also be given inline: `nextcloud_mcp <base-url>`.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		h.Nextcloud = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "nextcloud":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Nextcloud = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "credentials":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch mode := d.Val(); mode {
			case "bearer":
				if d.NextArg() {
					return d.ArgErr()
				}
				h.Credentials = CredentialsConfig{Mode: mode}
			case "basic":
				args := d.RemainingArgs()
				if len(args) != 2 {
					return d.Errf("credentials basic: want <user> <app-password>")
				}
				h.Credentials = CredentialsConfig{Mode: mode, User: args[0], Password: args[1]}
			case "app_password":
				args := d.RemainingArgs()
				if len(args) > 1 {
					return d.Errf("credentials app_password: want at most <encryption-key>")
				}
				h.Credentials = CredentialsConfig{Mode: mode}
				if len(args) == 1 {
					h.Credentials.EncryptionKey = args[0]
				}
			default:
				return d.Errf("credentials: unknown mode %q (want bearer, basic or app_password)", mode)
			}
		case "apps":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.Apps = append(h.Apps, args...)
		case "scope_separator":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.ScopeSeparator = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "allowed_hosts":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.AllowedHosts = append(h.AllowedHosts, args...)
		case "allowed_origins":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.AllowedOrigins = append(h.AllowedOrigins, args...)
		case "external_gateway":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.ExternalGateway = true
		case "stateless":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Stateless = true
		case "timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("timeout: %v", err)
			}
			h.Timeout = caddy.Duration(dur)
		default:
			return d.Errf("unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
