package sharing_test

import (
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/sharing"
)

const shares = "/ocs/v2.php/apps/files_sharing/api/v1/shares"

func TestTools(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "create user share", Tool: "nc_share_create", Args: map[string]any{"path": "/Fixtures-share/report.pdf.txt", "share_with": "user2", "share_type": 0, "permissions": 1},
			Calls: []string{"POST " + shares}, Structured: "share", Contains: []string{`"id":"35"`}},
		{Name: "create for unknown user", Tool: "nc_share_create", Args: map[string]any{"path": "/Fixtures-share/report.pdf.txt", "share_with": "nobody-here"},
			Calls: []string{"POST " + shares}, WantError: true, Contains: []string{"nc_share_create failed: sharing \"/Fixtures-share/report.pdf.txt\" (HTTP 404): Please specify a valid account"}},
		{Name: "create without recipient", Tool: "nc_share_create", Args: map[string]any{"path": "/x"}, WantError: true},
		// Nextcloud stores only the date and expires the link at the end
		// of it (sharing/03: expireDate=2026-12-04 became
		// "2026-12-04 23:59:59"): the answer says so.
		{Name: "public link", Tool: "nc_share_create_public_link", Args: map[string]any{"path": "Fixtures-share/report.pdf.txt", "expires_in_minutes": 30},
			Serve: []string{"sharing/03-create-public-link"}, Calls: []string{"POST " + shares}, Structured: "expiry",
			Contains: []string{`"nextcloud_expiration":"2026-12-04 23:59:59"`, `"requested_minutes":30`, "valid until 2026-12-04 23:59:59 (Nextcloud's time zone)"}},
		{Name: "public link of missing file", Tool: "nc_share_create_public_link", Args: map[string]any{"path": "Fixtures-share/nope.txt"},
			Serve: []string{"sharing/06-create-share-path-not-found-404"},
			Calls: []string{"POST " + shares}, WantError: true, Contains: []string{"HTTP 404", "Wrong path"}},
		{Name: "delete", Tool: "nc_share_delete", Args: map[string]any{"share_id": 37},
			Calls: []string{"DELETE " + shares + "/37"}, Contains: []string{"Share 37 deleted"}},
		{Name: "delete missing", Tool: "nc_share_delete", Args: map[string]any{"share_id": 37},
			Serve: []string{"sharing/27-delete-share-again-404"},
			Calls: []string{"DELETE " + shares + "/37"}, WantError: true, Contains: []string{"Wrong share ID"}},
		{Name: "get", Tool: "nc_share_get", Args: map[string]any{"share_id": 35},
			Calls: []string{"GET " + shares + "/35"}, Structured: "share", Contains: []string{`"id":"35"`}},
		{Name: "get missing", Tool: "nc_share_get", Args: map[string]any{"share_id": 999999},
			Calls: []string{"GET " + shares + "/999999"}, WantError: true, Contains: []string{"(HTTP 404): Wrong share ID, share does not exist"}},
		{Name: "list", Tool: "nc_share_list", Args: map[string]any{},
			Calls: []string{"GET " + shares}, Structured: "shares"},
		{Name: "list by path", Tool: "nc_share_list", Args: map[string]any{"path": "/Fixtures-share/report.pdf.txt"},
			Calls: []string{"GET " + shares + "?path=%2FFixtures-share%2Freport.pdf.txt"}, Structured: "shares", Contains: []string{`"id":"35"`}},
		{Name: "list by missing path", Tool: "nc_share_list", Args: map[string]any{"path": "/no-such-file.txt"},
			Calls: []string{"GET " + shares + "?path=%2Fno-such-file.txt"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "update", Tool: "nc_share_update", Args: map[string]any{"share_id": 36, "permissions": 15},
			Calls: []string{"PUT " + shares + "/36"}, Structured: "share"},
		{Name: "update refused", Tool: "nc_share_update", Args: map[string]any{"share_id": 35, "permissions": 7},
			Calls: []string{"PUT " + shares + "/35"}, WantError: true, Contains: []string{"(HTTP 400): Failed to update share."}},
	}
	backendtest.Run(t, "sharing", sharing.Tools, cases, backendtest.Options{})
}
