package sessionbind

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// The session keys of one resource live in Caddy storage, so every
// replica sharing that storage signs and verifies with the same keys and a
// restart keeps them. A ring holds the current key (newest) and the keys it
// replaced within the overlap: a wrapped id made with the previous key
// stays valid for at least the overlap after a rotation.
const (
	// DefaultRotation is how long a key signs new ids before the next one
	// replaces it.
	DefaultRotation = 24 * time.Hour
	// DefaultOverlap is how long a replaced key is still accepted.
	DefaultOverlap = 24 * time.Hour

	keyBytes = 32
	// refreshEvery bounds the storage reads an unknown key id causes: a
	// client sending made-up key ids must not turn every request into a
	// storage read.
	refreshEvery = time.Second
	// rotationRetry spaces the attempts after a failed rotation.
	rotationRetry = time.Minute
	// lockTimeout bounds waiting for another replica's storage lock.
	lockTimeout = 20 * time.Second
)

// sessionKey is one key of the ring, as stored.
type sessionKey struct {
	ID      string `json:"id"`
	Secret  []byte `json:"secret"`
	Created int64  `json:"created"` // Unix seconds
}

// ringFile is the stored ring, newest key first.
type ringFile struct {
	Resource string       `json:"resource"`
	Keys     []sessionKey `json:"keys"`
}

// Keyring is the key ring of one resource, loaded from storage on first
// use, created there (once, under a storage lock) if absent, and rotated
// there when its current key is older than the rotation period. It is safe
// for concurrent use.
type Keyring struct {
	storage  certmagic.Storage
	resource string
	rotation time.Duration
	overlap  time.Duration
	now      func() time.Time

	// Warn, if set, hears of failures that do not stop the ring from
	// working (a failed rotation).
	Warn func(error)

	mu           sync.Mutex
	keys         []sessionKey // newest first; nil until loaded
	loaded       time.Time    // last read of storage
	nextRotation time.Time    // no rotation attempt before this, after a failed one
}

// NewKeyring returns the ring of resource kept in storage. rotation and
// overlap of 0 take the defaults; now nil means time.Now.
func NewKeyring(storage certmagic.Storage, resource string, rotation, overlap time.Duration, now func() time.Time) *Keyring {
	if rotation <= 0 {
		rotation = DefaultRotation
	}
	if overlap <= 0 {
		overlap = DefaultOverlap
	}
	if now == nil {
		now = time.Now
	}
	return &Keyring{storage: storage, resource: resource, rotation: rotation, overlap: overlap, now: now}
}

// storageKey names the ring of the resource; the resource's hash keeps odd
// characters out of storage paths.
func (k *Keyring) storageKey() string {
	sum := sha256.Sum256([]byte(k.resource))
	return "mcp_gateway/session_keys/" + hex.EncodeToString(sum[:16]) + ".json"
}

// current returns the key that signs new ids, loading, creating or
// rotating the ring as needed.
func (k *Keyring) current(ctx context.Context) (sessionKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.ensure(ctx); err != nil {
		return sessionKey{}, err
	}
	return k.keys[0], nil
}

// Ready loads or creates the ring, so that a session about to be created
// can be wrapped.
func (k *Keyring) Ready(ctx context.Context) error {
	_, err := k.current(ctx)
	return err
}

// accepted returns the key named id if it may still verify ids: the
// current key, or one replaced less than the overlap ago. A key id the
// ring does not know makes it read storage again (at most once per
// refreshEvery): another replica may have rotated.
func (k *Keyring) accepted(ctx context.Context, id string) (sessionKey, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.ensure(ctx); err != nil {
		return sessionKey{}, false, err
	}
	key, ok := k.find(id)
	if !ok && k.now().Sub(k.loaded) >= refreshEvery {
		if err := k.load(ctx); err != nil && k.keys == nil {
			return sessionKey{}, false, err
		}
		key, ok = k.find(id)
	}
	return key, ok, nil
}

// find looks id up among the keys still accepted.
func (k *Keyring) find(id string) (sessionKey, bool) {
	now := k.now()
	for i, key := range k.keys {
		if key.ID != id {
			continue
		}
		// Replaced when its successor was created.
		if i == 0 || now.Before(time.Unix(k.keys[i-1].Created, 0).Add(k.overlap)) {
			return key, true
		}
		return sessionKey{}, false
	}
	return sessionKey{}, false
}

// ensure makes k.keys hold a ring whose current key is not due for
// rotation. Called with k.mu held.
func (k *Keyring) ensure(ctx context.Context) error {
	if k.keys == nil {
		if err := k.load(ctx); err != nil && !errors.Is(err, errNoRing) && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if k.keys == nil {
		return k.createOrRotate(ctx)
	}
	if !k.due() || k.now().Before(k.nextRotation) {
		return nil
	}
	// A rotation that fails (storage read-only or down) keeps the ring
	// in use, and is tried again a minute later, not on every request.
	if err := k.createOrRotate(ctx); err != nil {
		k.nextRotation = k.now().Add(rotationRetry)
		if k.Warn != nil {
			k.Warn(fmt.Errorf("rotating the session keys failed; the current key stays in use: %w", err))
		}
	}
	return nil
}

// due reports whether the current key is older than the rotation period.
func (k *Keyring) due() bool {
	return !k.now().Before(time.Unix(k.keys[0].Created, 0).Add(k.rotation))
}

// errNoRing marks a stored ring that is unusable (malformed, or another
// resource's): it is replaced, as if absent.
var errNoRing = errors.New("stored session keys are unusable")

// load reads the ring from storage. A ring that cannot be read is reported
// and the ring in memory kept.
func (k *Keyring) load(ctx context.Context) error {
	k.loaded = k.now()
	raw, err := k.storage.Load(ctx, k.storageKey())
	if err != nil {
		return err
	}
	var f ringFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("%w: %v", errNoRing, err)
	}
	if f.Resource != k.resource || len(f.Keys) == 0 {
		return fmt.Errorf("%w: for another resource, or empty", errNoRing)
	}
	for _, key := range f.Keys {
		if len(key.Secret) != keyBytes || key.ID == "" {
			return fmt.Errorf("%w: a key is malformed", errNoRing)
		}
	}
	k.keys = f.Keys
	return nil
}

// createOrRotate creates the ring, or adds a new current key to it, under
// a storage lock so that replicas starting or rotating together make one
// key: after taking the lock it reads the ring again, and changes nothing
// if another replica already did the work.
func (k *Keyring) createOrRotate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	lock := k.storageKey() + ".lock"
	if err := k.storage.Lock(ctx, lock); err != nil {
		return fmt.Errorf("locking the session keys in storage: %w", err)
	}
	defer k.storage.Unlock(context.WithoutCancel(ctx), lock)
	switch err := k.load(ctx); {
	case err == nil:
		if !k.due() {
			return nil
		}
	case errors.Is(err, errNoRing) || errors.Is(err, fs.ErrNotExist):
	default:
		// Storage that cannot be read now may hold a good ring: never
		// overwrite it blindly.
		return err
	}
	// Absent, unreadable or due: a new current key. Keys replaced more
	// than the overlap ago are dropped.
	key, err := newKey(k.keys)
	if err != nil {
		return err
	}
	key.Created = k.now().Unix()
	ring := []sessionKey{key}
	for i, old := range k.keys {
		successor := key.Created
		if i > 0 {
			successor = k.keys[i-1].Created
		}
		if k.now().Before(time.Unix(successor, 0).Add(k.overlap)) {
			ring = append(ring, old)
		}
	}
	raw, _ := json.Marshal(ringFile{Resource: k.resource, Keys: ring})
	if err := k.storage.Store(ctx, k.storageKey(), raw); err != nil {
		return fmt.Errorf("storing the session keys: %w", err)
	}
	k.keys = ring
	return nil
}

// newKey makes a random key whose id differs from those of ring.
func newKey(ring []sessionKey) (sessionKey, error) {
	for {
		var id [4]byte
		key := sessionKey{Secret: make([]byte, keyBytes)}
		if _, err := rand.Read(id[:]); err != nil {
			return key, err
		}
		if _, err := rand.Read(key.Secret); err != nil {
			return key, err
		}
		key.ID = hex.EncodeToString(id[:])
		taken := false
		for _, old := range ring {
			taken = taken || old.ID == key.ID
		}
		if !taken {
			return key, nil
		}
	}
}
