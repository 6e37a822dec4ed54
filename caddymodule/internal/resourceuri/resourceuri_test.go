package resourceuri

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		uri  string
		want error // nil: accepted
	}{
		{"demo://resource/static/document/features.md", nil},
		{"demo://resource/dynamic/text/{resourceId}", nil},
		{"file:///home/user/notes.txt", nil},
		{"nc://notes/42?fields=title#top", nil},
		{"nc://notes/", nil},
		{"urn:isbn:0451450523", nil},
		{"nc://n%C3%B6tes/a%20b", nil},
		{"secret://doc", nil},
		{"demo://resource/static/document/../../dynamic/text/1", ErrDotSegment},
		{"demo://resource/static/document/./x", ErrDotSegment},
		{"demo://resource/static/document/..", ErrDotSegment},
		{"urn:a/../b", ErrDotSegment},
		{"demo://resource/static/document/%2e%2e/x", ErrEncodedSep},
		{"demo://resource/static/document/.%2E/x", ErrEncodedSep},
		{"demo://resource/static/document/..%2fx", ErrEncodedSep},
		{"demo://resource/static/document/..%5Cx", ErrEncodedSep},
		{"demo://resource/static/document/..\\x", ErrBackslash},
		{"demo://%73ecret/x", ErrEncodedPlain},
		{"demo://a/%7e", ErrEncodedPlain},
		{"demo://a/%zz", ErrBadPercent},
		{"demo://a/%2", ErrBadPercent},
		{"DEMO://secret/x", ErrSchemeCase},
		{"Demo://secret/x", ErrSchemeCase},
		{"demo://a//secret", ErrEmptySegment},
		{"demo://a/\t../secret", ErrControl},
		{"demo://a/b c", ErrControl},
		{" demo://a", ErrControl},
		{"demo://a/\u2028", ErrControl},
		{"demo://a/\xff", ErrControl},
		{"", ErrEmpty},
		{"///", ErrEmptySegment},
		{"//host/x", ErrEmptySegment},
		{"nc://notes/x?q=..", nil}, // a query is not a path
	} {
		err := Check(tt.uri)
		if tt.want == nil {
			if err != nil {
				t.Errorf("Check(%q) = %v, want accepted", tt.uri, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) || !errors.Is(err, ErrNotNormalForm) {
			t.Errorf("Check(%q) = %v, want %v", tt.uri, err, tt.want)
		}
	}
}

// removeDotSegments is RFC 3986 §5.2.4, written from the RFC's steps.
func removeDotSegments(in string) string {
	var out []string
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			i := strings.IndexByte(in[1:], '/')
			if i < 0 {
				out = append(out, in)
				in = ""
			} else {
				out = append(out, in[:i+1])
				in = in[i+1:]
			}
		}
	}
	return strings.Join(out, "")
}

// FuzzCheck: whatever Check accepts, no normalisation a server might
// apply changes: RFC 3986 dot-segment removal and percent-decoding of
// unreserved characters, scheme lower-casing, and (for uris Go parses
// as hierarchical) path cleaning as path.Clean and url.JoinPath do it.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"demo://resource/static/document/features.md",
		"demo://resource/static/document/../../dynamic/text/1",
		"demo://resource/static/document/%2e%2e/%2E%2E/dynamic/text/1",
		"file:///a/b/./c", "urn:x:y", "nc://n%C3%B6tes/a%20b?x=../y#/../z", "DEMO://a/b", "demo://a//b/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if Check(uri) != nil {
			return
		}
		if strings.ContainsAny(uri, "\\ \t\r\n") {
			t.Fatalf("accepted %q with a backslash or whitespace", uri)
		}
		scheme, rest, hasScheme := strings.Cut(uri, ":")
		if hasScheme && schemeEnd(uri) == len(scheme) && strings.ToLower(scheme) != scheme {
			t.Fatalf("accepted %q with an upper-case scheme", uri)
		}
		if !hasScheme || schemeEnd(uri) != len(scheme) {
			rest = uri
		}
		p := rest
		if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		if strings.HasPrefix(p, "//") {
			if i := strings.IndexByte(p[2:], '/'); i >= 0 {
				p = p[2+i:]
			} else {
				p = ""
			}
		}
		if got := removeDotSegments(p); got != p {
			t.Fatalf("accepted %q whose path %q RFC 3986 §5.2.4 turns into %q", uri, p, got)
		}
		if dec, err := url.PathUnescape(p); err == nil {
			for i := 0; i < len(p); i++ {
				if p[i] == '%' && unreserved(unhex(p[i+1])<<4|unhex(p[i+2])) {
					t.Fatalf("accepted %q with an encoded unreserved character (%q)", uri, dec)
				}
			}
		}
		if u, err := url.Parse(uri); err == nil && u.Opaque == "" && strings.HasPrefix(u.Path, "/") {
			clean := path.Clean(u.Path)
			if strings.HasSuffix(u.Path, "/") && clean != "/" {
				clean += "/"
			}
			if clean != u.Path {
				t.Fatalf("accepted %q whose path %q cleans to %q", uri, u.Path, clean)
			}
		}
	})
}
