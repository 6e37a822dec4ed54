package davclient_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// homeListings counts the PROPFINDs that list the admin's calendar home.
func homeListings(r *nextcloudfake.DAVReplay) int {
	n := 0
	for _, req := range r.Sent("PROPFIND") {
		if req.URL.Path == "/remote.php/dav/calendars/admin/" {
			n++
		}
	}
	return n
}

// Resolving a calendar by name reuses the user's recent listing, the most
// expensive request Nextcloud answers; a name the listing lacks, a write
// to a collection and any refused request make the next resolution ask
// the server again.
func TestCalendarResolvedFromRecentListing(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "calendar/01")
	r.Handle("DELETE", "/remote.php/dav/calendars/admin/personal/gone.ics", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	c := client(t, r)
	ctx := adminCtx()

	if _, err := c.Calendars(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if cal, err := c.FindCalendar(ctx, "personal"); err != nil || cal.Name != "personal" {
			t.Fatalf("FindCalendar(personal) = %+v, %v", cal, err)
		}
	}
	if n := homeListings(r); n != 1 {
		t.Fatalf("%d listings for one listing and three resolutions, want 1", n)
	}

	// A name the listing lacks: asked afresh, then reported missing.
	if _, err := c.FindCalendar(ctx, "no-such-calendar"); err == nil {
		t.Fatal("FindCalendar(no-such-calendar) found something")
	}
	if n := homeListings(r); n != 2 {
		t.Fatalf("%d listings after a miss, want 2 (the miss asks again)", n)
	}
	if _, err := c.FindCalendar(ctx, "personal"); err != nil {
		t.Fatal(err)
	}
	if n := homeListings(r); n != 2 {
		t.Fatalf("%d listings, want the refreshed listing reused", n)
	}

	// A refused request (an object deleted elsewhere, a calendar gone)
	// drops the listing.
	if err := c.Delete(ctx, "/remote.php/dav/calendars/admin/personal/gone.ics", `"x"`); err == nil {
		t.Fatal("DELETE of a missing object succeeded")
	}
	if _, err := c.FindCalendar(ctx, "personal"); err != nil {
		t.Fatal(err)
	}
	if n := homeListings(r); n != 3 {
		t.Errorf("%d listings, want a fresh one after the server refused a request", n)
	}

}

// The listing is kept for the exact credentials that made it: what it
// holds shows in errors before any request reaches the server, so other
// credentials, even for the same login name, list afresh (and meet the
// server's authentication).
func TestRecentListingKeptPerCredentials(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "calendar/01")
	c := client(t, r)
	if _, err := c.Calendars(adminCtx()); err != nil {
		t.Fatal(err)
	}
	other := nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: "admin", Password: "another-password"})
	if _, err := c.FindCalendar(other, "personal"); err != nil {
		t.Fatal(err)
	}
	if n := homeListings(r); n != 2 {
		t.Errorf("%d listings, want the second credentials to list afresh", n)
	}
}
