package contacts_test

import (
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/mcpbackend/contacts"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func TestToolsMatchInventory(t *testing.T) {
	tools, err := contacts.ToolsWithConfig(davtest.Config("https://cloud.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 8 {
		t.Fatalf("%d tools, want 8", len(tools))
	}
	davtest.CheckInventory(t, "contacts", tools)
}

func TestToolsFromNextcloudClient(t *testing.T) {
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: "https://cloud.example.com/nextcloud"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(contacts.Tools(nc)); got != 8 {
		t.Fatalf("%d tools, want 8", got)
	}
}
