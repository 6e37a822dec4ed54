package mcpbackend

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func TestAppPasswordKey(t *testing.T) {
	ctx := context.Background()
	st := &certmagic.FileStorage{Path: t.TempDir()}
	k1, err := AppPasswordKey(ctx, st, "")
	if err != nil || len(k1) != 32 {
		t.Fatalf("generated key: %v", err)
	}
	k2, err := AppPasswordKey(ctx, &certmagic.FileStorage{Path: st.Path}, "")
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("a second instance got another key: %v", err)
	}
	conf := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if k, err := AppPasswordKey(ctx, st, conf); err != nil || k[0] != 7 {
		t.Fatalf("configured key: %v", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := AppPasswordKey(ctx, st, bad); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

// TestStoredPasswordIsBoundToItsSubject: the record is encrypted, and one
// moved to another subject's key, or read with another key, does not
// decrypt.
func TestStoredPasswordIsBoundToItsSubject(t *testing.T) {
	ctx := context.Background()
	st := &certmagic.FileStorage{Path: t.TempDir()}
	nc, _ := nextcloud.New(nextcloud.Options{BaseURL: "http://nc.invalid"})
	c, err := NewConnector(ConnectorConfig{Client: nc, Storage: st, Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	sp := &storedPassword{LoginName: "alice", Password: "secret-app-password", UserID: "alice", Since: time.Now()}
	if err := c.save(ctx, "alice", sp); err != nil {
		t.Fatal(err)
	}
	blob, err := st.Load(ctx, appPasswordPrefix+subjectHash("alice"))
	if err != nil || bytes.Contains(blob, []byte("secret-app-password")) {
		t.Fatalf("stored in clear or missing: %v", err)
	}
	if got, err := c.load(ctx, "alice"); err != nil || got.Password != sp.Password {
		t.Fatalf("load: %v %+v", err, got)
	}
	if err := st.Store(ctx, appPasswordPrefix+subjectHash("mallory"), blob); err != nil {
		t.Fatal(err)
	}
	if got, err := c.load(ctx, "mallory"); err == nil {
		t.Errorf("alice's record decrypted as mallory's: %+v", got)
	}
	other, _ := NewConnector(ConnectorConfig{Client: nc, Storage: st, Key: bytes.Repeat([]byte{2}, 32)})
	if _, err := other.load(ctx, "alice"); err == nil {
		t.Error("decrypted with another key")
	}
	if got, err := c.load(ctx, "bob"); err != nil || got != nil {
		t.Errorf("unknown subject: %v %+v", err, got)
	}
}
