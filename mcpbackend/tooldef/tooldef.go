// Package tooldef is the shape every Nextcloud tool of the backend takes: its
// MCP definition, its handler, the OAuth scopes it requires and the Nextcloud
// app it needs. The scopes are written into the tool's _meta under
// MetaScopesKey, the single place the gateway learns them from.
package tooldef

import (
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// MetaScopesKey is the _meta key under which a tool publishes the scopes it
// requires (all of them). It is the contract between backend and gateway.
const MetaScopesKey = "scopegate/scopes"

// Tool is one backend tool.
type Tool struct {
	// Def is the MCP tool definition. Its four annotations must be set
	// explicitly by the constructor.
	Def mcp.Tool
	// Handler serves tools/call for the tool.
	Handler server.ToolHandlerFunc
	// Scopes are the required scopes in canonical colon form
	// ("notes:read"); all are required.
	Scopes []string
	// App is the Nextcloud app id ("notes", "deck", "dav", "files", ...)
	// that must be enabled for the tool to be offered.
	App string
}

// WithSeparator returns the tool's scopes with ':' replaced by sep, for
// identity providers that reject colons in scope names.
func (t Tool) WithSeparator(sep string) []string {
	out := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		out[i] = strings.Replace(s, ":", sep, 1)
	}
	return out
}

// ServerTool returns the mcp-go registration of t with its scopes written
// into _meta, using sep as the scope separator.
func (t Tool) ServerTool(sep string) server.ServerTool {
	def := t.Def
	meta := map[string]any{}
	if def.Meta != nil {
		for k, v := range def.Meta.AdditionalFields {
			meta[k] = v
		}
	}
	meta[MetaScopesKey] = t.WithSeparator(sep)
	def.Meta = mcp.NewMetaFromMap(meta)
	return server.ServerTool{Tool: def, Handler: t.Handler}
}

// Check reports what is missing from a tool definition: scopes, annotations
// or a description. Tests run it over the whole inventory.
func (t Tool) Check() error {
	var missing []string
	if len(t.Scopes) == 0 {
		missing = append(missing, "scopes")
	}
	a := t.Def.Annotations
	if a.ReadOnlyHint == nil {
		missing = append(missing, "readOnlyHint")
	}
	if a.DestructiveHint == nil {
		missing = append(missing, "destructiveHint")
	}
	if a.IdempotentHint == nil {
		missing = append(missing, "idempotentHint")
	}
	if a.OpenWorldHint == nil {
		missing = append(missing, "openWorldHint")
	}
	if t.Def.Description == "" {
		missing = append(missing, "description")
	}
	if t.Handler == nil {
		missing = append(missing, "handler")
	}
	if t.App == "" {
		missing = append(missing, "app")
	}
	if len(missing) > 0 {
		return fmt.Errorf("tool %s lacks %s", t.Def.Name, strings.Join(missing, ", "))
	}
	return nil
}

// Annotations sets all four behaviour hints explicitly; mcp.NewTool's
// defaults (destructive, not idempotent) are wrong for most tools.
func Annotations(readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return func(t *mcp.Tool) {
		t.Annotations.ReadOnlyHint = mcp.ToBoolPtr(readOnly)
		t.Annotations.DestructiveHint = mcp.ToBoolPtr(destructive)
		t.Annotations.IdempotentHint = mcp.ToBoolPtr(idempotent)
		t.Annotations.OpenWorldHint = mcp.ToBoolPtr(openWorld)
	}
}

// NullableOptionals lets every optional parameter of t also be null,
// meaning "not given": the reference server declares them as "T | None"
// and clients built against it send null. Apply it after the parameters
// are defined.
func NullableOptionals(t *mcp.Tool) {
	required := map[string]bool{}
	for _, r := range t.InputSchema.Required {
		required[r] = true
	}
	for name, p := range t.InputSchema.Properties {
		prop, ok := p.(map[string]any)
		if !ok || required[name] {
			continue
		}
		if typ, ok := prop["type"].(string); ok {
			prop["type"] = []string{typ, "null"}
		}
		if enum, ok := prop["enum"].([]string); ok {
			vals := make([]any, 0, len(enum)+1)
			for _, e := range enum {
				vals = append(vals, e)
			}
			prop["enum"] = append(vals, nil)
		}
	}
}
