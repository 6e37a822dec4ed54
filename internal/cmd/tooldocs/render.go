package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// regenerate is the one command that rewrites the reference; the golden
// test names it when the file is stale.
const regenerate = "go generate ./internal/cmd/tooldocs"

// render writes the reference as Markdown. The output depends only on
// the inventory (families sorted by name, tools in tools/list order,
// scopes sorted), so it is stable from run to run.
func render(inv inventory) []byte {
	var b bytes.Buffer
	total, readOnly := 0, 0
	for _, f := range inv.Families {
		for _, t := range f.Tools {
			total++
			if t.ReadOnly {
				readOnly++
			}
		}
	}
	fmt.Fprintf(&b, "# Tool and scope reference\n\n")
	fmt.Fprintf(&b, "<!-- Generated from the backend's tools/list by `%s`; do not edit by hand. -->\n\n", regenerate)
	fmt.Fprintf(&b, "`nextcloud_mcp` offers %d tools (%d read-only) in %d families. ", total, readOnly, len(inv.Families))
	b.WriteString("Each tool declares the OAuth scopes it needs in its `_meta` under `scopegate/scopes`; " +
		"`mcp_gateway` learns them from `tools/list`. A token needs **all** of a tool's scopes to see the tool " +
		"in `tools/list` and to call it; a call without them gets 403 `insufficient_scope` naming the scopes.\n\n")
	b.WriteString("- Scope names are shown in the default form (`notes:read`); with `scope_separator \".\"` " +
		"the backend publishes them as `notes.read`.\n")
	b.WriteString("- A `tool` rule in the gateway's configuration overrides what is listed here.\n")
	b.WriteString("- Tools of a Nextcloud app that is not enabled for the user are left out of `tools/list`, " +
		"and calling one answers a tool error saying the app is not enabled.\n")
	b.WriteString("- Kind: **read-only** only reads (`readOnlyHint`); **write** changes data without destroying any; " +
		"**destructive** may delete or overwrite (`destructiveHint`).\n\n")

	b.WriteString("| Family (`apps`) | Nextcloud app | Tools | Read-only |\n|---|---|---:|---:|\n")
	for _, f := range inv.Families {
		ro := 0
		for _, t := range f.Tools {
			if t.ReadOnly {
				ro++
			}
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %d | %d |\n", f.Name, f.Name, codeList(ncApps(f)), len(f.Tools), ro)
	}

	for _, f := range inv.Families {
		fmt.Fprintf(&b, "\n## %s\n\n", f.Name)
		if f.Name == otherFamily {
			b.WriteString("Tools the backend adds itself in `credentials app_password` mode, whatever `apps` says.\n\n")
		} else {
			fmt.Fprintf(&b, "Offered with `apps %s` (or no `apps` at all); needs the Nextcloud app %s.\n\n", f.Name, codeList(ncApps(f)))
		}
		b.WriteString("| Tool | What it does | Scopes | Kind |\n|---|---|---|---|\n")
		for _, t := range f.Tools {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", t.Name, cell(firstSentence(t.Description)), codeList(t.Scopes), kind(t))
		}
	}

	b.WriteString("\n## Scopes\n\n")
	b.WriteString("What each scope unlocks. A tool listed under several scopes needs all of them; " +
		"the others it needs are named in parentheses. Besides these, clients ask for the identity scopes " +
		"(`openid profile email` by default, the gateway's `base_scopes`).\n")
	byScope := map[string][]toolDoc{}
	for _, f := range inv.Families {
		for _, t := range f.Tools {
			for _, s := range t.Scopes {
				byScope[s] = append(byScope[s], t)
			}
		}
	}
	scopes := make([]string, 0, len(byScope))
	for s := range byScope {
		scopes = append(scopes, s)
	}
	slices.Sort(scopes)
	for _, s := range scopes {
		tools := byScope[s]
		fmt.Fprintf(&b, "\n### `%s`\n\n%d tools: ", s, len(tools))
		parts := make([]string, 0, len(tools))
		for _, t := range tools {
			p := "`" + t.Name + "`"
			var others []string
			for _, o := range t.Scopes {
				if o != s {
					others = append(others, o)
				}
			}
			if len(others) > 0 {
				p += " (with " + codeList(others) + ")"
			}
			parts = append(parts, p)
		}
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(".\n")
	}
	return b.Bytes()
}

func kind(t toolDoc) string {
	switch {
	case t.ReadOnly:
		return "read-only"
	case t.Destructive:
		return "destructive"
	default:
		return "write"
	}
}

// ncApps are the distinct Nextcloud apps a family's tools need.
func ncApps(f family) []string {
	var apps []string
	for _, t := range f.Tools {
		if t.NCApp != "" && !slices.Contains(apps, t.NCApp) {
			apps = append(apps, t.NCApp)
		}
	}
	slices.Sort(apps)
	return apps
}

func codeList(items []string) string {
	if len(items) == 0 {
		return "—"
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

// firstSentence is the description up to its first full stop followed by
// a space or the end ("e.g." and "i.e." do not end a sentence).
func firstSentence(desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	for i := 0; i < len(desc); i++ {
		if desc[i] != '.' || (i+1 < len(desc) && desc[i+1] != ' ') {
			continue
		}
		head := desc[:i]
		if strings.HasSuffix(head, "e.g") || strings.HasSuffix(head, "i.e") {
			continue
		}
		return desc[:i+1]
	}
	return desc
}

// cell makes text safe inside a Markdown table cell: a '|' would end the
// cell and a '<' could start an HTML tag.
func cell(s string) string {
	return strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", `\<`).Replace(s)
}
