package davclient

import (
	"testing"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func TestFromNextcloudShared(t *testing.T) {
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := FromNextcloud(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FromNextcloud(nc)
	if a != b {
		t.Error("calendar and contacts would discover homes twice: FromNextcloud built two clients for one Nextcloud client")
	}
	other, _ := nextcloud.New(nextcloud.Options{BaseURL: "http://127.0.0.1:1"})
	if c, _ := FromNextcloud(other); c == a {
		t.Error("two Nextcloud clients share one DAV client")
	}
}
