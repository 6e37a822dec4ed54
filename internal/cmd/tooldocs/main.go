// Command tooldocs writes docs/tools.md, the tool and scope reference an
// admin reads to create OAuth clients and consent screens.
//
// It learns the tools the way mcp_gateway does: it assembles the backend
// with every app, sends tools/list over Streamable HTTP (the 2026-07-28
// request the gateway's discovery sends, following nextCursor) and reads
// each tool's description, annotations and _meta["scopegate/scopes"] from
// the answer. Only the grouping (which `apps` family a tool belongs to, and
// the Nextcloud app it needs) comes from the Go inventory, since tools/list
// does not carry it. So the reference cannot disagree with what the gateway
// enforces; the golden test in this package fails when docs/tools.md is
// stale.
//
// Regenerate with one command from the repository root:
//
//	go generate ./internal/cmd/tooldocs
//
//go:generate go run . -o ../../../docs/tools.md
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"

	"github.com/caddyserver/certmagic"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// metaScopesKey is the _meta key of the backend–gateway contract. It is
// spelled out rather than imported from tooldef: the reference must read
// what goes over the wire.
const metaScopesKey = "scopegate/scopes"

func main() {
	out := flag.String("o", "", "write the reference to this file (default: standard output)")
	flag.Parse()
	inv, err := collect()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tooldocs:", err)
		os.Exit(1)
	}
	doc := render(inv)
	if *out == "" {
		os.Stdout.Write(doc)
		return
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "tooldocs:", err)
		os.Exit(1)
	}
}

// toolDoc is one tool as the reference shows it.
type toolDoc struct {
	Name        string
	Description string
	Scopes      []string
	ReadOnly    bool
	Destructive bool
	// NCApp is the Nextcloud app id the tool needs ("notes", "dav", ...).
	NCApp string
}

// family is one `apps` value with its tools, in tools/list order.
type family struct {
	Name  string
	Tools []toolDoc
}

// inventory is everything the reference is rendered from.
type inventory struct {
	Families []family
}

// otherFamily groups tools the backend lists that belong to no `apps`
// family (tools it adds itself rather than per Nextcloud app).
const otherFamily = "backend"

// collect lists the backend's tools over MCP and groups them by family.
func collect() (inventory, error) {
	client, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		return inventory{}, err
	}
	fams := mcpbackend.DefaultFamilies()
	familyOf := map[string]string{}
	ncApp := map[string]string{}
	for name, fam := range fams {
		for _, t := range fam(client) {
			familyOf[t.Def.Name] = name
			ncApp[t.Def.Name] = t.App
		}
	}
	// app_password mode, so that the tools it adds are listed too. Its
	// storage is a throwaway folder: nothing is connected or stored.
	dir, err := os.MkdirTemp("", "tooldocs")
	if err != nil {
		return inventory{}, err
	}
	defer os.RemoveAll(dir)
	conn, err := mcpbackend.NewConnector(mcpbackend.ConnectorConfig{
		Client: client, Storage: &certmagic.FileStorage{Path: dir}, Key: make([]byte, 32),
	})
	if err != nil {
		return inventory{}, err
	}
	defer conn.Close()
	srv, err := mcpbackend.New(mcpbackend.Config{
		Client: client,
		// No credentials: the backend lists its whole inventory, as it
		// does to the gateway's discovery.
		Credentials: func(*http.Request) (nextcloud.Credentials, bool) { return nil, false },
		Connector:   conn,
		Stateless:   true,
	})
	if err != nil {
		return inventory{}, err
	}
	defer srv.Close(context.Background())
	listed, err := listTools(srv.Handler)
	if err != nil {
		return inventory{}, err
	}
	byFamily := map[string][]toolDoc{}
	for _, t := range listed {
		t.NCApp = ncApp[t.Name]
		f := familyOf[t.Name]
		if f == "" {
			f = otherFamily
		}
		byFamily[f] = append(byFamily[f], t)
	}
	var inv inventory
	for _, name := range slices.Sorted(maps.Keys(byFamily)) {
		if name == otherFamily {
			continue
		}
		inv.Families = append(inv.Families, family{Name: name, Tools: byFamily[name]})
	}
	if tools := byFamily[otherFamily]; len(tools) > 0 {
		inv.Families = append(inv.Families, family{Name: otherFamily, Tools: tools})
	}
	return inv, nil
}

// wireTool is a tools/list entry, as far as the reference reads it.
type wireTool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Annotations struct {
		ReadOnlyHint    *bool `json:"readOnlyHint"`
		DestructiveHint *bool `json:"destructiveHint"`
	} `json:"annotations"`
	Meta map[string]json.RawMessage `json:"_meta"`
}

// listTools walks tools/list on h, page by page.
func listTools(h http.Handler) ([]toolDoc, error) {
	var out []toolDoc
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			return nil, errors.New("tools/list: more than 1000 pages")
		}
		res, err := listPage(h, cursor)
		if err != nil {
			return nil, err
		}
		for _, w := range res.Tools {
			t, err := fromWire(w)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		if res.NextCursor == "" {
			return out, nil
		}
		cursor = res.NextCursor
	}
}

type listResult struct {
	Tools      []wireTool `json:"tools"`
	NextCursor string     `json:"nextCursor"`
}

// listPage sends one tools/list the way the gateway's discovery does
// (protocol 2026-07-28, no session, no credentials).
func listPage(h http.Handler, cursor string) (listResult, error) {
	params := map[string]any{
		"_meta": map[string]any{
			"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
			"io.modelcontextprotocol/clientCapabilities": map[string]any{},
			"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "scopegate-tooldocs", "version": "1"},
		},
	}
	if cursor != "" {
		params["cursor"] = cursor
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params})
	if err != nil {
		return listResult{}, err
	}
	req := httptest.NewRequest(http.MethodPost, "http://localhost/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/list")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return listResult{}, fmt.Errorf("tools/list: HTTP %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	payload := rec.Body.Bytes()
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		if payload, err = lastEventData(payload); err != nil {
			return listResult{}, err
		}
	}
	var resp struct {
		Result *listResult `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return listResult{}, fmt.Errorf("tools/list: decoding the answer: %w", err)
	}
	if resp.Error != nil {
		return listResult{}, fmt.Errorf("tools/list: JSON-RPC error %d: %s", resp.Error.Code, resp.Error.Message)
	}
	if resp.Result == nil {
		return listResult{}, errors.New("tools/list: answer without result")
	}
	return *resp.Result, nil
}

// lastEventData returns the data of the last event of an event stream that
// carries a JSON-RPC response.
func lastEventData(stream []byte) ([]byte, error) {
	var last, cur []byte
	for _, line := range strings.Split(strings.ReplaceAll(string(stream), "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "data:"):
			cur = append(cur, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		case line == "" && len(cur) > 0:
			if bytes.Contains(cur, []byte(`"result"`)) || bytes.Contains(cur, []byte(`"error"`)) {
				last = cur
			}
			cur = nil
		}
	}
	if len(cur) > 0 {
		last = cur
	}
	if last == nil {
		return nil, errors.New("tools/list: event stream without a response")
	}
	return last, nil
}

// fromWire reads one listed tool. A tool without scopes or annotations
// would be refused by the gateway or unlabelled here: it is an error.
func fromWire(w wireTool) (toolDoc, error) {
	t := toolDoc{Name: w.Name, Description: w.Description}
	raw, ok := w.Meta[metaScopesKey]
	if !ok {
		return t, fmt.Errorf("tool %s: no _meta[%q]", w.Name, metaScopesKey)
	}
	if err := json.Unmarshal(raw, &t.Scopes); err != nil || len(t.Scopes) == 0 {
		return t, fmt.Errorf("tool %s: _meta[%q] is not a non-empty list of scopes: %s", w.Name, metaScopesKey, raw)
	}
	if w.Annotations.ReadOnlyHint == nil || w.Annotations.DestructiveHint == nil {
		return t, fmt.Errorf("tool %s: readOnlyHint and destructiveHint must be set", w.Name)
	}
	t.ReadOnly, t.Destructive = *w.Annotations.ReadOnlyHint, *w.Annotations.DestructiveHint
	return t, nil
}
