package mcpbackend_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/toolinventory"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

var update = flag.Bool("update", false, "rewrite the tool schema snapshots in testdata/toolsnaps")

// deviations are the scope changes against the reference server, each
// with its reason in the report: reading shares needs only sharing:read.
var deviations = map[string][]string{
	"nc_share_get":  {"sharing:read"},
	"nc_share_list": {"sharing:read"},
}

// additions are tools beyond the reference inventory, added deliberately
// with their scopes (issue 13: a user of a real Nextcloud 34 could create
// Deck boards but not delete, archive, restore, change or share them;
// the reference has no such tools either).
var additions = map[string]map[string][]string{
	"deck": {
		"deck_update_board":    {"deck:write"},
		"deck_archive_board":   {"deck:write"},
		"deck_unarchive_board": {"deck:write"},
		"deck_delete_board":    {"deck:write"},
		"deck_restore_board":   {"deck:write"},
		"deck_share_board":     {"deck:write"},
		"deck_unshare_board":   {"deck:write"},
	},
}

func allTools(t *testing.T) map[string][]tooldef.Tool {
	t.Helper()
	c, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]tooldef.Tool{}
	for name, fam := range mcpbackend.DefaultFamilies() {
		out[name] = fam(c)
	}
	return out
}

// TestInventory holds the tools to the reference inventory: same names
// per family (plus the deliberate additions), same scopes (but for the
// documented deviations), every tool complete (tooldef.Check).
func TestInventory(t *testing.T) {
	ref, err := toolinventory.Reference()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]string{}
	for _, r := range ref {
		if want[r.Family] == nil {
			want[r.Family] = map[string][]string{}
		}
		scopes := r.Scopes
		if d, ok := deviations[r.Name]; ok {
			scopes = d
		}
		// Todo tools need only their todo scope; the reference also
		// demanded calendar:read.
		if slices.ContainsFunc(scopes, func(s string) bool { return strings.HasPrefix(s, "todo:") }) {
			scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == "calendar:read" })
		}
		want[r.Family][r.Name] = scopes
	}
	for fam, tools := range additions {
		for name, scopes := range tools {
			if _, ok := want[fam][name]; ok {
				t.Errorf("%s is in the reference now: drop it from additions", name)
			}
			want[fam][name] = scopes
		}
	}
	fams := allTools(t)
	for _, f := range []string{"notes", "files", "sharing", "deck", "cookbook", "tables"} {
		if _, ok := fams[f]; !ok {
			t.Errorf("family %s not registered", f)
		}
	}
	for fam, tools := range fams {
		got := map[string]bool{}
		for _, tl := range tools {
			if err := tl.Check(); err != nil {
				t.Error(err)
			}
			got[tl.Def.Name] = true
			ws, ok := want[fam][tl.Def.Name]
			if !ok {
				t.Errorf("%s: tool %s is not in the reference", fam, tl.Def.Name)
				continue
			}
			if a, b := slices.Sorted(slices.Values(tl.Scopes)), slices.Sorted(slices.Values(ws)); !slices.Equal(a, b) {
				t.Errorf("%s: scopes %v, want %v", tl.Def.Name, a, b)
			}
			if tl.Def.Annotations.ReadOnlyHint != nil && *tl.Def.Annotations.ReadOnlyHint {
				for _, s := range tl.Scopes {
					if filepath.Ext("x."+s) == ".write" {
						t.Errorf("%s: read-only tool requires %s", tl.Def.Name, s)
					}
				}
			}
		}
		for name := range want[fam] {
			if !got[name] {
				t.Errorf("%s: tool %s missing", fam, name)
			}
		}
	}
}

// TestConnectionTools: the tools app_password mode adds beyond the
// reference are complete and need no scope beyond openid.
func TestConnectionTools(t *testing.T) {
	names := []string{}
	for _, tl := range mcpbackend.ConnectionTools() {
		if err := tl.Check(); err != nil {
			t.Error(err)
		}
		if !slices.Equal(tl.Scopes, []string{"openid"}) {
			t.Errorf("%s: scopes %v, want [openid]", tl.Def.Name, tl.Scopes)
		}
		names = append(names, tl.Def.Name)
	}
	if !slices.Equal(names, []string{"nc_connection_status", "nc_disconnect"}) {
		t.Errorf("connection tools %v", names)
	}
}

// TestToolSnapshots fails when a tool's published contract (schema,
// annotations, _meta scopes) changes; run with -update or
// UPDATE_TOOLSNAPS=1 to accept a deliberate change.
func TestToolSnapshots(t *testing.T) {
	regen := *update || os.Getenv("UPDATE_TOOLSNAPS") == "1"
	dir := filepath.Join("testdata", "toolsnaps")
	var names []string
	all := allTools(t)
	// Additions beyond the reference inventory: the connection tools of
	// credentials app_password (issue 14), offered only in that mode.
	all["connection"] = mcpbackend.ConnectionTools()
	for _, tools := range all {
		for _, tl := range tools {
			names = append(names, tl.Def.Name)
			got, err := json.MarshalIndent(tl.ServerTool(":").Tool, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(dir, tl.Def.Name+".snap")
			if regen {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: no snapshot (run go test -run TestToolSnapshots -update): %v", tl.Def.Name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: contract changed; if deliberate, run with -update\n--- got\n%s\n--- want\n%s", tl.Def.Name, got, want)
			}
		}
	}
	sort.Strings(names)
	// Stale snapshots of removed tools would hide a rename.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()[:len(e.Name())-len(".snap")]
		if _, ok := slices.BinarySearch(names, n); !ok {
			t.Errorf("snapshot %s has no tool", e.Name())
		}
	}
}
