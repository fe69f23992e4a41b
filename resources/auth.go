package resources

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/authn"
	"gatehouse/storage"
)

// principal is the authenticated caller.
type principal struct {
	Account, User string
	// KeyID and KeyPerms are set when the caller signed in with an API
	// key: the key's prefix and its permission list, which every
	// decision intersects with the owner's holding (allows). KeyPerms is
	// nil for other credentials.
	KeyID    string
	KeyPerms []string
}

const basicChallenge = `Basic realm="gatehouse", charset="UTF-8"`

func unauthorized(detail string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Detail: detail,
		Header: http.Header{"WWW-Authenticate": {basicChallenge}}}
}

// authenticate verifies HTTP Basic credentials "account\user:password".
// Unknown accounts and users cost one argon2id run like known ones and
// fail with the same answer; failures count against the name as typed
// and the client address; the verified-credential cache spares argon2id
// on repeated requests.
func (s *Server) authenticate(c *call) error {
	r := c.r
	if secret, ok := presentedKey(r); ok {
		return s.authenticateKey(c, secret)
	}
	if !s.BasicAuth {
		return &Problem{Status: http.StatusUnauthorized, Detail: "no supported credentials: HTTP Basic is turned off",
			Header: http.Header{"WWW-Authenticate": {`Bearer realm="gatehouse"`}}}
	}
	name, password, ok := r.BasicAuth()
	if !ok {
		return unauthorized("this resource needs credentials: HTTP Basic with account\\user and password")
	}
	addr := s.clientAddr(r)
	if p := s.throttled(name, addr); p != nil {
		return p
	}
	account, user, split := strings.Cut(name, `\`)
	var rec storage.User
	found := false
	if split && storage.ValidName(account) == nil && storage.ValidName(user) == nil {
		err := s.Store.Read(r.Context(), 0, func(v storage.View) error {
			rec, found = v.User(account, user)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if found && rec.Enabled && rec.PasswordHash != "" {
		stamp := rec.PasswordHash
		if s.Credentials != nil && s.Credentials.Lookup(name, password, stamp) {
			return s.admit(c, account, user, rec)
		}
		if ok, _ := authn.VerifyPassword(password, rec.PasswordHash); ok {
			if s.Credentials != nil {
				s.Credentials.Remember(name, password, stamp)
			}
			s.recordSignIn(account, user)
			s.auditSignIn(r, name, addr, auditSuccess, "")
			return s.admit(c, account, user, rec)
		}
	} else {
		authn.DummyVerify(password)
	}
	s.Throttle.Fail(name, addr)
	s.Logger.Info("sign-in failed", "principal", name, "address", addr)
	return unauthorized("the credentials are not valid")
}

// throttled answers 429 when name or addr has failed too often.
func (s *Server) throttled(name, addr string) *Problem {
	if allowed, retry := s.Throttle.Allowed(name, addr); !allowed {
		secs := int((retry + time.Second - 1) / time.Second)
		return &Problem{Status: http.StatusTooManyRequests,
			Detail: "too many failed sign-ins; retry after " + strconv.Itoa(secs) + " seconds",
			Header: http.Header{"Retry-After": {strconv.Itoa(secs)}}}
	}
	return nil
}

func (s *Server) admit(c *call, account, user string, rec storage.User) error {
	s.Throttle.Succeed(account + `\` + user)
	if rec.PasswordExpired && !expiredMayCall(c.route) {
		return unauthorized("the password has expired; it must be changed (PUT /auth/v2/me/password) before signing in")
	}
	c.p = principal{Account: account, User: user}
	return nil
}

// recordSignIn stores the last-login time, guarded on the user existing
// so that a racing delete never leaves the key behind.
func (s *Server) recordSignIn(account, user string) {
	now := s.Now().UTC().Format(time.RFC3339)
	s.background(func(ctx context.Context) {
		userKey := storage.ItemKey(account, storage.KindUser, user)
		_, err := s.Store.Update(ctx, func(v storage.View, t *storage.Txn) error {
			if !v.Has(userKey) {
				return nil
			}
			t.Expect(userKey)
			t.Put(storage.ItemKey(account, storage.KindLogin, user), now)
			return nil
		})
		if err != nil {
			s.Logger.Warn("recording last sign-in failed", "principal", account+`\`+user, "err", err)
		}
	})
}
