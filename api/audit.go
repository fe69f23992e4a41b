package api

import (
	"gatehouse/audit"
	"gatehouse/storage"
)

// The pipeline records what package audit's policy says: a write's entry
// rides in the request context into the write's own transaction
// (storage.WithAudit); refusals and sign-ins go to the bounded queue
// (Options.Audit), never a goroutine per attempt.

func (s *Server) auditRequest(req *Request) audit.Request {
	return audit.Request{Principal: req.Principal, Account: req.Vars.Get("a"), Path: req.R.URL.Path,
		Address: s.ClientAddr(req.R), Time: s.Now().UnixNano(), RequestID: req.RequestID()}
}

// auditEntry is the entry of a write by the signed-in caller.
func (s *Server) auditEntry(req *Request, action string) *storage.AuditEntry {
	e := audit.WriteEntry(s.auditRequest(req), action, audit.Success)
	if action == audit.ActionCreate && req.Route.CreatedTarget != nil {
		e.TargetOf = req.Route.CreatedTarget(req)
	}
	return &e
}

// auditDenied queues the entry of a write refused with 403.
func (s *Server) auditDenied(req *Request) {
	action := audit.ActionOf(req.Route.Method, req.Route.Permission)
	if action == "" || req.Principal.User == "" || s.Audit == nil {
		return
	}
	s.Audit.Record(audit.WriteEntry(s.auditRequest(req), action, audit.Denied))
}

// auditSignIn queues a sign-in entry.
func (s *Server) auditSignIn(req *Request, name, outcome, detail string) {
	if s.Audit == nil {
		return
	}
	s.Audit.Record(audit.SignInEntry(s.auditRequest(req), name, outcome, detail))
}
