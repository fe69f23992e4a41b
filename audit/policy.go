package audit

import (
	"net/http"
	"strings"

	"gatehouse/authn"
	"gatehouse/storage"
)

// What the audit log records, and how (SPEC §3a, §10). The HTTP pipeline
// asks these functions; it decides only when.
//
// Every write route (any method but GET whose permission is not a :read
// one) records an entry in the write's own etcd transaction
// (storage.WithAudit), so only committed changes are recorded. The action
// comes from the method: POST create, PUT update (a PUT that creates is
// recorded as update), DELETE delete; the target is the request path, or
// for a POST that creates an item the new item's href. A write refused
// with 403 is a "denied" entry, and sign-ins are "sign-in" entries
// (success, failure, or denied when throttled); both go through a Queue.
// Detail holds only fixed phrases: never a password, hash or key secret,
// and the actor of a refused sign-in is kept only when it is a
// well-formed account\user (a password typed into the name field is
// never stored). Every entry a request makes carries its request id
// (X-Request-Id, Request.RequestID), so an entry can be matched to the
// request's access log line and to what the client saw.

// Actions and outcomes.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
	ActionSignIn = "sign-in"
	ActionToken  = "token" // an answer of /oauth2/token

	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// ActionOf is the action a request to a route with this method and
// permission records, "" for reads.
func ActionOf(method, permission string) string {
	if strings.HasSuffix(permission, ":read") {
		return ""
	}
	switch method {
	case http.MethodPost:
		return ActionCreate
	case http.MethodPut, http.MethodPatch:
		return ActionUpdate
	case http.MethodDelete:
		return ActionDelete
	}
	return ""
}

// Request is what an entry says of the request it records.
type Request struct {
	Principal authn.Principal
	Account   string // the path's account; "" for the principal's own
	Path      string
	Address   string
	Time      int64 // UnixNano
	RequestID string
}

// WriteEntry is the entry of a write (or of a refused one, outcome
// Denied) by the signed-in principal.
func WriteEntry(r Request, action, outcome string) storage.AuditEntry {
	account := r.Account
	if account == "" {
		account = r.Principal.Account
	}
	e := storage.AuditEntry{Time: r.Time, Actor: r.Principal.Actor(), Account: account,
		Action: action, Target: r.Path, Address: r.Address, Outcome: outcome, RequestID: r.RequestID}
	if outcome == Denied {
		e.Detail = "permission denied"
	}
	return e
}

// SignInEntry is the entry of a sign-in attempt; name is the principal as
// typed (or an API key's id), detail a fixed phrase.
func SignInEntry(r Request, name, outcome, detail string) storage.AuditEntry {
	e := storage.AuditEntry{Time: r.Time, Action: ActionSignIn, Target: r.Path,
		Address: r.Address, Outcome: outcome, Detail: detail, RequestID: r.RequestID}
	if a, ok := TypedName(name); ok {
		e.Actor, e.Account = name, a
	}
	return e
}

// TypedName reports whether a sign-in name as typed is a valid
// account\user, and its account. Only such a name may be recorded or
// logged: anything else may be a password typed into the name field.
func TypedName(name string) (account string, ok bool) {
	a, u, ok := strings.Cut(name, `\`)
	if !ok || storage.ValidName(a) != nil || storage.ValidName(u) != nil {
		return "", false
	}
	return a, true
}
