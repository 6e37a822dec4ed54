package mcpbackend

import (
	"github.com/scopegate/scopegate/mcpbackend/calendar"
	"github.com/scopegate/scopegate/mcpbackend/contacts"
	"github.com/scopegate/scopegate/mcpbackend/cookbook"
	"github.com/scopegate/scopegate/mcpbackend/deck"
	"github.com/scopegate/scopegate/mcpbackend/files"
	"github.com/scopegate/scopegate/mcpbackend/notes"
	"github.com/scopegate/scopegate/mcpbackend/sharing"
	"github.com/scopegate/scopegate/mcpbackend/tables"
)

// DefaultFamilies returns every tool family the backend offers, by the
// name used in the `apps` option. A new family is one line here.
func DefaultFamilies() map[string]Family {
	return map[string]Family{
		"notes":    notes.Tools,
		"files":    files.Tools,
		"sharing":  sharing.Tools,
		"deck":     deck.Tools,
		"cookbook": cookbook.Tools,
		"tables":   tables.Tools,
		"calendar": calendar.Tools, // events and tasks (VTODO), over CalDAV
		"contacts": contacts.Tools, // over CardDAV
	}
}
