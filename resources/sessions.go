package resources

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"gatehouse/storage"
)

// Sign-in sessions (SPEC §3a, §4, §6): each authorization-code or
// password grant is a session of its user, owning its refresh-token
// family. The oauth package records them (storage.Store.CreateSession);
// this file lists, shows and revokes them.
//
// Decisions:
//   - The id is the grant's token family (fosite's request id, a UUID);
//     ids in the path are validated as names (400) and an unknown or
//     expired one is 404.
//   - Only live sessions show: the records carry their expiry and are
//     filtered by the server's clock (etcd drops expired records by
//     lease within the hour), so the collection is computed from the
//     user's records (a user holds a handful) and pages like the others.
//   - DELETE revokes the family through the Options.RevokeSession seam
//     (the oauth provider's, set by instance; resources does not import
//     oauth): its refresh tokens and the access tokens issued so far.
//     Then it removes the record (one guarded transaction, audited by
//     the pipeline like every delete); from then on the token endpoint
//     refuses a refresh of the family (the session is not alive). A
//     failed revocation answers the error and leaves the session listed,
//     so the DELETE can be retried.
//   - Disabling or deleting the user removes its sessions in the same
//     transaction (storage), so their refresh tokens fail at once and
//     stay failing when the user is enabled again.
//   - /me/sessions serves the signed-in user's own sessions (auth:me:
//     sessions:read, :delete), like /me/api-keys.

func sessionsHref(a, u string) string { return path("accounts", a, "users", u, "sessions") }

// sessionsNode is user u's live sessions at now.
func (v *nb) sessionsNode(a, u string, now time.Time) *Collection {
	return v.sessionsUnder(a, u, userHref(a, u), now)
}

// sessionsUnder is sessionsNode for a user whose href is base: the link
// the user document shows.
func (v *nb) sessionsUnder(a, u, base string, now time.Time) *Collection {
	ids := v.LiveSessions(a, u, now)
	// Expiry drops a session without a write: the ETag follows what is
	// shown, not only what is stored.
	if len(ids) == 0 {
		v.Mix("sessions:") // most users have none: no string to build
	} else {
		v.Mix("sessions:" + strings.Join(ids, " "))
	}
	return &Collection{Element: "sessions", Href: base, HrefTail: "/sessions", Items: sliceSource{
		names: ids,
		item:  func(id string) Node { return v.sessionNode(a, u, id) }}}
}

func unixText(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// sessionNode shows session id of user u.
func (v *nb) sessionNode(a, u, id string) *Entity {
	return &Entity{Element: "session", Identifier: id, Href: sessionsHref(a, u) + "/" + escapeSegment(id),
		Fields: func(f []Field) []Field {
			s, _ := v.Session(a, u, id)
			return append(f,
				Field{Name: "client", Text: s.Client, Always: true},
				Field{Name: "created", Text: unixText(s.Created), Always: true},
				Field{Name: "last-used", Text: unixText(s.LastUsed), Always: true},
				Field{Name: "address", Text: s.Address, Always: true},
				Field{Name: "user-agent", Text: s.UserAgent, Always: true},
				Field{Name: "expires", Text: unixText(s.Expires), Always: true},
			)
		}}
}

// Handlers.

var getSessions = getUserPart(func(c *call, v *nb, a, u string) (Node, error) {
	return v.sessionsNode(a, u, c.s.Now()), nil
})

// sessionDoc is the path's session, 404 when unknown or expired; served
// under the user's path and under /me.
func sessionDoc(c *call, v *nb, a, u string) (Node, error) {
	id := c.vars.Get("s")
	if err := storage.ValidName(id); err != nil {
		return nil, problem(http.StatusBadRequest, "invalid session id in the path: %v", err)
	}
	if _, ok := v.raw.LiveSession(a, u, id, c.s.Now()); !ok {
		return nil, sessionMissing(id, u)
	}
	return v.sessionNode(a, u, id), nil
}

var getSession = getUserPart(sessionDoc)

func sessionMissing(id, u string) error {
	return problem(http.StatusNotFound, "session %q of user %q not found", id, u)
}

// deleteSession removes the session's record and revokes its tokens.
func deleteSession(c *call) error {
	u, err := c.name("u")
	if err != nil {
		return err
	}
	id := c.vars.Get("s")
	if err := storage.ValidName(id); err != nil {
		return problem(http.StatusBadRequest, "invalid session id in the path: %v", err)
	}
	a := c.vars.Get("a")
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	now := c.s.Now()
	if err := c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		if !v.HasItem(a, storage.KindUser, u) {
			return userMissing(c)
		}
		if _, ok := v.LiveSession(a, u, id, now); !ok {
			return sessionMissing(id, u)
		}
		return nil
	}); err != nil {
		return err
	}
	if c.s.RevokeSession != nil {
		// Revoke first: a failure leaves the session listed, so the
		// DELETE can be retried. It runs on a context of its own: to its
		// end even if the client goes away, and without the request's
		// audit entry and checks (they belong to the delete below).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.s.RevokeSession(ctx, id)
		cancel()
		if err != nil {
			return err
		}
	}
	if _, err := c.s.Store.DeleteSession(c.r.Context(), a, u, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return sessionMissing(id, u)
		}
		return err
	}
	return c.noContent()
}

// /me/sessions: the signed-in user's own sessions, at /me hrefs.

func getMySessionDoc(build func(c *call, v *nb, a, u string) (Node, error)) func(*call) error {
	return getMe(build)
}

var (
	getMySessions = getMySessionDoc(func(c *call, v *nb, a, u string) (Node, error) {
		return v.sessionsNode(a, u, c.s.Now()), nil
	})
	getMySession = getMySessionDoc(sessionDoc)
)

func deleteMySession(c *call) error {
	c.asMe()
	return deleteSession(c)
}
