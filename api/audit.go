package api

import (
	"net/http"
	"strings"

	"gatehouse/storage"
)

// The audit policy of the pipeline (SPEC §3a, §10). Every write route
// (any method but GET whose permission is not a :read one) gets an entry
// in its request context (storage.WithAudit); storage.Store.Update adds
// it to the same etcd transaction as the change, so only committed
// changes are recorded. The action comes from the method: POST create,
// PUT update (a PUT that creates is recorded as update), DELETE delete;
// the target is the request path, or for a POST that creates an item the
// new item's href (Route.CreatedTarget). A write refused with 403 is a
// "denied" entry, and sign-ins are recorded as sign-in entries; both go
// through the bounded audit queue (Options.Audit), never a goroutine per
// attempt. Detail holds only fixed phrases: never a password, hash or key
// secret.

const (
	auditCreate       = "create"
	auditUpdate       = "update"
	auditDelete       = "delete"
	auditSignInAction = "sign-in"

	auditSuccess = "success"
	auditFailure = "failure"
	auditDenied  = "denied"
)

// auditAction is the action a route's request records, "" for reads.
func auditAction(rt *Route) string {
	if strings.HasSuffix(rt.Permission, ":read") {
		return ""
	}
	switch rt.Method {
	case http.MethodPost:
		return auditCreate
	case http.MethodPut, http.MethodPatch:
		return auditUpdate
	case http.MethodDelete:
		return auditDelete
	}
	return ""
}

// auditEntry is the entry of a write by the signed-in caller.
func (s *Server) auditEntry(req *Request, action, outcome string) *storage.AuditEntry {
	account := req.Vars["a"]
	if account == "" {
		account = req.Principal.Account
	}
	var targetOf func([]string) string
	if action == auditCreate && outcome == auditSuccess && req.Route.CreatedTarget != nil {
		targetOf = req.Route.CreatedTarget(req)
	}
	return &storage.AuditEntry{
		TargetOf: targetOf,
		Time:     s.Now().UnixNano(),
		Actor:    req.Principal.Actor(),
		Account:  account,
		Action:   action,
		Target:   req.R.URL.Path,
		Address:  s.ClientAddr(req.R),
		Outcome:  outcome,
	}
}

// auditDenied queues the entry of a write refused with 403.
func (s *Server) auditDenied(req *Request) {
	action := auditAction(req.Route)
	if action == "" || req.Principal.User == "" || s.Audit == nil {
		return
	}
	e := *s.auditEntry(req, action, auditDenied)
	e.Detail = "permission denied"
	s.Audit.Record(e)
}
