package nextcloudfake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Login Flow v2 and app passwords, as recorded in transcripts/loginflow
// (see its README): the fake keeps the flows and the app passwords it
// handed out, and answers in the recorded shapes. The browser half (login
// page, grant) is the test's: ApproveLogin plays the user who approves.

type loginFlow struct {
	pollToken string
	userAgent string
	// user is set once approved; password is collected by the first poll.
	user     string
	password string
}

// LoginFlowCall paths.
const (
	loginFlowStart = "/index.php/login/v2"
	loginFlowPoll  = "/index.php/login/v2/poll"
	appPasswordOCS = "/ocs/v2.php/core/apppassword"
)

func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func recorded(name string) Exchange {
	e, err := Lookup("loginflow/" + name)
	if err != nil {
		panic(err)
	}
	return e
}

// serveLoginFlow answers the two Login Flow v2 endpoints; ok is false for
// other paths.
func (f *Fake) serveLoginFlow(w http.ResponseWriter, r *http.Request, body []byte) bool {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == loginFlowStart:
		// 02: absolute URLs from the request's host, 128-char tokens.
		login, poll := randomToken(128), randomToken(128)
		f.mu.Lock()
		f.flows[login] = &loginFlow{pollToken: poll, userAgent: r.Header.Get("User-Agent")}
		f.mu.Unlock()
		base := "http://" + r.Host
		out, _ := json.Marshal(map[string]any{
			"poll":  map[string]string{"token": poll, "endpoint": base + loginFlowPoll},
			"login": base + "/index.php/login/v2/flow/" + login,
		})
		e := recorded("02-init-with-user-agent")
		write(w, e.Response.Status, e.Response.Headers, strings.ReplaceAll(string(out), "/", `\/`))
		return true
	case r.Method == http.MethodPost && r.URL.Path == loginFlowPoll:
		q, _ := url.ParseQuery(string(body))
		tok := q.Get("token")
		if tok == "" {
			e := recorded("18-poll-missing-token")
			write(w, e.Response.Status, e.Response.Headers, e.Response.Body)
			return true
		}
		f.mu.Lock()
		var done *loginFlow
		for login, fl := range f.flows {
			if fl.pollToken == tok && fl.user != "" {
				done = fl
				delete(f.flows, login) // single use (13)
				break
			}
		}
		f.mu.Unlock()
		if done == nil {
			e := recorded("03-poll-before-approval-404") // pending, unknown, collected: all []
			write(w, e.Response.Status, e.Response.Headers, e.Response.Body)
			return true
		}
		out, _ := json.Marshal(map[string]string{"server": "http://" + r.Host, "loginName": done.user, "appPassword": done.password})
		e := recorded("12-poll-after-approval-200")
		write(w, e.Response.Status, e.Response.Headers, strings.ReplaceAll(string(out), "/", `\/`))
		return true
	}
	return false
}

// ApproveLogin plays the browser half of a flow: user opens loginURL,
// logs in and grants access. The app password is created then and
// returned (a test may use it to check where it ends up).
func (f *Fake) ApproveLogin(loginURL, user string) (string, error) {
	u, err := url.Parse(loginURL)
	if err != nil {
		return "", err
	}
	login := u.Path[strings.LastIndex(u.Path, "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.flows[login]
	if !ok {
		return "", errors.New("nextcloudfake: no such login flow")
	}
	if fl.user != "" {
		return "", errors.New("nextcloudfake: login flow already approved")
	}
	fl.user, fl.password = user, randomToken(72)
	f.appPasswords[user+"\x00"+fl.password] = fl.userAgent
	return fl.password, nil
}

// RevokeAppPasswords deletes user's app passwords, as the user does in
// Personal settings > Security.
func (f *Fake) RevokeAppPasswords(user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.appPasswords {
		if strings.HasPrefix(k, user+"\x00") {
			delete(f.appPasswords, k)
		}
	}
}

// AppPasswords returns how many app passwords user holds.
func (f *Fake) AppPasswords(user string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k := range f.appPasswords {
		if strings.HasPrefix(k, user+"\x00") {
			n++
		}
	}
	return n
}

// appPasswordUser authenticates Basic credentials against the app
// passwords handed out by flows.
func (f *Fake) appPasswordUser(h http.Header) (string, string, bool) {
	u, p, ok := (&http.Request{Header: h}).BasicAuth()
	if !ok {
		return "", "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, found := f.appPasswords[u+"\x00"+p]
	return u, p, found
}

// serveAppPasswordUser answers what the recordings show for a user who
// signs in with a flow's app password and is not one of the users the app
// transcripts were recorded with: the user check (14) and the revocation
// (19). ok is false for everything else.
func (f *Fake) serveAppPasswordUser(w http.ResponseWriter, r *http.Request, user, password string) bool {
	if r.Header.Get("OCS-APIRequest") != "true" {
		return false
	}
	switch {
	case r.Method == http.MethodDelete && r.URL.Path == appPasswordOCS:
		f.mu.Lock()
		delete(f.appPasswords, user+"\x00"+password)
		f.mu.Unlock()
		e := recorded("19-delete-app-password")
		hdr := map[string]string{}
		for k, v := range e.Response.Headers {
			hdr[k] = v
		}
		hdr["X-User-Id"] = user
		write(w, e.Response.Status, hdr, e.Response.Body)
		return true
	case r.Method == http.MethodGet && r.URL.Path == "/ocs/v2.php/cloud/user" && user != AdminUser && user != User2:
		e := recorded("14-cloud-user-with-app-password")
		hdr := map[string]string{}
		for k, v := range e.Response.Headers {
			hdr[k] = v
		}
		hdr["X-User-Id"] = user
		idJSON, _ := json.Marshal(user)
		write(w, e.Response.Status, hdr, strings.Replace(e.Response.Body, `"id":"wtbob"`, `"id":`+string(idJSON), 1))
		return true
	}
	return false
}
