package storage

import (
	"fmt"
	"strings"
)

// Federated principals (SPEC §8, §8a). Principals live outside every
// account, by type:
//
//	fed/{type}/{id}               principal record (Principal): its
//	                              provider's account, the provider, the
//	                              subject, and the linked user, if any
//	fedattr/{type}/{id}/{name}    one attribute (PrincipalAttribute): its
//	                              name as the source spelled it and its
//	                              values
//	t/{a}/fed/{u}/{id}            the user side of the link
//	                              (FederatedLink): the principal's type and
//	                              the groups and roles rules granted
//	                              through it
//
// Ids and attribute names are used in keys as given and must not hold
// "/" (ErrInvalid); package federation escapes them. The user side of a
// link goes with the user (it is in owned[KindUser]) and with its
// account; the principal side is left dangling then, like the API key
// index: whoever reads a link checks that the user still exists, and a
// principal whose user is gone is unlinked.
//
// Memberships granted by rules are recorded on the user side of the link
// they were granted through (FederatedLink.RuleGroups, RuleRoles), so the
// next federated sign-in can take back what no longer matches and leave
// alone what an administrator gave by hand. The writes are the caller's:
// the resolution builds one Store.Update with the Txn methods below.

func init() {
	// A user's links go with the user (DeleteItem removes owned sets).
	owned[KindUser] = append(owned[KindUser], KindFederated)
}

// principalKey is the key of principal id of type typ.
func principalKey(typ, id string) string { return FederatedRange + typ + "/" + id }

// principalsRange is the range of the principals of type typ.
func principalsRange(typ string) string { return FederatedRange + typ + "/" }

// principalAttrRange is the range of principal id's attributes.
func principalAttrRange(typ, id string) string { return FederatedAttrRange + typ + "/" + id + "/" }

// Principal is the stored part of a federated principal.
type Principal struct {
	Account  string // the provider's account
	Provider string // "" for e-mail principals
	Subject  string
	// LinkAccount and LinkUser name the local user the principal is
	// linked to ("" when none). The user may since have been deleted.
	LinkAccount, LinkUser string
}

// Encode returns the compact stored form.
func (p Principal) Encode() string {
	return encodeFields(fields{p.Account, p.Provider, p.Subject, p.LinkAccount, p.LinkUser})
}

// DecodePrincipal reads a Principal record.
func DecodePrincipal(v string) (Principal, error) {
	var f [5]string
	if err := decodeFields(v, f[:]); err != nil {
		return Principal{}, err
	}
	return Principal{Account: f[0], Provider: f[1], Subject: f[2], LinkAccount: f[3], LinkUser: f[4]}, nil
}

// PrincipalAttribute is one attribute of a principal.
type PrincipalAttribute struct {
	Name   string // as the source spelled it
	Values []string
}

// Encode returns the compact stored form.
func (a PrincipalAttribute) Encode() string {
	f := make(fields, 0, 1+len(a.Values))
	f = append(f, a.Name)
	return encodeFields(append(f, a.Values...))
}

// DecodePrincipalAttribute reads a PrincipalAttribute record.
func DecodePrincipalAttribute(v string) (PrincipalAttribute, error) {
	n, err := countFields(v)
	if err != nil || n == 0 {
		return PrincipalAttribute{}, fmt.Errorf("record: principal attribute: %v", err)
	}
	f := make([]string, n)
	if err := decodeFields(v, f); err != nil {
		return PrincipalAttribute{}, err
	}
	return PrincipalAttribute{Name: f[0], Values: f[1:]}, nil
}

// countFields counts the fields of record v.
func countFields(v string) (int, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return 0, fmt.Errorf("record: unknown version")
	}
	n := 0
	for rest := v[1:]; len(rest) > 0; n++ {
		l, k := uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < l {
			return 0, fmt.Errorf("record: truncated field %d", n)
		}
		rest = rest[k+int(l):]
	}
	return n, nil
}

// FederatedLink is the user side of a principal's link.
type FederatedLink struct {
	Type string
	// RuleGroups and RuleRoles are the memberships account rules granted
	// through this link, and only those: a membership the user already
	// had is not recorded, so it is never taken back.
	RuleGroups, RuleRoles []string
}

// Encode returns the compact stored form.
func (l FederatedLink) Encode() string {
	return encodeFields(fields{l.Type, joinLines(l.RuleGroups), joinLines(l.RuleRoles)})
}

// DecodeFederatedLink reads a FederatedLink record.
func DecodeFederatedLink(v string) (FederatedLink, error) {
	var f [3]string
	if err := decodeFields(v, f[:]); err != nil {
		return FederatedLink{}, err
	}
	return FederatedLink{Type: f[0], RuleGroups: splitLines(f[1]), RuleRoles: splitLines(f[2])}, nil
}

// UserFederated is the collection of user u's links to principals:
// member names are principal ids, values FederatedLink records.
func UserFederated(a, u string) Coll { return Coll{Account: a, Kind: KindFederated, Owner: u} }

// validPrincipalPart refuses what cannot be a key segment.
func validPrincipalPart(what, s string) error {
	if s == "" || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("%w: %s %q is empty or holds \"/\"", ErrInvalid, what, s)
	}
	return nil
}

// Principal returns principal id of type typ.
func (v View) Principal(typ, id string) (Principal, bool) {
	if validPrincipalPart("type", typ) != nil || validPrincipalPart("id", id) != nil {
		return Principal{}, false
	}
	val, ok := v.Get(principalKey(typ, id))
	if !ok {
		return Principal{}, false
	}
	p, err := DecodePrincipal(val)
	return p, err == nil
}

// PrincipalCount is the number of principals of type typ.
func (v View) PrincipalCount(typ string) int {
	if validPrincipalPart("type", typ) != nil {
		return 0
	}
	return v.CountRange(principalsRange(typ))
}

// PrincipalsPage is Page over the ids of the principals of type typ; a
// non-empty pattern filters them with match (see FilterPage).
func (v View) PrincipalsPage(typ, pattern string, match func(id string) bool, offset, limit int) ([]string, int) {
	if validPrincipalPart("type", typ) != nil {
		return nil, 0
	}
	if pattern == "" {
		return v.PageRange(principalsRange(typ), offset, limit)
	}
	return v.FilterPageRange(principalsRange(typ), pattern, match, offset, limit)
}

// EachPrincipal calls fn with every principal of type typ, in id order,
// until fn returns false.
func (v View) EachPrincipal(typ string, fn func(id string, p Principal) bool) {
	if validPrincipalPart("type", typ) != nil {
		return
	}
	v.EachRange(principalsRange(typ), func(id, val string) bool {
		p, err := DecodePrincipal(val)
		if err != nil {
			return true
		}
		return fn(id, p)
	})
}

// PrincipalAttributeCount is the number of attributes of principal id.
func (v View) PrincipalAttributeCount(typ, id string) int {
	if validPrincipalPart("type", typ) != nil || validPrincipalPart("id", id) != nil {
		return 0
	}
	return v.CountRange(principalAttrRange(typ, id))
}

// PrincipalAttributesPage is Page over the names of principal id's
// attributes (as stored); a non-empty pattern filters them with match.
func (v View) PrincipalAttributesPage(typ, id, pattern string, match func(name string) bool, offset, limit int) ([]string, int) {
	if validPrincipalPart("type", typ) != nil || validPrincipalPart("id", id) != nil {
		return nil, 0
	}
	if pattern == "" {
		return v.PageRange(principalAttrRange(typ, id), offset, limit)
	}
	return v.FilterPageRange(principalAttrRange(typ, id), pattern, match, offset, limit)
}

// PrincipalAttribute returns attribute name of principal id with a
// stable numeric id (its key's create revision).
func (v View) PrincipalAttribute(typ, id, name string) (attr PrincipalAttribute, num int64, ok bool) {
	if validPrincipalPart("type", typ) != nil || validPrincipalPart("id", id) != nil || validPrincipalPart("name", name) != nil {
		return PrincipalAttribute{}, 0, false
	}
	key := principalAttrRange(typ, id) + name
	val, ok := v.Get(key)
	if !ok {
		return PrincipalAttribute{}, 0, false
	}
	attr, err := DecodePrincipalAttribute(val)
	if err != nil {
		return PrincipalAttribute{}, 0, false
	}
	return attr, v.CreateRevision(key), true
}

// EachPrincipalAttribute calls fn with every attribute of principal id,
// in stored-name order, until fn returns false.
func (v View) EachPrincipalAttribute(typ, id string, fn func(name string, attr PrincipalAttribute) bool) {
	if validPrincipalPart("type", typ) != nil || validPrincipalPart("id", id) != nil {
		return
	}
	v.EachRange(principalAttrRange(typ, id), func(name, val string) bool {
		attr, err := DecodePrincipalAttribute(val)
		if err != nil {
			return true
		}
		return fn(name, attr)
	})
}

// FederatedLink returns the user side of user u's link to principal id.
func (v View) FederatedLink(a, u, id string) (FederatedLink, bool) {
	val, ok := v.Member(UserFederated(a, u), id)
	if !ok {
		return FederatedLink{}, false
	}
	l, err := DecodeFederatedLink(val)
	return l, err == nil
}

// PutPrincipal writes principal id of type typ, unguarded: the build
// that calls it guards what it relies on (reading the principal through
// the transaction's guarded view does).
func (t *Txn) PutPrincipal(typ, id string, p Principal) error {
	if err := validPrincipalPart("type", typ); err != nil {
		return err
	}
	if err := validPrincipalPart("id", id); err != nil {
		return err
	}
	t.Put(principalKey(typ, id), p.Encode())
	return nil
}

// ReplacePrincipalAttributes makes principal id hold exactly attrs (stored
// name → attribute), guarded: every attribute it reads, kept or not, and
// the range against additions. Unchanged attributes are not rewritten.
func (t *Txn) ReplacePrincipalAttributes(typ, id string, attrs map[string]PrincipalAttribute) error {
	if err := validPrincipalPart("type", typ); err != nil {
		return err
	}
	if err := validPrincipalPart("id", id); err != nil {
		return err
	}
	for name := range attrs {
		if err := validPrincipalPart("attribute name", name); err != nil {
			return err
		}
	}
	prefix := principalAttrRange(typ, id)
	t.ExpectNoNew(prefix)
	seen := make(map[string]bool, len(attrs))
	t.v.EachRange(prefix, func(name, old string) bool {
		t.Expect(prefix + name)
		seen[name] = true
		if a, keep := attrs[name]; !keep {
			t.Delete(prefix + name)
		} else if val := a.Encode(); val != old {
			t.Put(prefix+name, val)
		}
		return true
	})
	for name, a := range attrs {
		if !seen[name] {
			t.Expect(prefix + name)
			t.Put(prefix+name, a.Encode())
		}
	}
	return nil
}

// DeleteMember deletes member name of c, unguarded (see PutMember). c
// must name a collection.
func (t *Txn) DeleteMember(c Coll, name string) {
	k := c.key(name)
	if k == "" {
		panic(fmt.Sprintf("storage: DeleteMember from %+v, which names no collection", c))
	}
	t.Delete(k)
}
