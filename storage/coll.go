package storage

import (
	"fmt"
	"strings"
	"unsafe"
)

// Coll names one stored collection by what it is; the callers of this
// package never build keys (see doc.go, "Naming what is stored"):
//
//	Coll{Account: a, Kind: KindUser}            a's users; likewise KindRole,
//	                                            KindGroup, KindRule,
//	                                            KindCeiling, KindChild
//	Coll{Account: a, Kind: KindAttr, Owner: u}  u's attributes; likewise
//	                                            KindAPIKey, KindClient and
//	                                            KindFederated of a user,
//	                                            KindRolePerm of a role
//	l.Of(a, from)                               what from holds through l
//	AllAccounts(), RootRules()                  the two outside any account
//
// The zero Coll names nothing: reads of it find nothing and writes to it
// are refused.
type Coll struct {
	Account string // "" only for AllAccounts and RootRules
	Kind    string
	Owner   string // the owning item, for the kinds an item owns
}

// kindAccounts is the Kind of AllAccounts.
const kindAccounts = "acct"

// AllAccounts is the collection of every account.
func AllAccounts() Coll { return Coll{Kind: kindAccounts} }

// RootRules is the collection of root federation rules (/accounts/rules).
func RootRules() Coll { return Coll{Kind: KindRule} }

// Of is the collection of what from holds through l in account a: the
// roles of a user (UserRoles.Of(a, u)), the users of a group
// (GroupUsers.Of(a, g)) …
func (l Link) Of(a, from string) Coll { return Coll{Account: a, Kind: l.Fwd, Owner: from} }

// ownerKinds is the kind of item that owns each per-item collection.
var ownerKinds = map[string]string{
	KindRolePerm:  KindRole,
	KindAttr:      KindUser,
	KindAPIKey:    KindUser,
	KindClient:    KindUser,
	KindFederated: KindUser,
	KindUserRole:  KindUser,
	KindRoleUser:  KindRole,
	KindUserGrp:   KindUser,
	KindGrpUser:   KindGroup,
	KindGrpRole:   KindGroup,
	KindRoleGrp:   KindRole,
}

// prefix is the key range of c's members; "" when c names nothing.
func (c Coll) prefix() string {
	switch {
	case c.Kind == "":
		return ""
	case c.Account == "" && c.Owner == "" && c.Kind == kindAccounts:
		return AccountsRange
	case c.Account == "" && c.Owner == "" && c.Kind == KindRule:
		return RootRulesRange
	case c.Account == "":
		return ""
	case c.Owner == "":
		return ItemRange(c.Account, c.Kind)
	}
	return SubRange(c.Account, c.Kind, c.Owner)
}

// key is the key of member name of c; "" when c names nothing.
func (c Coll) key(name string) string {
	switch {
	case c.Account == "" || c.Kind == "":
		if p := c.prefix(); p != "" {
			return p + name
		}
		return ""
	case c.Owner == "":
		return ItemKey(c.Account, c.Kind, name)
	}
	return SubKey(c.Account, c.Kind, c.Owner, name)
}

// owner is the key of what owns c — the owning item, or the account for
// an account's own collections — and its name in words for a not-found
// error; key is "" when c has no owner (AllAccounts, RootRules, a kind
// no item owns).
func (c Coll) owner() (key, what string) {
	switch {
	case c.Account == "" || c.Kind == "":
		return "", ""
	case c.Owner == "":
		return AccountKey(c.Account), fmt.Sprintf("account %q", c.Account)
	}
	kind, ok := ownerKinds[c.Kind]
	if !ok {
		return "", ""
	}
	return ItemKey(c.Account, kind, c.Owner), fmt.Sprintf("%s %q in account %q", kind, c.Owner, c.Account)
}

// CreatedIn names the member of c among created, the keys a write
// creates (AuditEntry.TargetOf): the audit entry of a POST names the item
// it made. ok is false when none of them is a member of c.
func CreatedIn(c Coll, created []string) (name string, ok bool) {
	prefix := c.prefix()
	if prefix == "" {
		return "", false
	}
	for _, key := range created {
		if name, ok := strings.CutPrefix(key, prefix); ok && name != "" && !strings.Contains(name, "/") {
			return name, true
		}
	}
	return "", false
}

// Count is the number of members of c (CountRange of its range: a
// tracking view folds the same).
func (v View) Count(c Coll) int {
	if !v.keepsKeys() && c.Account != "" && c.Kind != "" && c.Owner != "" {
		// A document counts every collection it links (a user: eight):
		// unless the view keeps keys, the range is built in a pooled
		// buffer.
		bp := keyBufs.Get().(*[]byte)
		b := append((*bp)[:0], "t/"...)
		b = append(b, c.Account...)
		b = append(b, '/')
		b = append(b, c.Kind...)
		b = append(b, '/')
		b = append(b, c.Owner...)
		b = append(b, '/')
		n := v.CountRange(unsafe.String(unsafe.SliceData(b), len(b)))
		*bp = b
		keyBufs.Put(bp)
		return n
	}
	p := c.prefix()
	if p == "" {
		return 0
	}
	return v.CountRange(p)
}

// Each calls fn with the name and value of every member of c, in order,
// until fn returns false.
func (v View) Each(c Coll, fn func(name, value string) bool) {
	if p := c.prefix(); p != "" {
		v.EachRange(p, fn)
	}
}

// Names lists the names of c's members, in order.
func (v View) Names(c Coll) []string {
	p := c.prefix()
	if p == "" {
		return nil
	}
	return v.NamesRange(p)
}

// Page returns up to limit names of c's members starting at offset, and
// how many members c has.
func (v View) Page(c Coll, offset, limit int) (names []string, count int) {
	p := c.prefix()
	if p == "" {
		return nil, 0
	}
	return v.PageRange(p, offset, limit)
}

// FilterPage is Page over the members of c whose names match; pattern
// names the filter for the memo (see FilterPageRange).
func (v View) FilterPage(c Coll, pattern string, match func(name string) bool, offset, limit int) (names []string, count int) {
	p := c.prefix()
	if p == "" {
		return nil, 0
	}
	return v.FilterPageRange(p, pattern, match, offset, limit)
}

// HasMember reports whether name is a member of c.
func (v View) HasMember(c Coll, name string) bool {
	k := c.key(name)
	return k != "" && v.Has(k)
}

// Member returns the value stored for member name of c.
func (v View) Member(c Coll, name string) (string, bool) {
	k := c.key(name)
	if k == "" {
		return "", false
	}
	return v.Get(k)
}

// MemberID is a stable numeric id of member name of c: the etcd create
// revision of its key (0 when absent).
func (v View) MemberID(c Coll, name string) int64 {
	k := c.key(name)
	if k == "" {
		return 0
	}
	return v.CreateRevision(k)
}

// HasOwner reports whether what owns c exists: the owning item, or the
// account for an account's own collections. Collections without an owner
// (AllAccounts, RootRules) report false.
func (v View) HasOwner(c Coll) bool {
	k, _ := c.owner()
	return k != "" && v.Has(k)
}

// HasItem reports whether item name of kind exists in account a.
func (v View) HasItem(a, kind, name string) bool {
	_, ok := v.getItem(a, kind, name)
	return ok
}

// Role returns role r of account a.
func (v View) Role(a, r string) (Role, bool) {
	val, ok := v.getItem(a, KindRole, r)
	if !ok {
		return Role{}, false
	}
	rec, err := DecodeRole(val)
	return rec, err == nil
}

// Group returns group g of account a.
func (v View) Group(a, g string) (Group, bool) {
	val, ok := v.Get(ItemKey(a, KindGroup, g))
	if !ok {
		return Group{}, false
	}
	rec, err := DecodeGroup(val)
	return rec, err == nil
}

// LastLogin returns the time (RFC 3339) of user u's last verified
// sign-in, if one was recorded (SetLastLogin).
func (v View) LastLogin(a, u string) (string, bool) {
	return v.getItem(a, KindLogin, u)
}

// PutMember puts member name with value into c, unguarded: the build
// that calls it guards what it relies on. c must name a collection.
func (t *Txn) PutMember(c Coll, name, value string) {
	k := c.key(name)
	if k == "" {
		panic(fmt.Sprintf("storage: PutMember into %+v, which names no collection", c))
	}
	t.Put(k, value)
}
