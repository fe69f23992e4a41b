package storage

import "strings"

// Kinds of keys inside an account's range "t/{a}/". Exported as the
// domain's names of collections and items (Coll.Kind, PutItem's kind):
// callers name what they store with them and never spell a key.
const (
	KindChild    = "child"
	KindCeiling  = "ceil"
	KindRole     = "role"
	KindRolePerm = "rperm"
	KindGroup    = "group"
	KindUser     = "user"
	KindAttr     = "attr"
	KindLogin    = "login"
	KindUserRole = "ur"
	KindRoleUser = "ru"
	KindUserGrp  = "ug"
	KindGrpUser  = "gu"
	KindGrpRole  = "gr"
	KindRoleGrp  = "rg"
	// Kinds whose resources arrive with later capabilities; their ranges
	// exist (empty) so the hypermedia graph is complete.
	KindRule      = "rule"
	KindClient    = "client"
	KindFederated = "fed"
	// KindAPIKey is a user's API keys: SubKey(a, KindAPIKey, u, prefix).
	KindAPIKey = "apikey"
	// KindSession is a user's sign-in sessions: SubKey(a, KindSession,
	// u, id), id the OAuth grant's request id (see session.go).
	KindSession = "session"
	// KindTOTP is a user's second factor: the single key
	// ItemKey(a, KindTOTP, u), deleted with the user (see totp.go).
	KindTOTP = "totp"
)

// The key helpers below are for this package and for tests that look at
// etcd directly; the rest of gatehouse names collections (Coll) and items
// instead (see doc.go, "Naming what is stored").

// RootRulesRange holds the root federation rules (/accounts/rules).
const RootRulesRange = "rules/"

// FederatedRange holds the federated principals, "fed/{type}/{id}", and
// FederatedAttrRange their attributes, "fedattr/{type}/{id}/{name}"
// (see federation.go).
const (
	FederatedRange     = "fed/"
	FederatedAttrRange = "fedattr/"
)

// AccountKey is the key of account a's record.
func AccountKey(a string) string { return "acct/" + a }

// AccountsRange is the range of all account records.
const AccountsRange = "acct/"

// TenantRange is the range holding everything account a owns.
func TenantRange(a string) string { return "t/" + a + "/" }

// ItemKey is the key of item name of kind in account a:
// ItemKey("acme", KindUser, "alice") = "t/acme/user/alice".
func ItemKey(a, kind, name string) string { return "t/" + a + "/" + kind + "/" + name }

// ItemRange is the range of all items of kind in account a.
func ItemRange(a, kind string) string { return "t/" + a + "/" + kind + "/" }

// SubKey is the key of sub under owner, for two-level kinds:
// SubKey("acme", KindUserRole, "alice", "printing") = "t/acme/ur/alice/printing".
func SubKey(a, kind, owner, sub string) string {
	return "t/" + a + "/" + kind + "/" + owner + "/" + sub
}

// SubRange is the range of everything under owner for a two-level kind.
func SubRange(a, kind, owner string) string { return "t/" + a + "/" + kind + "/" + owner + "/" }

// TokenRange is the key range of short-lived token state (authorization
// codes, PKCE sessions, refresh tokens, revocations, replay guards):
// TokenKey(kind, id). Like the audit log it lives in etcd only, under
// leases (see Tokens).
const TokenRange = "tok/"

// TokenKey is the key of token id of kind: "tok/{kind}/{id}".
func TokenKey(kind, id string) string { return TokenRange + kind + "/" + id }

// MarkerRange is the key range of markers (see PutMarker): leased like
// tokens, but loaded by the cache: MarkerKey(kind, id).
const MarkerRange = "mark/"

// MarkerKey is the key of marker id of kind: "mark/{kind}/{id}".
func MarkerKey(kind, id string) string { return MarkerRange + kind + "/" + id }

// uncachedRanges are the key ranges the cache never loads or applies:
// they grow with traffic rather than with the directory, and are read
// from etcd directly. Their revisions still advance the cache's revision.
var uncachedRanges = [...]string{AuditRange, TokenRange}

// uncachedRange returns the uncached range key is in, if any.
func uncachedRange(key string) (string, bool) {
	for _, r := range uncachedRanges {
		if strings.HasPrefix(key, r) {
			return r, true
		}
	}
	return "", false
}

// isUncached reports whether key lies in a range the cache does not hold.
func isUncached(key string) bool {
	_, ok := uncachedRange(key)
	return ok
}

// rangeEnd returns the first key after every key with the given prefix.
func rangeEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// kindKey names one kind range of one account; kind "" stands for the
// account's own record.
type kindKey struct{ account, kind string }

// kindOf returns the account and kind a key belongs to.
func kindOf(key string) (kindKey, bool) {
	switch {
	case strings.HasPrefix(key, "acct/"):
		return kindKey{account: key[len("acct/"):]}, true
	case strings.HasPrefix(key, "t/"):
		rest := key[2:]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return kindKey{}, false
		}
		a, rest := rest[:i], rest[i+1:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return kindKey{account: a, kind: rest[:j]}, true
		}
	}
	return kindKey{}, false
}
