package calendar_test

import (
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/mcpbackend/calendar"
)

func TestToolsMatchInventory(t *testing.T) {
	tools, err := calendar.Tools(davtest.Config("https://cloud.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 17 {
		t.Fatalf("%d tools, want 17", len(tools))
	}
	davtest.CheckInventory(t, "calendar", tools)
}

func TestToolSnapshots(t *testing.T) {
	tools, err := calendar.Tools(davtest.Config("https://cloud.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	davtest.CheckSnapshots(t, tools)
}
