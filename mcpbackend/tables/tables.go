// Package tables holds the tools for the Nextcloud Tables app: the OCS
// API v2 (/ocs/v2.php/apps/tables/api/2) where it has the call, the v1
// REST API (/index.php/apps/tables/api/1) for rows and schemes, which v2
// does not offer.
package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	app   = "tables"
	v1    = "/index.php/apps/tables/api/1"
	v2    = "/ocs/v2.php/apps/tables/api/2"
	read  = "tables:read"
	write = "tables:write"
)

// Tools returns the Tables tools.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	return []tooldef.Tool{ListTables(c), GetSchema(c), ReadTable(c), InsertRow(c), UpdateRow(c), DeleteRow(c)}
}

var (
	tableIDArg = mcp.WithInteger("table_id", mcp.Required(), mcp.Description("Id of the table."))
	rowIDArg   = mcp.WithInteger("row_id", mcp.Required(), mcp.Description("Id of the row."))
	dataArg    = mcp.WithObject("data", mcp.Required(), mcp.Description(`Cell values keyed by column id, e.g. {"31": "Laptop", "32": 2}; selection columns take the option id. See nc_tables_get_schema for the ids.`))
	rowOutput  = nextcloud.RecordSchema("row", "object", "The row: id, tableId, createdBy, createdAt, lastEditBy, lastEditAt, data [{columnId, value}].",
		map[string]string{"id": "integer", "tableId": "integer", "data": "array", "createdBy": "string|null", "createdAt": "string|null", "lastEditBy": "string|null", "lastEditAt": "string|null"})
)

// ListTables is nc_tables_list_tables.
func ListTables(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_tables_list_tables"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the tables the user can access."),
			nextcloud.OutputSchema("tables", "array", "Tables: id, title, emoji, description, ownership, rowsCount, columnsCount, views."),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var out json.RawMessage
			if err := c.OCS(ctx, http.MethodGet, v2+"/tables", nil, nil, &out); err != nil {
				return nextcloud.ToolError(name, "listing tables", err)
			}
			return nextcloud.Structured("tables", nextcloud.Raw(out)), nil
		},
	}
}

func getV1(ctx context.Context, c *nextcloud.Client, name, what, path string, q url.Values, key string) (*mcp.CallToolResult, error) {
	var out json.RawMessage
	_, err := c.JSON(ctx, http.MethodGet, path, q, nil, &out)
	return getV1Result(name, what, key, out, err)
}

func getV1Result(name, what, key string, out json.RawMessage, err error) (*mcp.CallToolResult, error) {
	if err != nil {
		if nextcloud.IsStatus(err, http.StatusNotFound) {
			// Tables answers a missing table with an empty 404.
			return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s (HTTP 404): no such table, or no access to it", name, what)), nil
		}
		return nextcloud.ToolError(name, what, err)
	}
	return nextcloud.Structured(key, nextcloud.Raw(out)), nil
}

// GetSchema is nc_tables_get_schema.
func GetSchema(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_tables_get_schema"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Read a table's scheme: its columns (ids, titles, types, selection options) and views. Column ids are what row data is keyed by. Tables 2.2.2 fails (HTTP 500) on the scheme of a table created without an emoji; the schema is then assembled from the table and its columns, and its note says so."),
			tableIDArg,
			nextcloud.OutputSchema("schema", "object", "title, emoji, columns [{id, title, type, subtype, mandatory, selectionOptions, ...}], views."),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("table_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			what := fmt.Sprintf("reading the scheme of table %d", id)
			table := v1 + "/tables/" + strconv.Itoa(id)
			var out json.RawMessage
			_, err = c.JSON(ctx, http.MethodGet, table+"/scheme", nil, nil, &out)
			if !nextcloud.IsStatus(err, http.StatusInternalServerError) {
				return getV1Result(name, what, "schema", out, err)
			}
			schema, ferr := assembleSchema(ctx, c, table, err)
			if ferr == nil {
				return nextcloud.Structured("schema", schema), nil
			}
			res, terr := nextcloud.ToolError(name, what, err)
			if res == nil {
				return res, terr
			}
			return mcp.NewToolResultError(fmt.Sprintf("%s; assembling it from the table and its columns failed too: %v", resultText(res), ferr)), nil
		},
	}
}

// assembleSchema builds what /scheme answers from the table and columns
// endpoints. Tables 2.2.2 answers 500 on /scheme for a table created
// without an emoji (TableScheme::__construct() refuses the null emoji,
// measured on a real instance) although both of these read fine.
func assembleSchema(ctx context.Context, c *nextcloud.Client, table string, schemeErr error) (map[string]any, error) {
	var t map[string]any
	if _, err := c.JSON(ctx, http.MethodGet, table, nil, nil, &t); err != nil {
		return nil, err
	}
	var cols []any
	if _, err := c.JSON(ctx, http.MethodGet, table+"/columns", nil, nil, &cols); err != nil {
		return nil, err
	}
	why := schemeErr.Error()
	var e *nextcloud.Error
	if errors.As(schemeErr, &e) && e.Message != "" {
		why = e.Message
	}
	schema := map[string]any{"columns": cols,
		"note": fmt.Sprintf("Tables answered HTTP 500 on the scheme (%s), a Tables bug with tables created without an emoji; this schema was assembled from the table and its columns.", why)}
	for _, k := range []string{"id", "title", "emoji", "description", "views", "columnOrder", "sort"} {
		if v, ok := t[k]; ok {
			schema[k] = v
		}
	}
	return schema, nil
}

// ReadTable is nc_tables_read_table.
func ReadTable(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_tables_read_table"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Read a table's rows, optionally a page of them."),
			tableIDArg,
			mcp.WithInteger("limit", mcp.Min(1), mcp.Description("At most this many rows.")),
			mcp.WithInteger("offset", mcp.Min(0), mcp.Description("Skip this many rows.")),
			nextcloud.OutputSchema("rows", "array", "Rows: id, data [{columnId, value}], createdBy, createdAt, lastEditBy, lastEditAt."),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("table_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			q := url.Values{}
			if l := req.GetInt("limit", 0); l > 0 {
				q.Set("limit", strconv.Itoa(l))
			}
			if o := req.GetInt("offset", 0); o > 0 {
				q.Set("offset", strconv.Itoa(o))
			}
			if len(q) == 0 {
				q = nil
			}
			return getV1(ctx, c, name, fmt.Sprintf("reading the rows of table %d", id), v1+"/tables/"+strconv.Itoa(id)+"/rows", q, "rows")
		},
	}
}

func dataArgument(req mcp.CallToolRequest) (map[string]any, error) {
	d, ok := req.GetArguments()["data"].(map[string]any)
	if !ok || len(d) == 0 {
		return nil, fmt.Errorf(`data must be an object of column id → value, e.g. {"31": "x"}`)
	}
	for k := range d {
		if _, err := strconv.Atoi(k); err != nil {
			return nil, fmt.Errorf("data key %q is not a column id (see nc_tables_get_schema)", k)
		}
	}
	return d, nil
}

// InsertRow is nc_tables_insert_row.
func InsertRow(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_tables_insert_row"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Add a row to a table. Mandatory columns must be given."),
			tableIDArg, dataArg, rowOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("table_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			data, err := dataArgument(req)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			var row json.RawMessage
			if err := c.OCS(ctx, http.MethodPost, v2+"/tables/"+strconv.Itoa(id)+"/rows", nil, map[string]any{"data": data}, &row); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("adding a row to table %d", id), err)
			}
			return nextcloud.Structured("row", nextcloud.Raw(stored(ctx, c, row))), nil
		},
	}
}

// stored reads a new row back: Tables' insert answer has createdBy,
// createdAt, lastEditBy and lastEditAt null and values as sent (a
// selection id as "1"), while the row as stored has them. If reading back
// fails the row exists all the same, so its insert answer is returned.
func stored(ctx context.Context, c *nextcloud.Client, created json.RawMessage) json.RawMessage {
	var r struct {
		ID int `json:"id"`
	}
	if json.Unmarshal(created, &r) != nil || r.ID <= 0 {
		return created
	}
	var row json.RawMessage
	if _, err := c.JSON(ctx, http.MethodGet, v1+"/rows/"+strconv.Itoa(r.ID), nil, nil, &row); err != nil || len(row) == 0 {
		return created
	}
	return row
}

// UpdateRow is nc_tables_update_row.
func UpdateRow(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_tables_update_row"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Change cells of a row; columns not given keep their values."),
			rowIDArg, dataArg, rowOutput,
			tooldef.Annotations(false, false, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("row_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			data, err := dataArgument(req)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			var row json.RawMessage
			if _, err := c.JSON(ctx, http.MethodPut, v1+"/rows/"+strconv.Itoa(id), nil, map[string]any{"data": data}, &row); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("updating row %d", id), err)
			}
			return nextcloud.Structured("row", nextcloud.Raw(row)), nil
		},
	}
}

// DeleteRow is nc_tables_delete_row.
func DeleteRow(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_tables_delete_row"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a row."),
			rowIDArg, rowOutput,
			tooldef.Annotations(false, true, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("row_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			var row json.RawMessage
			if _, err := c.JSON(ctx, http.MethodDelete, v1+"/rows/"+strconv.Itoa(id), nil, nil, &row); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("deleting row %d", id), err)
			}
			return nextcloud.Structured("row", nextcloud.Raw(row)), nil
		},
	}
}

// resultText is the text of a tool result.
func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}
