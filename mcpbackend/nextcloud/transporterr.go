package nextcloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
)

// TransportError is a request to Nextcloud that got no answer at all:
// cancelled, timed out, refused. Its text names the Nextcloud path and the
// reason, never the address the backend reaches Nextcloud at: that is an
// internal detail of the deployment (often a loopback or private address)
// and tool errors go to MCP clients.
type TransportError struct {
	Method string
	Path   string
	// Reason is a short description without addresses.
	Reason string
	// Err is the underlying error, for errors.Is/As (its text may hold the
	// internal URL: do not show it).
	Err error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Method, e.Path, e.Reason)
}

func (e *TransportError) Unwrap() error { return e.Err }

// NewTransportError describes err, from sending method path, without the
// *url.Error text that http.Client wraps around it (which carries the
// full internal URL) and without the addresses of dial and DNS errors.
func NewTransportError(method, path string, err error) error {
	return &TransportError{Method: method, Path: path, Reason: transportReason(err), Err: err}
}

func transportReason(err error) string {
	var (
		ue  *url.Error
		dns *net.DNSError
		op  *net.OpError
		ne  net.Error
		crt *tls.CertificateVerificationError
		hn  x509.HostnameError
		ua  x509.UnknownAuthorityError
	)
	switch {
	case errors.Is(err, ErrNoCredentials):
		return ErrNoCredentials.Error()
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "Nextcloud did not answer in time"
	case errors.As(err, &dns):
		return "cannot resolve Nextcloud's host name"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "cannot reach Nextcloud: connection refused"
	case errors.As(err, &crt), errors.As(err, &hn), errors.As(err, &ua):
		return "Nextcloud's TLS certificate was not accepted"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "Nextcloud closed the connection"
	case errors.As(err, &op):
		// Dial and read errors name both ends' addresses; keep the
		// operation and the system's reason only.
		if op.Err != nil {
			return "cannot reach Nextcloud: " + op.Err.Error()
		}
		return "cannot reach Nextcloud"
	case errors.As(err, &ue):
		return ue.Err.Error()
	}
	return err.Error()
}
