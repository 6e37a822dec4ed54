package scopecatalog

import (
	"slices"
	"testing"
)

func TestLeastPrivilegeScopes(t *testing.T) {
	tests := []struct {
		name   string
		hints  []map[string]bool // learned one after the other
		want   []string
		wantOK bool
	}{
		{name: "no annotations: no least-privilege set", wantOK: false},
		{
			name:   "read-only tools' scopes plus base",
			hints:  []map[string]bool{{"files_list": true, "files_delete": false}},
			want:   []string{"email", "files:read", "openid", "profile"},
			wantOK: true,
		},
		{
			name:   "rules decide a hinted tool's scopes",
			hints:  []map[string]bool{{"notes_list": true, "notes_delete": false}},
			want:   []string{"email", "notes:glob", "openid", "profile"},
			wantOK: true,
		},
		{
			name:   "only write tools: base scopes",
			hints:  []map[string]bool{{"files_delete": false}},
			want:   []string{"email", "openid", "profile"},
			wantOK: true,
		},
		{
			name:   "a hint for a tool the catalog does not know adds nothing",
			hints:  []map[string]bool{{"gone_tool": true}},
			want:   []string{"email", "openid", "profile"},
			wantOK: true,
		},
		{
			name:   "a later list changes a hint",
			hints:  []map[string]bool{{"files_delete": true}, {"files_delete": false, "files_list": true}},
			want:   []string{"email", "files:read", "openid", "profile"},
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCatalog(t)
			for _, h := range tt.hints {
				c.LearnHints(h)
			}
			got, ok := c.LeastPrivilegeScopes()
			if ok != tt.wantOK || !slices.Equal(got, tt.want) {
				t.Fatalf("LeastPrivilegeScopes = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLearnHintsKeepsTheMapWhenNothingChanged(t *testing.T) {
	c := testCatalog(t)
	c.LearnHints(map[string]bool{"files_list": true})
	before := c.hints.m.Load()
	c.LearnHints(map[string]bool{"files_list": true})
	if c.hints.m.Load() != before {
		t.Fatalf("an unchanged hint replaced the hint map")
	}
	c.LearnHints(nil)
	if c.hints.m.Load() != before {
		t.Fatalf("no hints replaced the hint map")
	}
}
