// Package toolinventory is the tool inventory of the reference Python
// server (cbcoutinho/nextcloud-mcp-server), the list the backend must match
// tool for tool. Tests of every family compare their tools with it; it is
// kept here once, as recorded in nextcloud-tools.json.
package toolinventory

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed nextcloud-tools.json
var raw []byte

// Tool is one reference tool: its family, name, required scopes (colon
// form), hints and parameters.
type Tool struct {
	Family      string   `json:"family"`
	Name        string   `json:"name"`
	Scopes      []string `json:"scopes"`
	Annotations struct {
		ReadOnly    bool `json:"readOnly"`
		Destructive bool `json:"destructive"`
		Idempotent  bool `json:"idempotent"`
	} `json:"annotations"`
	Params []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Required bool   `json:"required"`
	} `json:"params"`
}

// Reference returns every tool of the reference inventory.
func Reference() ([]Tool, error) {
	var inv struct {
		Tools []Tool `json:"tools"`
	}
	if err := json.Unmarshal(raw, &inv); err != nil {
		return nil, fmt.Errorf("nextcloud-tools.json: %w", err)
	}
	return inv.Tools, nil
}

// Family returns the reference tools of one family, by name.
func Family(family string) (map[string]Tool, error) {
	all, err := Reference()
	if err != nil {
		return nil, err
	}
	out := map[string]Tool{}
	for _, t := range all {
		if t.Family == family {
			out[t.Name] = t
		}
	}
	return out, nil
}
