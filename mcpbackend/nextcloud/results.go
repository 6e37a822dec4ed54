package nextcloud

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
)

// OutputSchema declares a tool's structured content: an object with one
// property key of JSON type typ ("object" or "array"), as MCP requires
// structured content to be an object.
func OutputSchema(key, typ, description string) mcp.ToolOption {
	return RecordSchema(key, typ, description, nil)
}

// RecordSchema is OutputSchema with the record's main fields typed
// (field → JSON type, e.g. "id": "integer", or "string|null" where
// Nextcloud sends nulls); for an array they describe its items. Nextcloud's records carry more fields than listed, and they
// are passed through, so no additionalProperties restriction is set.
func RecordSchema(key, typ, description string, fields map[string]string) mcp.ToolOption {
	record := map[string]any{"type": "object"}
	if len(fields) > 0 {
		props := map[string]any{}
		for f, t := range fields {
			if strings.Contains(t, "|") {
				props[f] = map[string]any{"type": strings.Split(t, "|")}
			} else {
				props[f] = map[string]any{"type": t}
			}
		}
		record["properties"] = props
	}
	prop := map[string]any{"description": description}
	switch typ {
	case "array":
		prop["type"], prop["items"] = "array", record
	case "object":
		for k, v := range record {
			prop[k] = v
		}
	default:
		prop["type"] = typ
	}
	schema := map[string]any{
		"type":       "object",
		"properties": map[string]any{key: prop},
		"required":   []string{key},
	}
	b, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("output schema for %s: %v", key, err))
	}
	return mcp.WithRawOutputSchema(b)
}

// Structured returns v under key as structured content, with its JSON as
// the text fallback for clients of older protocol revisions.
func Structured(key string, v any) *mcp.CallToolResult {
	out := map[string]any{key: v}
	b, err := json.Marshal(out)
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("encoding result: %v", err))
	}
	return mcp.NewToolResultStructured(out, string(b))
}

// Raw decodes a JSON answer for passing through as structured content;
// Nextcloud's records carry many fields and none are dropped.
func Raw(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

// FileResult returns a downloaded file as tool content: text as text,
// images as image content, anything else as a base64 blob resource.
func FileResult(uri string, resp *Response) *mcp.CallToolResult {
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case strings.HasPrefix(mt, "image/") && mt != "image/svg+xml":
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewImageContent(base64.StdEncoding.EncodeToString(resp.Body), mt)}}
	case utf8.Valid(resp.Body) && (strings.HasPrefix(mt, "text/") || mt == "" || strings.Contains(mt, "json") || strings.Contains(mt, "xml") || mt == "application/octet-stream" && isText(resp.Body)):
		return mcp.NewToolResultText(string(resp.Body))
	default:
		return BlobResult(uri, resp)
	}
}

// BlobResult returns a downloaded file as a base64 blob resource.
func BlobResult(uri string, resp *Response) *mcp.CallToolResult {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewEmbeddedResource(mcp.BlobResourceContents{
		URI: uri, MIMEType: mt, Blob: base64.StdEncoding.EncodeToString(resp.Body)})}}
}

func isText(b []byte) bool {
	for _, c := range b[:min(len(b), 512)] {
		if c == 0 {
			return false
		}
	}
	return true
}
