package storage

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Passkeys (WebAuthn credentials, SPEC §3c; the ceremonies are package
// passkey's). The layout, relative to the prefix:
//
//	t/{a}/passkey/{u}/{id}  passkey id of user u (Passkey)
//	t/{a}/pkuser/{u}        user u's WebAuthn user handle (base64url of
//	                        32 random bytes, drawn on the first
//	                        registration; never the user name)
//	pkidx/{id}              passkey index: id → "{a}\{u}"
//
// A passkey's id is PasskeyID(credential ID): the unpadded base64url of
// the first 16 bytes of the SHA-256 of the credential ID (a credential
// ID may be up to 1023 bytes; the id is a short name for paths and keys).
// The index entry is unique: CreatePasskey is guarded on it being absent
// (or dangling, its record gone), so a credential belongs to one user
// only, across accounts and instances.
//
// Deleting the user (DeleteItem) removes the records, the handle and the
// index entries pointing at the user in the same transaction
// (dropPasskeys, guarded against a passkey added meanwhile). Deleting an
// account removes the records and handles with the tenant range and
// leaves the index entries dangling, like API keys' (see apikey.go):
// PasskeyOwner always loads the record through the index, and a missing
// record is an unknown credential.
//
// Sign counters only move forward: UsePasskey writes the counter an
// assertion reported, guarded on the record as read, and refuses a
// counter that is not above the stored one (unless both are zero: an
// authenticator without a counter), so of two assertions racing on two
// instances at most the one with the higher counter lands.

// Passkey kinds.
const (
	// KindPasskey is a user's passkeys: SubKey(a, KindPasskey, u, id).
	KindPasskey = "passkey"
	// KindPasskeyUser is a user's WebAuthn user handle: the single key
	// ItemKey(a, KindPasskeyUser, u).
	KindPasskeyUser = "pkuser"
)

// PasskeyID is the id of the passkey with credential ID cred.
func PasskeyID(cred []byte) string {
	sum := sha256.Sum256(cred)
	return b64.EncodeToString(sum[:16])
}

// PasskeyIndexRange holds the id → owner index of passkeys.
const PasskeyIndexRange = "pkidx/"

// PasskeyIndexKey is the index entry of passkey id.
func PasskeyIndexKey(id string) string { return PasskeyIndexRange + id }

// Passkey is the stored part of a passkey; its owner and id are its key.
type Passkey struct {
	CredentialID    []byte
	PublicKey       []byte // COSE key
	SignCount       uint32
	AAGUID          []byte
	Transports      []string
	Flags           PasskeyFlags
	AttestationType string
	Attachment      string
	Name            string
	Created         int64 // Unix seconds
	LastUsed        int64 // Unix seconds; 0: never used to sign in
}

// PasskeyFlags are the credential flags WebAuthn keeps per credential.
type PasskeyFlags struct {
	UserPresent, UserVerified, BackupEligible, BackupState bool
}

func (f PasskeyFlags) encode() string {
	b := []byte("----")
	for i, on := range []bool{f.UserPresent, f.UserVerified, f.BackupEligible, f.BackupState} {
		if on {
			b[i] = "PVEB"[i]
		}
	}
	return string(b)
}

func decodePasskeyFlags(s string) PasskeyFlags {
	at := func(i int) bool { return len(s) > i && s[i] != '-' }
	return PasskeyFlags{UserPresent: at(0), UserVerified: at(1), BackupEligible: at(2), BackupState: at(3)}
}

var b64 = base64.RawURLEncoding

// Encode returns the compact stored form.
func (p Passkey) Encode() string {
	return encodeFields(fields{b64.EncodeToString(p.CredentialID), b64.EncodeToString(p.PublicKey),
		strconv.FormatUint(uint64(p.SignCount), 10), b64.EncodeToString(p.AAGUID),
		strings.Join(p.Transports, ","), p.Flags.encode(), p.AttestationType, p.Attachment, p.Name,
		strconv.FormatInt(p.Created, 10), strconv.FormatInt(p.LastUsed, 10)})
}

// DecodePasskey reads a Passkey record.
func DecodePasskey(v string) (Passkey, error) {
	var f [11]string
	if err := decodeFields(v, f[:]); err != nil {
		return Passkey{}, err
	}
	var p Passkey
	var err error
	if p.CredentialID, err = b64.DecodeString(f[0]); err != nil || len(p.CredentialID) == 0 {
		return Passkey{}, fmt.Errorf("passkey record: bad credential id")
	}
	if p.PublicKey, err = b64.DecodeString(f[1]); err != nil {
		return Passkey{}, fmt.Errorf("passkey record: bad public key")
	}
	n, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return Passkey{}, fmt.Errorf("passkey record: bad sign count")
	}
	p.SignCount = uint32(n)
	if p.AAGUID, err = b64.DecodeString(f[3]); err != nil {
		return Passkey{}, fmt.Errorf("passkey record: bad AAGUID")
	}
	if len(p.AAGUID) == 0 {
		p.AAGUID = nil
	}
	if f[4] != "" {
		p.Transports = strings.Split(f[4], ",")
	}
	p.Flags = decodePasskeyFlags(f[5])
	p.AttestationType, p.Attachment, p.Name = f[6], f[7], f[8]
	p.Created, _ = strconv.ParseInt(f[9], 10, 64)
	p.LastUsed, _ = strconv.ParseInt(f[10], 10, 64)
	if len(p.PublicKey) == 0 {
		p.PublicKey = nil
	}
	return p, nil
}

// Passkeys is the collection of user u's passkeys.
func Passkeys(a, u string) Coll { return Coll{Account: a, Kind: KindPasskey, Owner: u} }

// Passkey returns passkey id of user u.
func (v View) Passkey(a, u, id string) (Passkey, bool) {
	val, ok := v.Get(SubKey(a, KindPasskey, u, id))
	if !ok {
		return Passkey{}, false
	}
	p, err := DecodePasskey(val)
	return p, err == nil
}

// PasskeyIDs lists the ids of user u's passkeys in key order.
func (v View) PasskeyIDs(a, u string) []string {
	return v.NamesRange(SubRange(a, KindPasskey, u))
}

// HasPasskey reports whether user u has at least one passkey.
func (v View) HasPasskey(a, u string) bool {
	// Asked at every sign-in: Count builds the range without allocating.
	return v.Count(Coll{Account: a, Kind: KindPasskey, Owner: u}) > 0
}

// PasskeyHandle returns user u's WebAuthn user handle, if one was drawn.
func (v View) PasskeyHandle(a, u string) ([]byte, bool) {
	val, ok := v.getItem(a, KindPasskeyUser, u)
	if !ok {
		return nil, false
	}
	h, err := b64.DecodeString(val)
	return h, err == nil && len(h) > 0
}

// PasskeyOwner finds the owner of passkey id through the index; ok is
// false when the index entry or the record is missing (a deleted
// passkey, or one whose user or account was deleted).
func (v View) PasskeyOwner(id string) (a, u string, p Passkey, ok bool) {
	owner, found := v.Get(PasskeyIndexKey(id))
	if !found {
		return "", "", Passkey{}, false
	}
	a, u, split := strings.Cut(owner, `\`)
	if !split {
		return "", "", Passkey{}, false
	}
	p, ok = v.Passkey(a, u, id)
	return a, u, p, ok
}

// EnsurePasskeyHandle returns user u's WebAuthn user handle, storing
// handle as it when the user has none yet (a write guarded on the user
// and on the handle's absence: of two racing first registrations, both
// get the handle that was stored).
func (s *Store) EnsurePasskeyHandle(ctx context.Context, a, u string, handle []byte) ([]byte, error) {
	if len(handle) == 0 || len(handle) > 64 {
		return nil, fmt.Errorf("%w: a user handle is 1 to 64 bytes", ErrInvalid)
	}
	var out []byte
	_, err := s.Update(ctx, func(v View, t *Txn) error {
		out = nil
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		key := ItemKey(a, KindPasskeyUser, u)
		if h, ok := v.PasskeyHandle(a, u); ok {
			out = h
			return nil
		}
		t.Expect(key)
		t.Put(key, b64.EncodeToString(handle))
		out = handle
		return nil
	})
	return out, err
}

// CreatePasskey stores passkey p of user u under id with its index
// entry, in one transaction guarded on the user existing, its handle
// being handle (a registration begun before the user was deleted and
// created again does not land on the new user), and the index entry
// being absent or dangling: ErrNameTaken when the credential is already
// registered (to this user or another).
func (s *Store) CreatePasskey(ctx context.Context, a, u, id string, handle []byte, p Passkey) (int64, error) {
	if err := ValidName(id); err != nil {
		return 0, fmt.Errorf("%w: passkey id: %v", ErrInvalid, err)
	}
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		t.Expect(ItemKey(a, KindPasskeyUser, u))
		if h, ok := v.PasskeyHandle(a, u); !ok || string(h) != string(handle) {
			return fmt.Errorf("%w: the user handle of user %q changed during the registration", ErrConflict, u)
		}
		idx := PasskeyIndexKey(id)
		t.Expect(idx)
		if owner, ok := v.Get(idx); ok {
			oa, ou, _ := strings.Cut(owner, `\`)
			key := SubKey(oa, KindPasskey, ou, id)
			t.Expect(key)
			if v.Has(key) {
				return fmt.Errorf("passkey %q: %w", id, ErrNameTaken)
			}
		}
		key := SubKey(a, KindPasskey, u, id)
		t.Expect(key)
		if v.Has(key) {
			return fmt.Errorf("passkey %q: %w", id, ErrNameTaken)
		}
		t.Put(key, p.Encode())
		t.Put(idx, a+`\`+u)
		return nil
	})
}

// ErrCounter is returned by UsePasskey when an assertion's sign counter
// is not above the stored one: a cloned authenticator, or a racing
// sign-in with the same credential.
var ErrCounter = fmt.Errorf("%w: the passkey's sign counter did not advance", ErrConflict)

// UsePasskey records a sign-in with passkey id of user u: its new sign
// counter and flags, and the time of use. It is guarded on the record
// as read; a counter that does not advance (and is not zero on both
// sides) is ErrCounter and nothing is written; a passkey or user gone
// meanwhile is ErrNotFound.
func (s *Store) UsePasskey(ctx context.Context, a, u, id string, count uint32, flags PasskeyFlags, at int64) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		if err := expectItem(v, t, a, KindUser, u); err != nil {
			return err
		}
		key := SubKey(a, KindPasskey, u, id)
		p, ok := v.Passkey(a, u, id)
		if !ok {
			return notFound(fmt.Sprintf("passkey %q of user %q", id, u))
		}
		t.Expect(key)
		if (count != 0 || p.SignCount != 0) && count <= p.SignCount {
			return fmt.Errorf("passkey %q of user %q: stored %d, presented %d: %w", id, u, p.SignCount, count, ErrCounter)
		}
		p.SignCount, p.Flags, p.LastUsed = count, flags, at
		t.Put(key, p.Encode())
		return nil
	})
}

// DeletePasskey removes passkey id of user u with its index entry
// (ErrNotFound when absent).
func (s *Store) DeletePasskey(ctx context.Context, a, u, id string) (int64, error) {
	return s.Update(ctx, func(v View, t *Txn) error {
		key := SubKey(a, KindPasskey, u, id)
		if !v.Has(key) {
			return notFound(fmt.Sprintf("passkey %q of user %q", id, u))
		}
		t.Expect(key)
		t.Delete(key)
		dropIndexEntry(v, t, a, u, id)
		return nil
	})
}

// dropIndexEntry deletes the index entry of passkey id when it points
// at user u (guarded on it).
func dropIndexEntry(v View, t *Txn, a, u, id string) {
	idx := PasskeyIndexKey(id)
	if owner, ok := v.Get(idx); ok && owner == a+`\`+u {
		t.Expect(idx)
		t.Delete(idx)
	}
}

// dropPasskeys adds to the deletion of item name of kind, when it is a
// user, the removal of its passkeys, their index entries and its user
// handle. The range is guarded against additions, so a passkey
// registered between the view and the commit fails the delete, which is
// rebuilt and removes it too.
func dropPasskeys(v View, t *Txn, a, kind, name string) {
	if kind != KindUser {
		return
	}
	r := SubRange(a, KindPasskey, name)
	t.ExpectNoNew(r)
	v.EachRange(r, func(id, _ string) bool {
		dropIndexEntry(v, t, a, name, id)
		return true
	})
	if v.CountRange(r) > 0 {
		t.DeleteRange(r)
	}
	// Unconditionally: a handle drawn after the view does not touch the
	// user's key, so no guard would see it.
	t.Delete(ItemKey(a, KindPasskeyUser, name))
}
