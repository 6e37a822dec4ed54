package caddymodule

import (
	"slices"
	"strconv"
	"strings"
)

// listMemoKey names everything a filtered list depends on besides the
// backend's bytes (see listfilter.Rewriter.MemoKey): the exact set of
// scopes held, sorted and without duplicates (tokens holding the same set
// see the same lists), and the catalog's version (declarations and
// annotations learned). Each scope is length-prefixed, so no two sets
// spell alike whatever characters a token's scopes contain. Task lists,
// which depend on the subject too, are never remembered by the filter.
func listMemoKey(scopes []string, catalogVersion uint64) string {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var b strings.Builder
	b.Grow(24 + len(sorted)*24)
	b.WriteString(strconv.FormatUint(catalogVersion, 10))
	for _, s := range sorted {
		b.WriteByte('|')
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}
