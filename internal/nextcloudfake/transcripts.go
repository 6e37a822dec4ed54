package nextcloudfake

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// transcripts are copies of the recorded Nextcloud 34 exchanges
// (see transcripts/README.md); the fake answers from them.
//
//go:embed transcripts
var transcripts embed.FS

// Exchange is one recorded request and the answer Nextcloud sent.
type Exchange struct {
	// Name is "<app>/<file name without .json>", e.g. "notes/03-create-note".
	Name        string `json:"-"`
	Description string `json:"description"`
	Request     struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Query   string            `json:"query"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"response"`
}

// Apps are the transcript folders the fake serves.
var Apps = []string{"core", "notes", "files", "sharing", "deck", "cookbook", "tables"}

// Exchanges returns the recorded exchanges of app in recording order. The
// recordings are parsed once per process (tests start hundreds of fakes);
// every caller gets its own copies.
func Exchanges(app string) ([]Exchange, error) {
	v, _ := parsed.LoadOrStore(app, &parsedApp{})
	p := v.(*parsedApp)
	p.once.Do(func() { p.exchanges, p.err = parseExchanges(app) })
	if p.err != nil {
		return nil, p.err
	}
	out := make([]Exchange, len(p.exchanges))
	for i, e := range p.exchanges {
		e.Request.Headers = maps.Clone(e.Request.Headers)
		e.Response.Headers = maps.Clone(e.Response.Headers)
		out[i] = e
	}
	return out, nil
}

// parsed holds each app's parsed recordings (*parsedApp by app name).
var parsed sync.Map

type parsedApp struct {
	once      sync.Once
	exchanges []Exchange
	err       error
}

func parseExchanges(app string) ([]Exchange, error) {
	names, err := fs.Glob(transcripts, "transcripts/"+app+"/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Exchange, 0, len(names))
	for _, n := range names {
		b, err := transcripts.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var e Exchange
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		e.Name = app + "/" + strings.TrimSuffix(path.Base(n), ".json")
		out = append(out, e)
	}
	return out, nil
}

// Lookup returns one recorded exchange by name ("deck/14-get-card").
func Lookup(name string) (Exchange, error) {
	app, _, _ := strings.Cut(name, "/")
	all, err := Exchanges(app)
	if err != nil {
		return Exchange{}, err
	}
	for _, e := range all {
		if e.Name == name {
			return e, nil
		}
	}
	return Exchange{}, fmt.Errorf("no exchange %q", name)
}

var readableBasic = regexp.MustCompile(`^Basic base64\(([^:]*):(.*)\)$`)

// HTTPRequest turns the recorded request into one for baseURL, with the
// readable Authorization form ("Basic base64(admin:<app-password>)")
// encoded for real.
func (e Exchange) HTTPRequest(baseURL string) (*http.Request, error) {
	u := baseURL + e.Request.Path
	if e.Request.Query != "" {
		u += "?" + e.Request.Query
	}
	var body *strings.Reader
	if e.Request.Body != "" {
		body = strings.NewReader(e.Request.Body)
	} else {
		body = strings.NewReader("")
	}
	r, err := http.NewRequest(e.Request.Method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range e.Request.Headers {
		if k == "Authorization" {
			if m := readableBasic.FindStringSubmatch(v); m != nil {
				v = "Basic " + base64.StdEncoding.EncodeToString([]byte(m[1]+":"+m[2]))
			}
		}
		if k == "Destination" || k == "If" {
			v = strings.ReplaceAll(v, "http://127.0.0.1:19080", baseURL)
		}
		r.Header.Set(k, v)
	}
	return r, nil
}

// header returns a recorded header case-insensitively.
func header(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}
