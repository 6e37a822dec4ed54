package sessionbind

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

const testResource = "https://mcp.example.com/mcp"

func fileStorage(t testing.TB, dir string) certmagic.Storage {
	if dir == "" {
		dir = t.TempDir()
	}
	return &certmagic.FileStorage{Path: dir}
}

func wrap(t testing.TB, k *Keyring, backendID, subject string) string {
	t.Helper()
	w, err := k.Wrap(context.Background(), backendID, subject)
	if err != nil {
		t.Fatalf("Wrap(%q, %q): %v", backendID, subject, err)
	}
	return w
}

func unwrap(t testing.TB, k *Keyring, wrapped, subject string) (string, bool) {
	t.Helper()
	id, ok, err := k.Unwrap(context.Background(), wrapped, subject)
	if err != nil {
		t.Fatalf("Unwrap(%q, %q): %v", wrapped, subject, err)
	}
	return id, ok
}

// TestWrapRoundTrip: the subject that created a session gets the backend's
// id back, from this replica, another one sharing the storage, and one
// started later; the wrapped id is visible ASCII.
func TestWrapRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a := NewKeyring(fileStorage(t, dir), testResource, 0, 0, nil)
	b := NewKeyring(fileStorage(t, dir), testResource, 0, 0, nil)
	for _, id := range []string{
		"mcp-session-0b6c3e5e-2d1f-4e55-9b8e-4a4c1b8f0c11",
		"a.b.c",                    // the wrapped form's separator
		"sg1.deadbeef.QUFB.QUFB",   // looks wrapped already
		"~!#$%&'()*+,-/:;<=>?@[]^", // every kind of punctuation
		strings.Repeat("x", MaxBackendID),
	} {
		w := wrap(t, a, id, "alice")
		if !visibleASCII(w) {
			t.Errorf("wrapped %q is not visible ASCII: %q", id, w)
		}
		for name, k := range map[string]*Keyring{"same replica": a, "other replica": b, "restarted": NewKeyring(fileStorage(t, dir), testResource, 0, 0, nil)} {
			if got, ok := unwrap(t, k, w, "alice"); !ok || got != id {
				t.Errorf("%s: Unwrap = %q, %v; want %q", name, got, ok, id)
			}
		}
	}
}

// TestUnwrapAdversarial: whatever is changed, cut or moved, the id does
// not verify.
func TestUnwrapAdversarial(t *testing.T) {
	dir := t.TempDir()
	k := NewKeyring(fileStorage(t, dir), testResource, 0, 0, nil)
	const id = "mcp-session-0b6c3e5e-2d1f-4e55-9b8e-4a4c1b8f0c11"
	w := wrap(t, k, id, "alice")
	parts := strings.Split(w, ".")
	otherID := wrap(t, k, "mcp-session-other", "alice")
	otherParts := strings.Split(otherID, ".")
	other := NewKeyring(fileStorage(t, dir), "https://other.example.com/mcp", 0, 0, nil)
	fromOther := wrap(t, other, id, "alice")
	sameKeyOtherResource := NewKeyring(fileStorage(t, dir), "https://other.example.com/mcp", 0, 0, nil)
	sameKeyOtherResource.keys = k.keys // the same secret, another resource
	sameKeyOtherResource.loaded = time.Now()
	flipped := []byte(w)
	flipped[len(flipped)-2] ^= 1

	tests := []struct {
		name, wrapped, subject string
	}{
		{"another subject", w, "bob"},
		{"subject differing in case", w, "Alice"},
		{"subject with a separator appended", w, "alice\x00"},
		{"empty subject", w, ""},
		{"raw backend id", id, "alice"},
		{"empty", "", "alice"},
		{"prefix only", "sg1.", "alice"},
		{"no MAC", strings.Join(parts[:3], "."), "alice"},
		{"empty MAC", strings.Join(parts[:3], ".") + ".", "alice"},
		{"MAC of another id", strings.Join(append(parts[:3:3], otherParts[3]), "."), "alice"},
		{"id of another MAC", strings.Join([]string{parts[0], parts[1], otherParts[2], parts[3]}, "."), "alice"},
		{"flipped MAC bit", string(flipped), "alice"},
		{"extra part", w + ".x", "alice"},
		{"unknown key id", strings.Join([]string{parts[0], "00000000", parts[2], parts[3]}, "."), "alice"},
		{"padded base64", strings.Join([]string{parts[0], parts[1], base64.URLEncoding.EncodeToString([]byte(id + "x")), parts[3]}, "."), "alice"},
		{"padded base64 of a short id", padded(t, k, "ab"), "alice"},
		{"standard base64 alphabet", strings.Join([]string{parts[0], parts[1], parts[2], strings.NewReplacer("-", "+", "_", "/").Replace(parts[3]) + "+/"}, "."), "alice"},
		{"other prefix", "sg2" + w[3:], "alice"},
		{"upper-case", strings.ToUpper(w), "alice"},
		{"from another resource's ring", fromOther, "alice"},
		{"over the length limit", w + strings.Repeat("A", maxWrapped), "alice"},
		{"space inside", strings.Replace(w, ".", ". ", 1), "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := unwrap(t, k, tc.wrapped, tc.subject); ok {
				t.Errorf("Unwrap(%q, %q) = %q, accepted", tc.wrapped, tc.subject, got)
			}
		})
	}
	for i := range len(w) {
		if got, ok := unwrap(t, k, w[:i], "alice"); ok {
			t.Errorf("truncated to %d: accepted as %q", i, got)
		}
	}
	if got, ok := unwrap(t, sameKeyOtherResource, w, "alice"); ok {
		t.Errorf("another resource holding the same key accepted the id as %q", got)
	}
	for _, bad := range []string{"", "a b", "a\x7f", "é", strings.Repeat("x", MaxBackendID+1)} {
		if _, err := k.Wrap(context.Background(), bad, "alice"); err != ErrBackendID {
			t.Errorf("Wrap(%q) = %v, want ErrBackendID", bad, err)
		}
	}
}

// padded is the wrapped id of backendID with its id part padded.
func padded(t *testing.T, k *Keyring, backendID string) string {
	p := strings.Split(wrap(t, k, backendID, "alice"), ".")
	p[2] = base64.URLEncoding.EncodeToString([]byte(backendID))
	return strings.Join(p, ".")
}

// TestRotation: a rotation makes a new key; ids of the replaced key stay
// valid for the overlap and no longer; a replica that has not noticed the
// rotation yet reads it from storage when it meets the new key id.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	const rotation, overlap = 10 * time.Hour, 5 * time.Hour
	a := NewKeyring(fileStorage(t, dir), testResource, rotation, overlap, c.now)
	b := NewKeyring(fileStorage(t, dir), testResource, rotation, overlap, c.now)
	old := wrap(t, a, "s-old", "alice")
	if _, ok := unwrap(t, b, old, "alice"); !ok {
		t.Fatal("b does not accept a's id")
	}

	c.advance(rotation)
	fresh := wrap(t, a, "s-new", "alice") // a rotates
	if strings.Split(fresh, ".")[1] == strings.Split(old, ".")[1] {
		t.Fatal("no new key after the rotation period")
	}
	if _, ok := unwrap(t, b, fresh, "alice"); !ok {
		t.Error("b does not accept the new key's id")
	}
	c.advance(overlap - time.Second)
	if _, ok := unwrap(t, b, old, "alice"); !ok {
		t.Error("the old key's id is refused within the overlap")
	}
	c.advance(2 * time.Second)
	for name, k := range map[string]*Keyring{"a": a, "b": b, "restarted": NewKeyring(fileStorage(t, dir), testResource, rotation, overlap, c.now)} {
		if _, ok := unwrap(t, k, old, "alice"); ok {
			t.Errorf("%s accepts the old key's id past the overlap", name)
		}
		if _, ok := unwrap(t, k, fresh, "alice"); !ok {
			t.Errorf("%s refuses the current key's id", name)
		}
	}
	// Two more rotations drop the first key from storage altogether.
	c.advance(rotation)
	wrap(t, a, "x", "alice")
	c.advance(rotation)
	wrap(t, a, "x", "alice")
	if n := len(a.keys); n > 2 {
		t.Errorf("the ring holds %d keys, want at most the current and one in its overlap", n)
	}
}

// TestKeyCreationRace: replicas starting together on one storage create
// exactly one key: every replica's id verifies at every other.
func TestKeyCreationRace(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		const n = 4
		rings := make([]*Keyring, n)
		for i := range rings {
			rings[i] = NewKeyring(fileStorage(t, dir), testResource, 0, 0, nil)
		}
		ids := make([]string, n)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range rings {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				ids[i], _ = rings[i].Wrap(context.Background(), "s", "alice")
			}()
		}
		start.Done()
		done.Wait()
		keyIDs := map[string]bool{}
		for i, w := range ids {
			if w == "" {
				t.Fatalf("round %d: replica %d could not wrap", round, i)
			}
			keyIDs[strings.Split(w, ".")[1]] = true
			for j, k := range rings {
				if _, ok := unwrap(t, k, w, "alice"); !ok {
					t.Errorf("round %d: replica %d refuses replica %d's id", round, j, i)
				}
			}
		}
		if len(keyIDs) != 1 {
			t.Errorf("round %d: %d keys created, want 1", round, len(keyIDs))
		}
	}
}

// TestRotationFailureKeepsRing: a rotation that cannot be stored (storage
// read-only) keeps the current key in use instead of refusing sessions.
func TestRotationFailureKeepsRing(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	k := NewKeyring(fileStorage(t, dir), testResource, time.Hour, time.Hour, c.now)
	w := wrap(t, k, "s", "alice")
	var warned int
	k.storage = readOnly{k.storage}
	k.Warn = func(error) { warned++ }
	c.advance(time.Hour)
	if again := wrap(t, k, "s", "alice"); again != w {
		t.Errorf("after a failed rotation the id is %q, want the current key's %q", again, w)
	}
	wrap(t, k, "s", "alice") // no second attempt within the retry delay
	if _, ok := unwrap(t, k, w, "alice"); !ok || warned != 1 {
		t.Errorf("accepted %v, %d warnings; want accepted and one warning", ok, warned)
	}
}

// readOnly refuses writes and locks, as a read-only storage.
type readOnly struct{ certmagic.Storage }

func (readOnly) Lock(context.Context, string) error { return errReadOnly }
func (readOnly) Store(context.Context, string, []byte) error {
	return errReadOnly
}

var errReadOnly = errors.New("read-only file system")

// TestCorruptRingReplaced: an unreadable ring is replaced, not a reason to
// refuse every session forever.
func TestCorruptRingReplaced(t *testing.T) {
	st := fileStorage(t, "")
	k := NewKeyring(st, testResource, 0, 0, nil)
	if err := st.Store(context.Background(), k.storageKey(), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	w := wrap(t, k, "s", "alice")
	if _, ok := unwrap(t, NewKeyring(st, testResource, 0, 0, nil), w, "alice"); !ok {
		t.Error("the replacement ring was not stored")
	}
}

// FuzzUnwrap: no input panics, and the only strings accepted are exactly
// those Wrap writes for the subject (one key, so one form per id).
func FuzzUnwrap(f *testing.F) {
	k := NewKeyring(fileStorage(f, ""), testResource, 0, 0, nil)
	for _, id := range []string{"mcp-session-1", "a.b", "x"} {
		w := wrap(f, k, id, "alice")
		f.Add(w, "alice")
		f.Add(w, "bob")
		f.Add(w[:len(w)-1], "alice")
	}
	f.Add("sg1..", "")
	f.Add("sg1.a.b.c", "alice")
	f.Fuzz(func(t *testing.T, wrapped, subject string) {
		id, ok, err := k.Unwrap(context.Background(), wrapped, subject)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if again := wrap(t, k, id, subject); again != wrapped {
			t.Fatalf("accepted %q for %q, but Wrap writes %q", wrapped, subject, again)
		}
	})
}
