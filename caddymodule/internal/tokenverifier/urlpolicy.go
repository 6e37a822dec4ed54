package tokenverifier

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckURL requires https for every URL the gateway trusts for keys or
// token answers; plain http is allowed only to loopback addresses, where
// local deployments and tests run.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must not have a fragment or user info", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (plain http only on loopback)", raw)
	default:
		return fmt.Errorf("%q must use https", raw)
	}
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
