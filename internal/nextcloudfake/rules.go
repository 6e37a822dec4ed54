package nextcloudfake

// Rules for what a real Nextcloud 34 was measured to do but the recordings
// cannot show (issues 13 and 18). Each rule cites the measurement; none
// changes an answer the recordings hold (TestTranscripts keeps them).

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Trusted domains (issue 18). Nextcloud answers a request whose Host is
// not in its trusted_domains with 400 and an HTML "Access through
// untrusted domain" page, before any authentication: measured on
// Nextcloud 34 with a valid app password and Host: nextcloud (400), the
// same request with a trusted Host (200). localhost, 127.0.0.1 and [::1]
// (compared without the port) are trusted without being listed, so a
// fake on 127.0.0.1 serves every test as before.

// untrustedDomainPage is the fake's rendering of Nextcloud's error page:
// HTML, no JSON or OCS envelope, the title being what clients can detect.
const untrustedDomainPage = `<!DOCTYPE html>
<html class="ng-csp" data-placeholder-focus="false" lang="en">
<head><meta charset="utf-8"><title>Nextcloud</title></head>
<body id="body-login">
<div class="guest-box">
<h2>Access through untrusted domain</h2>
<p>This host name is not one this server answers to: add it to trusted_domains in config/config.php.</p>
</div>
</body>
</html>
`

var alwaysTrusted = regexp.MustCompile(`^(127\.0\.0\.1|localhost|\[::1\])$`)

// Trusted reports whether Nextcloud with trusted_domains list accepts a
// request for hostport: the name without its port against the names
// always trusted, then each entry (a '*' matching any run of characters)
// against the name with and without the port, ignoring case.
func Trusted(list []string, hostport string) bool {
	host := strings.ToLower(hostport)
	if h, _, err := net.SplitHostPort(host); err == nil {
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		host = h
	}
	if alwaysTrusted.MatchString(host) {
		return true
	}
	for _, d := range list {
		parts := strings.Split(strings.ToLower(strings.TrimSpace(d)), "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile(`^` + strings.Join(parts, `[-\.a-zA-Z0-9]*`) + `$`)
		if re.MatchString(host) || re.MatchString(strings.ToLower(hostport)) {
			return true
		}
	}
	return false
}

func (f *Fake) untrustedDomain(r *http.Request) *answer {
	if Trusted(f.opts.TrustedDomains, r.Host) {
		return nil
	}
	return &answer{http.StatusBadRequest, map[string]string{"Content-Type": "text/html; charset=UTF-8"}, untrustedDomainPage}
}

// Request ids (issue 13). Nextcloud sends X-Request-Id on every answer;
// the recordings drop it as noise. Admins find a 500's log line by it.

func (f *Fake) nextRequestID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	return fmt.Sprintf("fAkEnC%014d", f.requests)
}

// Tables without an emoji (issue 13). Tables 2.2.2 answers 500 on a
// table's scheme when the table was created without an emoji (measured:
// "TableScheme::__construct(): Argument #2 ($emoji) must be of type
// string, null given"), while the table and its columns read fine. Every
// recorded table has an emoji, so the fake learns which ones lack it:
// tables created here with no emoji in the request, and those named in
// Options.TablesWithoutEmoji.

var (
	tableScheme = regexp.MustCompile(`^/index\.php/apps/tables/api/1/tables/(\d+)/scheme$|^/ocs/v2\.php/apps/tables/api/2/tables/(\d+)/scheme$`)
	tableItem   = regexp.MustCompile(`^/index\.php/apps/tables/api/1/tables/(\d+)$|^/ocs/v2\.php/apps/tables/api/2/tables/(\d+)$`)
	tableCreate = regexp.MustCompile(`^/index\.php/apps/tables/api/1/tables$|^/ocs/v2\.php/apps/tables/api/2/tables$`)
)

const schemeEmojiError = `TableScheme::__construct(): Argument #2 ($emoji) must be of type string, null given`

func firstGroup(m []string) string {
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return ""
}

func (f *Fake) noEmoji(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.emojiless[id]
}

// schemeWithoutEmoji answers the scheme of an emoji-less table as Tables
// 2.2.2 does.
func (f *Fake) schemeWithoutEmoji(r *http.Request, p string) *answer {
	m := tableScheme.FindStringSubmatch(p)
	if m == nil || r.Method != http.MethodGet || !f.noEmoji(firstGroup(m)) {
		return nil
	}
	msg, _ := json.Marshal(map[string]string{"message": schemeEmojiError})
	if strings.HasPrefix(p, "/ocs/") {
		body := fmt.Sprintf(`{"ocs":{"meta":{"status":"failure","statuscode":500,"message":""},"data":%s}}`, msg)
		return &answer{http.StatusInternalServerError, map[string]string{"Content-Type": jsonCT}, body}
	}
	return &answer{http.StatusInternalServerError, map[string]string{"Content-Type": jsonCT}, string(msg)}
}

// tableEmoji keeps the fake's answers about emoji-less tables consistent:
// it learns tables created without an emoji and shows their emoji as null.
func (f *Fake) tableEmoji(r *http.Request, p string, reqBody []byte, status int, body string) string {
	if status != http.StatusOK {
		return body
	}
	if tableCreate.MatchString(p) && r.Method == http.MethodPost {
		var in map[string]any
		_ = json.Unmarshal(reqBody, &in)
		if e, _ := in["emoji"].(string); strings.TrimSpace(e) == "" {
			if id := tableID(body); id != "" {
				f.mu.Lock()
				f.emojiless[id] = true
				f.mu.Unlock()
				return nullEmoji(body)
			}
		}
		return body
	}
	if m := tableItem.FindStringSubmatch(p); m != nil && r.Method == http.MethodGet && f.noEmoji(firstGroup(m)) {
		return nullEmoji(body)
	}
	return body
}

// tableID reads the id of a table answer, plain (v1) or in OCS (v2).
func tableID(body string) string {
	var v struct {
		ID  json.Number `json:"id"`
		OCS struct {
			Data struct {
				ID json.Number `json:"id"`
			} `json:"data"`
		} `json:"ocs"`
	}
	if json.Unmarshal([]byte(body), &v) != nil {
		return ""
	}
	if v.ID != "" {
		return v.ID.String()
	}
	return v.OCS.Data.ID.String()
}

func nullEmoji(body string) string {
	var v map[string]any
	if json.Unmarshal([]byte(body), &v) != nil {
		return body
	}
	rec := v
	if ocs, ok := v["ocs"].(map[string]any); ok {
		if d, ok := ocs["data"].(map[string]any); ok {
			rec = d
		}
	}
	rec["emoji"] = nil
	b, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return string(b)
}

func emojilessSet(ids []int) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[strconv.Itoa(id)] = true
	}
	return m
}
