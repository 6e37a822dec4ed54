package scopecatalog_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
)

// The catalog learns declarations from tools/list entries (the list
// filter's Observe hook hands them over), and a refused tools/call is
// answered with a challenge naming the required scopes plus the catalog
// scopes the token already holds.
func ExampleCatalog_Decide() {
	cat, err := scopecatalog.New(scopecatalog.Config{
		BaseScopes: []string{"openid", "profile", "email"},
		Rules:      []scopecatalog.Rule{{Kind: scopecatalog.Tool, Pattern: "files_*", Scopes: []string{"files:read"}}},
	})
	if err != nil {
		panic(err)
	}
	listed := map[string]string{ // name → raw _meta, as a tools/list entry carries it
		"notes_list":   `{"scopegate/scopes":["notes:read"]}`,
		"notes_delete": `{"scopegate/scopes":["notes:read","notes:write"]}`,
		"undeclared":   `{}`,
	}
	var entries []scopecatalog.ToolEntry
	for name, meta := range listed {
		if e, ok, err := scopecatalog.EntryFromMeta(name, json.RawMessage(meta)); ok && err == nil {
			entries = append(entries, e)
		}
	}
	cat.Learn(entries)

	held := []string{"openid", "notes:read", "other:scope"}
	for _, tool := range []string{"notes_list", "notes_delete", "files_get", "undeclared"} {
		d := cat.Decide(scopecatalog.Tool, tool, held)
		switch {
		case d.Allowed:
			fmt.Printf("%s: allowed\n", tool)
		case !d.Known:
			fmt.Printf("%s: refused, unknown tool\n", tool)
		default:
			fmt.Printf("%s: 403 scope=%q\n", tool, strings.Join(cat.StepUpScopes(d.Required, held), " "))
		}
	}
	fmt.Println("scopes_supported:", strings.Join(cat.AllScopes(), " "))
	// Output:
	// notes_list: allowed
	// notes_delete: 403 scope="notes:read notes:write openid"
	// files_get: 403 scope="files:read notes:read openid"
	// undeclared: refused, unknown tool
	// scopes_supported: email files:read notes:read notes:write openid profile
}
