package caddymodule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("mcp_gateway", parseCaddyfile)
	// After the other authentication directives and before encode, so
	// the gateway sees requests before any handle/reverse_proxy and
	// list responses before compression (it also strips
	// Accept-Encoding from requests whose responses it rewrites).
	httpcaddyfile.RegisterDirectiveOrder("mcp_gateway", httpcaddyfile.After, "forward_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Gateway)
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return g, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	mcp_gateway [<matcher>] {
//	    resource              <url>              # required: canonical URL of the MCP endpoint
//	    issuer                <url>              # required: OAuth/OIDC issuer
//	    authorization_servers <url>...           # default: issuer
//	    audience              <aud>...           # default: resource
//	    jwks_uri              <url>              # default: discovered
//	    introspection         [<url>] {          # default URL: discovered
//	        client_id     <id>                   # without both: RFC 7591 self-registration
//	        client_secret <secret>
//	        provider_checks_audience             # for Nextcloud's oidc app (aud = owning client)
//	    }
//	    userinfo              off|on|<url>       # default: off
//	    cache_ttl             <duration>         # default: 5m
//	    cache_size            <n>                # default: 100000
//	    max_introspections    <n>                # default: 8 provider calls for opaque tokens at once
//	    require_typ           <typ>|off          # e.g. at+jwt (RFC 9068); default: off
//	    user_claim            <claim>            # user name for the upstream (X-Scopegate-User); default: none
//	    scopes_supported      <scope>...
//	    base_scopes           <scope>...         # default: openid profile email
//	    challenge_scopes      <scope>...
//	    allowed_origins       <origin>...
//	    forward_token         on|off             # default: on
//
//	    tool                  <name-or-glob> <scope>...  # override/add to the backend's _meta scopes
//	    resource_scope        <uri-glob> <scope>...      # resources/read and resource listings
//	    prompt                <name-or-glob> <scope>...
//	    unknown_tool          deny|allow         # default: deny
//	    unknown_resource      deny|allow         # default: deny
//	    unknown_prompt        deny|allow         # default: deny
//	    allow_method          <method>...        # more methods that pass for any valid token
//	    max_body_size         <size>             # default: 1MiB (413 above)
//	    body_grace            <duration>         # default: 10s before body_min_rate applies
//	    body_min_rate         <size>/<duration>|off  # default: 1KiB/5s (408 below it)
//	    body_timeout          <duration>         # default: 60s per MiB of max_body_size (408 above)
//	    session_capacity      <n>                # default: 100000
//	    session_idle_timeout  <duration>         # default: 12h
//	    session_key_rotation  <duration>         # default: 24h
//	    session_key_overlap   <duration>         # default: 24h
//	    max_sessions_per_subject <n>             # default: 100 (429 above)
//	    max_streams_per_subject  <n>             # default: 16 open GET streams (429 above)
//
//	    fence                 on|off             # default: on (MCP tokens refused outside the endpoint)
//	    fence_exempt          <path-prefix>...   # more paths where MCP tokens may go
//	    audit                 all|refusals       # default: all (one "mcp decision" line per message)
//	}
func (g *Gateway) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "resource", "issuer", "jwks_uri", "userinfo", "user_claim":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			switch opt {
			case "resource":
				g.Resource = v
			case "issuer":
				g.Issuer = v
			case "jwks_uri":
				g.JWKSURI = v
			case "userinfo":
				g.Userinfo = v
			case "user_claim":
				g.UserClaim = v
			}
		case "authorization_servers", "audience", "scopes_supported", "base_scopes", "challenge_scopes", "allowed_origins":
			vals := d.RemainingArgs()
			if len(vals) == 0 {
				return d.ArgErr()
			}
			switch opt {
			case "authorization_servers":
				g.AuthorizationServers = append(g.AuthorizationServers, vals...)
			case "audience":
				g.Audience = append(g.Audience, vals...)
			case "scopes_supported":
				g.ScopesSupported = append(g.ScopesSupported, vals...)
			case "base_scopes":
				g.BaseScopes = append(g.BaseScopes, vals...)
			case "challenge_scopes":
				g.ChallengeScopes = append(g.ChallengeScopes, vals...)
			case "allowed_origins":
				g.AllowedOrigins = append(g.AllowedOrigins, vals...)
			}
		case "introspection":
			if g.Introspection != nil {
				return d.Err("introspection given twice")
			}
			g.Introspection = new(Introspection)
			args := d.RemainingArgs()
			switch len(args) {
			case 0:
			case 1:
				g.Introspection.URL = args[0]
			default:
				return d.ArgErr()
			}
			for n := d.Nesting(); d.NextBlock(n); {
				sub := d.Val()
				if sub == "provider_checks_audience" {
					if d.NextArg() {
						return d.ArgErr()
					}
					g.Introspection.ProviderChecksAudience = true
					continue
				}
				var v string
				if !d.Args(&v) || d.NextArg() {
					return d.ArgErr()
				}
				switch sub {
				case "client_id":
					g.Introspection.ClientID = v
				case "client_secret":
					g.Introspection.ClientSecret = v
				default:
					return d.Errf("unrecognized introspection option %q", sub)
				}
			}
		case "cache_ttl":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("cache_ttl: %v", err)
			}
			g.CacheTTL = caddy.Duration(dur)
		case "cache_size":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("cache_size: %q is not a positive integer", v)
			}
			g.CacheSize = n
		case "max_introspections":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("max_introspections: %q is not a positive integer", v)
			}
			g.MaxIntrospections = n
		case "require_typ":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			if v == "off" {
				v = ""
			}
			g.RequireTyp = v
		case "tool", "resource_scope", "prompt":
			if !d.NextArg() {
				return d.ArgErr()
			}
			rule := ScopeRule{Pattern: d.Val(), Scopes: d.RemainingArgs()}
			switch opt {
			case "tool":
				g.ToolRules = append(g.ToolRules, rule)
			case "resource_scope":
				g.ResourceRules = append(g.ResourceRules, rule)
			case "prompt":
				g.PromptRules = append(g.PromptRules, rule)
			}
		case "unknown_tool", "unknown_resource", "unknown_prompt":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			if _, err := parsePolicy(v); err != nil {
				return d.Errf("%s: %v", opt, err)
			}
			switch opt {
			case "unknown_tool":
				g.UnknownTool = v
			case "unknown_resource":
				g.UnknownResource = v
			case "unknown_prompt":
				g.UnknownPrompt = v
			}
		case "allow_method":
			vals := d.RemainingArgs()
			if len(vals) == 0 {
				return d.ArgErr()
			}
			g.AllowMethods = append(g.AllowMethods, vals...)
		case "max_body_size":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > 1<<40 {
				return d.Errf("max_body_size: %q is not a size", v)
			}
			g.MaxBodySize = int64(n)
		case "body_grace", "body_timeout":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", opt, v)
			}
			if opt == "body_grace" {
				g.BodyGrace = caddy.Duration(dur)
			} else {
				g.BodyTimeout = caddy.Duration(dur)
			}
		case "body_min_rate":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			n, window, err := parseRate(v)
			if err != nil {
				return d.Errf("body_min_rate: %v", err)
			}
			g.BodyMinBytes, g.BodyRateWindow = n, caddy.Duration(window)
		case "session_capacity":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("session_capacity: %q is not a positive integer", v)
			}
			g.SessionCapacity = n
		case "session_idle_timeout", "session_key_rotation", "session_key_overlap":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", opt, v)
			}
			switch opt {
			case "session_idle_timeout":
				g.SessionIdleTimeout = caddy.Duration(dur)
			case "session_key_rotation":
				g.SessionKeyRotation = caddy.Duration(dur)
			default:
				g.SessionKeyOverlap = caddy.Duration(dur)
			}
		case "max_sessions_per_subject", "max_streams_per_subject":
			var v string
			if !d.Args(&v) || d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("%s: %q is not a positive integer", opt, v)
			}
			if opt == "max_sessions_per_subject" {
				g.MaxSessionsPerSubject = n
			} else {
				g.MaxStreamsPerSubject = n
			}
		case "fence":
			on, err := choice(d, opt, "on", "off")
			if err != nil {
				return err
			}
			g.FenceOff = !on
		case "audit":
			all, err := choice(d, opt, "all", "refusals")
			if err != nil {
				return err
			}
			g.AuditRefusalsOnly = !all
		case "fence_exempt":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				if !strings.HasPrefix(a, "/") {
					return d.Errf("fence_exempt: %q is not a path prefix (it must begin with /)", a)
				}
			}
			g.FenceExempt = append(g.FenceExempt, args...)
		case "forward_token":
			on, err := choice(d, opt, "on", "off")
			if err != nil {
				return err
			}
			g.ForwardToken = &on
		default:
			return d.Errf("unrecognized mcp_gateway option %q", opt)
		}
	}
	return nil
}

// parseRate reads "<size>/<duration>" (1KiB/5s), or "off" as -1 bytes.
// choice reads an option's one argument, which must be first or second;
// it reports whether it was first.
func choice(d *caddyfile.Dispenser, opt, first, second string) (bool, error) {
	var v string
	if !d.Args(&v) || d.NextArg() {
		return false, d.ArgErr()
	}
	switch v {
	case first:
		return true, nil
	case second:
		return false, nil
	}
	return false, d.Errf("%s: expected %s or %s, got %q", opt, first, second, v)
}

func parseRate(v string) (int64, time.Duration, error) {
	if v == "off" {
		return -1, 0, nil
	}
	size, per, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not <size>/<duration> or off", v)
	}
	n, err := humanize.ParseBytes(size)
	if err != nil || n == 0 || n > 1<<40 {
		return 0, 0, fmt.Errorf("%q is not a size", size)
	}
	window, err := caddy.ParseDuration(per)
	if err != nil || window <= 0 {
		return 0, 0, fmt.Errorf("%q is not a positive duration", per)
	}
	return int64(n), window, nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Gateway)(nil)
