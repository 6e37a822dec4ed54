package calendar_test

import (
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/mcpbackend/calendar"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func TestToolsMatchInventory(t *testing.T) {
	tools, err := calendar.ToolsWithConfig(davtest.Config("https://cloud.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 17 {
		t.Fatalf("%d tools, want 17", len(tools))
	}
	davtest.CheckInventory(t, "calendar", tools)
}

func TestToolsFromNextcloudClient(t *testing.T) {
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: "https://cloud.example.com/nextcloud"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(calendar.Tools(nc)); got != 17 {
		t.Fatalf("%d tools, want 17", got)
	}
}
