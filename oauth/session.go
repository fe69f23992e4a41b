package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// ClientSource resolves an OAuth client by its id. Client records live
// with the clients resource (outside this package); every requester read
// back from storage gets its client through it, so a deleted or changed
// client takes effect on the tokens it holds at once. It returns
// fosite.ErrNotFound (or an error wrapping it) for an unknown client.
type ClientSource interface {
	Client(ctx context.Context, id string) (fosite.Client, error)
}

// Lifetimes are how long each kind of token state lives; each stored
// record's lease TTL is its lifetime (or the expiry its session names).
type Lifetimes struct {
	Access  time.Duration // access tokens (and their revocation state)
	Refresh time.Duration // refresh tokens, their families' revocation markers
	Code    time.Duration // authorization codes, PKCE and OpenID Connect sessions
}

// DefaultLifetimes are SPEC §7's defaults.
var DefaultLifetimes = Lifetimes{Access: 10 * time.Minute, Refresh: 30 * 24 * time.Hour, Code: time.Minute}

// withDefaults fills zero lifetimes with DefaultLifetimes.
func (l Lifetimes) withDefaults() Lifetimes {
	if l.Access <= 0 {
		l.Access = DefaultLifetimes.Access
	}
	if l.Refresh <= 0 {
		l.Refresh = DefaultLifetimes.Refresh
	}
	if l.Code <= 0 {
		l.Code = DefaultLifetimes.Code
	}
	return l
}

// Session is gatehouse's fosite session: OpenID Connect's default session
// (ID token claims, per-token expiries, subject) plus the signed-in
// principal's account and user. Subject is always `account\user`.
type Session struct {
	openid.DefaultSession
	Account string `json:"account,omitempty"`
	User    string `json:"user,omitempty"`
}

// NewSession returns a session for user u of account a.
func NewSession(a, u string) *Session {
	s := &Session{DefaultSession: *openid.NewDefaultSession(), Account: a, User: u}
	s.Subject = Subject(a, u)
	s.Username = s.Subject
	s.Claims.Subject = s.Subject
	return s
}

// Subject is the token subject of user u of account a: `a\u`.
func Subject(a, u string) string { return a + `\` + u }

// Clone returns a deep copy (fosite clones the session of a refreshed
// request).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := &Session{Account: s.Account, User: s.User}
	if d, ok := s.DefaultSession.Clone().(*openid.DefaultSession); ok && d != nil {
		c.DefaultSession = *d
	}
	return c
}

var _ openid.Session = (*Session)(nil)
