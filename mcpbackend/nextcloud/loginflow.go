package nextcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Login Flow v2 (Nextcloud's way for a client to obtain an app password
// the user approves in the browser). The poll endpoint hands the password
// to whoever presents the poll token and ignores credentials, so the poll
// token is a secret: it never leaves the backend.

// LoginFlow is a started flow.
type LoginFlow struct {
	// Login is the URL the user opens to approve.
	Login string
	// PollToken is the secret that collects the app password.
	PollToken string
}

// AppPassword is what a completed flow delivers.
type AppPassword struct {
	// LoginName goes with the password in Basic auth (not necessarily the
	// user id; /ocs/v2.php/cloud/user names that).
	LoginName string
	Password  string
}

// Credentials returns the Basic credentials of the app password.
func (a AppPassword) Credentials() Basic { return Basic{Username: a.LoginName, Password: a.Password} }

// StartLoginFlow starts a flow. userAgent becomes the app password's name
// in the user's security settings.
func (c *Client) StartLoginFlow(ctx context.Context, userAgent string) (*LoginFlow, error) {
	const path = "/index.php/login/v2"
	ctx = WithCredentials(ctx, Anonymous{})
	resp, err := c.Do(ctx, &Request{Method: http.MethodPost, Path: path, Header: http.Header{"User-Agent": {userAgent}, "Accept": {"application/json"}}})
	if err != nil {
		return nil, err
	}
	var out struct {
		Poll struct {
			Token string `json:"token"`
		} `json:"poll"`
		Login string `json:"login"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("POST %s: decoding answer: %w", path, err)
	}
	u, err := url.Parse(out.Login)
	if out.Poll.Token == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("POST %s: no poll token or login URL in the answer", path)
	}
	return &LoginFlow{Login: out.Login, PollToken: out.Poll.Token}, nil
}

// PollLoginFlow asks once whether the flow is done. Nextcloud answers
// every unfinished state (pending, unknown, collected, expired) with 404;
// then ok is false and err nil. The answer's server and the poll
// endpoint's host are ignored: the client keeps to its configured base
// URL (server names the host the user's browser used).
func (c *Client) PollLoginFlow(ctx context.Context, pollToken string) (pw *AppPassword, ok bool, err error) {
	const path = "/index.php/login/v2/poll"
	ctx = WithCredentials(ctx, Anonymous{})
	resp, err := c.Do(ctx, &Request{Method: http.MethodPost, Path: path, Form: url.Values{"token": {pollToken}}, Header: http.Header{"Accept": {"application/json"}}})
	if IsStatus(err, http.StatusNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out struct {
		LoginName   string `json:"loginName"`
		AppPassword string `json:"appPassword"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.LoginName == "" || out.AppPassword == "" {
		return nil, false, errors.New("POST " + path + ": no login name or app password in the answer")
	}
	return &AppPassword{LoginName: out.LoginName, Password: out.AppPassword}, true, nil
}

// UserID returns the id of the user the credentials in ctx belong to
// (/ocs/v2.php/cloud/user, uncached).
func (c *Client) UserID(ctx context.Context) (string, error) {
	var u struct {
		ID string `json:"id"`
	}
	if err := c.OCS(ctx, http.MethodGet, "/ocs/v2.php/cloud/user", url.Values{"format": {"json"}}, nil, &u); err != nil {
		return "", err
	}
	if u.ID == "" {
		return "", errors.New("GET /ocs/v2.php/cloud/user: no user id in the answer")
	}
	return u.ID, nil
}

// RevokeAppPassword deletes the app password in ctx's credentials at
// Nextcloud. A 401 means it is gone already (Nextcloud answers a deleted
// password exactly like a wrong one) and is not an error.
func (c *Client) RevokeAppPassword(ctx context.Context) error {
	err := c.OCS(ctx, http.MethodDelete, "/ocs/v2.php/core/apppassword", nil, nil, nil)
	if IsStatus(err, http.StatusUnauthorized) {
		return nil
	}
	return err
}
