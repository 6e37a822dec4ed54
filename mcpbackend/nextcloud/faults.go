package nextcloud

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// The answers of a Nextcloud that is not well, and what a tool says about
// them. Two rules hold for every tool:
//   - an answer the backend cannot read as the API's own is an error, never
//     a success: a write answered by a login page or a redirect was not
//     confirmed, so it must not be reported as done;
//   - a change whose fate is unknown (the request was sent, and no answer
//     of Nextcloud's own came back) says so, so that neither the user nor
//     the model repeats it blindly, or assumes it failed.

// maintenanceHeader is set by Nextcloud on its 503 answers while
// maintenance mode is on (occ maintenance:mode --on, and during upgrades).
const maintenanceHeader = "X-Nextcloud-Maintenance-Mode"

// unexpectedAnswer checks an answer below 400 to a request that asked for
// JSON (every app and OCS call, see appHeaders): a redirect (other than
// 304) is where Nextcloud or a proxy in front of it sends a request whose
// credentials it did not take, usually to a login page; an HTML page is
// such a login page, or an error page answered with 200. Neither is the
// API's answer. It returns nil for anything else.
func unexpectedAnswer(method, path, accept string, resp *Response) *Error {
	if !strings.Contains(accept, "application/json") {
		return nil
	}
	switch {
	case resp.Status >= 300 && resp.Status < 400 && resp.Status != http.StatusNotModified:
		// Only the path of the target: the host may be Nextcloud's
		// internal address, and the query may carry a token.
		to := "elsewhere"
		if u, err := url.Parse(resp.Header.Get("Location")); err == nil && u.Path != "" {
			to = u.Path
		}
		return &Error{Method: method, Path: path, Status: resp.Status, Body: resp.Body,
			Message: fmt.Sprintf("Nextcloud or a proxy in front of it redirected the request to %s, usually a login page: check the credentials, and that the nextcloud option names Nextcloud's own address", to)}
	case resp.Status < 300 && isHTML(resp.Header.Get("Content-Type")):
		return &Error{Method: method, Path: path, Status: resp.Status, Body: resp.Body,
			Message: "Nextcloud answered an HTML page instead of JSON: a login or error page, of Nextcloud or of a proxy in front of it"}
	}
	return nil
}

func isHTML(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// serverHint explains the server errors for which Nextcloud, or the proxy
// in front of it, sends no message a tool can show (an HTML page).
func serverHint(status int, header http.Header) (string, bool) {
	switch status {
	case http.StatusBadGateway:
		return "bad gateway: a proxy in front of Nextcloud got no valid answer from it", true
	case http.StatusServiceUnavailable:
		if header.Get(maintenanceHeader) == "1" {
			return "Nextcloud is in maintenance mode (an upgrade, or an administrator switched it on); retry later", true
		}
		return "Nextcloud is unavailable (overloaded or restarting); retry later", true
	case http.StatusGatewayTimeout:
		return "gateway timeout: a proxy in front of Nextcloud gave up waiting for it", true
	case http.StatusInsufficientStorage:
		return "insufficient storage: the user's quota or Nextcloud's disk is full; the change was not saved", true
	}
	return "", false
}

// safeMethods change nothing at Nextcloud.
var safeMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true,
	"PROPFIND": true, "REPORT": true, "SEARCH": true,
}

// uncertainNote is appended to the error of a change whose fate is unknown.
const uncertainNote = "; Nextcloud may have applied it all the same, so check before repeating it"

// fateUnknown reports whether err leaves open whether a change reached
// Nextcloud and was applied: the request was sent (or may have been) and
// no answer of Nextcloud's own came back (a timeout, a dropped
// connection, a proxy's 502 or 504, a page instead of the API's answer).
// Requests that change nothing, and refusals Nextcloud itself gave, are
// never uncertain.
func fateUnknown(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return !safeMethods[te.Method] && te.maybeSent()
	}
	var e *Error
	if errors.As(err, &e) {
		if safeMethods[e.Method] {
			return false
		}
		return e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout || e.Status < 300
	}
	return false
}

// maybeSent is false for the failures that happen before a request
// leaves: no credentials, an unknown host, a failed dial (refused,
// unreachable), a certificate not accepted.
func (e *TransportError) maybeSent() bool {
	var (
		dns *net.DNSError
		op  *net.OpError
		crt *tls.CertificateVerificationError
		hn  x509.HostnameError
		ua  x509.UnknownAuthorityError
	)
	switch {
	case errors.Is(e.Err, ErrNoCredentials), errors.Is(e.Err, syscall.ECONNREFUSED),
		errors.As(e.Err, &dns), errors.As(e.Err, &crt), errors.As(e.Err, &hn), errors.As(e.Err, &ua):
		return false
	case errors.As(e.Err, &op) && op.Op == "dial":
		return false
	}
	return true
}
