package contacts_test

import (
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/mcpbackend/contacts"
)

func TestToolsMatchInventory(t *testing.T) {
	tools, err := contacts.Tools(davtest.Config("https://cloud.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 8 {
		t.Fatalf("%d tools, want 8", len(tools))
	}
	davtest.CheckInventory(t, "contacts", tools)
}

func TestToolSnapshots(t *testing.T) {
	tools, err := contacts.Tools(davtest.Config("https://cloud.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	davtest.CheckSnapshots(t, tools)
}
