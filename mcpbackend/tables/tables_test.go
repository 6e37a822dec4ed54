package tables_test

import (
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/tables"
)

const (
	v1 = "/index.php/apps/tables/api/1"
	v2 = "/ocs/v2.php/apps/tables/api/2"
)

func TestTools(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "list", Tool: "nc_tables_list_tables", Args: map[string]any{},
			Calls: []string{"GET " + v2 + "/tables"}, Structured: "tables", Contains: []string{"Welcome to Nextcloud Tables!"}},
		{Name: "list unauthorised", Tool: "nc_tables_list_tables", Args: map[string]any{},
			ServeAs: map[string]string{"GET " + v2 + "/tables": "core/10-cloud-user-wrong-password-401"},
			Calls:   []string{"GET " + v2 + "/tables"}, WantError: true, Contains: []string{"(HTTP 401): Unauthorised"}},
		{Name: "schema", Tool: "nc_tables_get_schema", Args: map[string]any{"table_id": 10},
			Calls: []string{"GET " + v1 + "/tables/10/scheme"}, Structured: "schema", Contains: []string{`"title":"Item"`}},
		{Name: "schema of missing table", Tool: "nc_tables_get_schema", Args: map[string]any{"table_id": 999999},
			ServeAs: map[string]string{"GET " + v1 + "/tables/999999/scheme": "tables/34-v1-get-table-not-found-404"},
			Calls:   []string{"GET " + v1 + "/tables/999999/scheme"}, WantError: true, Contains: []string{"no such table"}},
		{Name: "read", Tool: "nc_tables_read_table", Args: map[string]any{"table_id": 10},
			Calls: []string{"GET " + v1 + "/tables/10/rows"}, Structured: "rows", Contains: []string{"Laptop"}},
		{Name: "read page", Tool: "nc_tables_read_table", Args: map[string]any{"table_id": 10, "limit": 2, "offset": 1},
			Calls: []string{"GET " + v1 + "/tables/10/rows?limit=2&offset=1"}, Structured: "rows"},
		{Name: "read unauthorised", Tool: "nc_tables_read_table", Args: map[string]any{"table_id": 10},
			Serve: []string{"tables/42-bearer-v1-rows-without-ocs-header-401"},
			Calls: []string{"GET " + v1 + "/tables/10/rows"}, WantError: true, Contains: []string{"CORS requires basic auth"}},
		// Tables answers the insert with createdAt/createdBy null
		// (tables/09); the row as stored has them (tables/25).
		{Name: "insert", Tool: "nc_tables_insert_row", Args: map[string]any{"table_id": 10, "data": map[string]any{"31": "Laptop", "32": 2, "33": 1}},
			Calls: []string{"POST " + v2 + "/tables/10/rows", "GET " + v1 + "/rows/30"}, Structured: "row",
			Contains: []string{`"createdBy":"admin"`, `"createdAt":"2026-11-27 03:12:31"`, `{"columnId":33,"value":1}`}},
		{Name: "insert, read-back fails", Tool: "nc_tables_insert_row", Args: map[string]any{"table_id": 10, "data": map[string]any{"31": "Laptop", "32": 2, "33": 1}},
			ServeAs: map[string]string{"GET " + v1 + "/rows/30": "tables/32-v1-get-row-after-delete-404"},
			Calls:   []string{"POST " + v2 + "/tables/10/rows", "GET " + v1 + "/rows/30"}, Structured: "row", Contains: []string{`"id":30`}},
		{Name: "insert without mandatory", Tool: "nc_tables_insert_row", Args: map[string]any{"table_id": 10, "data": map[string]any{"32": 5}},
			Calls: []string{"POST " + v2 + "/tables/10/rows"}, WantError: true, Contains: []string{"(HTTP 400): Mandatory colu"}},
		{Name: "insert with bad keys", Tool: "nc_tables_insert_row", Args: map[string]any{"table_id": 10, "data": map[string]any{"Item": "x"}}, WantError: true},
		{Name: "update", Tool: "nc_tables_update_row", Args: map[string]any{"row_id": 30, "data": map[string]any{"32": 4}},
			Calls: []string{"PUT " + v1 + "/rows/30"}, Structured: "row"},
		{Name: "update unknown column", Tool: "nc_tables_update_row", Args: map[string]any{"row_id": 30, "data": map[string]any{"999999": "x"}},
			Calls: []string{"PUT " + v1 + "/rows/30"}, WantError: true, Contains: []string{"(HTTP 500): Column with id 999999 is not part of table with id 10"}},
		{Name: "delete", Tool: "nc_tables_delete_row", Args: map[string]any{"row_id": 32},
			Calls: []string{"DELETE " + v1 + "/rows/32"}, Structured: "row"},
		{Name: "delete again", Tool: "nc_tables_delete_row", Args: map[string]any{"row_id": 32},
			Serve: []string{"tables/33-v1-delete-row-again-500"},
			Calls: []string{"DELETE " + v1 + "/rows/32"}, WantError: true, Contains: []string{"HTTP 500"}},
	}
	backendtest.Run(t, "tables", tables.Tools, cases, backendtest.Options{})
}

// Tables 2.2.2 answers 500 on the scheme of a table created without an
// emoji (its own bug, measured): the tool assembles the schema from the
// table and its columns and says so.
func TestSchemaWithoutEmoji(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "schema fallback", Tool: "nc_tables_get_schema", Args: map[string]any{"table_id": 10},
			Calls:      []string{"GET " + v1 + "/tables/10/scheme", "GET " + v1 + "/tables/10", "GET " + v1 + "/tables/10/columns"},
			Structured: "schema", Contains: []string{`"title":"Item"`, `"title":"Fixture Inventory"`, `"emoji":null`, "assembled from the table and its columns", "Argument #2 ($emoji)"}},
		{Name: "schema fallback fails too", Tool: "nc_tables_get_schema", Args: map[string]any{"table_id": 10},
			ServeAs:   map[string]string{"GET " + v1 + "/tables/10/columns": "tables/36-v1-list-tables-wrong-password-401"},
			Calls:     []string{"GET " + v1 + "/tables/10/scheme", "GET " + v1 + "/tables/10", "GET " + v1 + "/tables/10/columns"},
			WantError: true, Contains: []string{"HTTP 500", "Argument #2 ($emoji)", "HTTP 401"}},
	}
	backendtest.Run(t, "tables", tables.Tools, cases, backendtest.Options{Fake: nextcloudfake.Options{TablesWithoutEmoji: []int{10}}})
}
