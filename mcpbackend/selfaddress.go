package mcpbackend

import (
	"net"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// warnSelfAddress warns when nextcloud names one of the site's own public
// host names: the backend would then reach Nextcloud through the edge,
// where mcp_gateway's token fence refuses MCP tokens on Nextcloud's paths,
// and every tool call would fail. nextcloud_mcp must reach Nextcloud
// directly (its internal address, NEXTCLOUD_URL in the sample).
func (h *Handler) warnSelfAddress(base string, publicHosts []string) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return
	}
	host := strings.ToLower(u.Hostname())
	if isLoopback(host) {
		return // a local Nextcloud, or a local test site: nothing to tell apart
	}
	for _, p := range publicHosts {
		p = strings.ToLower(p)
		if h, _, err := net.SplitHostPort(p); err == nil {
			p = h
		}
		if strings.Trim(p, "[]") == host {
			h.logger.Warn("nextcloud points at this site's own public address: nextcloud_mcp must reach Nextcloud directly (its internal address), not through the edge, whose token fence refuses MCP tokens on Nextcloud's paths",
				zap.String("nextcloud", base), zap.String("public_host", p))
			return
		}
	}
}
