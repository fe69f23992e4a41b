package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/audit"
	"gatehouse/authn"
)

const basicChallenge = `Basic realm="gatehouse", charset="UTF-8"`

func (s *Server) unauthorized(detail string) *Problem {
	challenge := `Bearer realm="gatehouse"`
	if s.BasicAuth {
		challenge = basicChallenge
	}
	return &Problem{Status: http.StatusUnauthorized, Detail: detail,
		Header: http.Header{"WWW-Authenticate": {challenge}}}
}

// Credentials takes what the request presents from its headers.
func (s *Server) Credentials(r *http.Request) authn.Credentials {
	// The server canonicalises header names: read the map directly.
	cr := authn.Credentials{Address: s.ClientAddr(r), APIKey: strings.TrimSpace(firstHeader(r.Header, "X-Api-Key"))}
	if h := firstHeader(r.Header, "Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		cr.Bearer = strings.TrimSpace(h[7:])
	} else if s.BasicAuth && h != "" {
		cr.Name, cr.Password, cr.Basic = r.BasicAuth()
	}
	return cr
}

// firstHeader is h.Get(key) for a key already in canonical form.
func firstHeader(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// authenticate signs the request in through the authenticator chain and
// maps its result: 401 (with the challenge) for missing or refused
// credentials, 429 with Retry-After when throttled, 401 for a principal
// whose password has expired on any route but the one that changes it.
// Sign-ins are audited through the bounded queue: a refusal as
// sign-in/failure, a throttled attempt as sign-in/denied, a verified
// (argon2id) success as sign-in/success; cache hits are not new sign-ins.
func (s *Server) authenticate(req *Request) error {
	cr := s.Credentials(req.R)
	presented := cr.Basic || cr.Bearer != "" || cr.APIKey != ""
	// The console's session cookie counts only when the request presents
	// no credentials of its own; a write with it needs the session's CSRF
	// token (a cross-site write carries no header of the page's).
	session := ""
	if !presented && firstHeader(req.R.Header, "Authorization") == "" {
		if session = sessionCookie(req.R); session != "" {
			if !req.Route.FormCSRF {
				if err := s.checkCSRF(req.R, session); err != nil {
					return err
				}
			}
			cr.Bearer = session
		}
	}
	res, err := s.Authenticator.Authenticate(req.R.Context(), cr)
	if err != nil {
		return err
	}
	switch res.Status {
	case authn.Accepted:
		if res.Verified {
			s.auditSignIn(req, res.Name, audit.Success, "")
		}
		if res.Principal.PasswordExpired && !req.Route.AllowExpiredPassword {
			s.auditSignIn(req, res.Name, audit.Failure, "password expired")
			return s.unauthorized("the password has expired; it must be changed (PUT /auth/v2/me/password) before signing in")
		}
		req.Principal = res.Principal
		return nil
	case authn.Throttled:
		s.auditSignIn(req, res.Name, audit.Denied, "throttled")
		secs := int((res.RetryAfter + time.Second - 1) / time.Second)
		return &Problem{Status: http.StatusTooManyRequests,
			Detail: "too many failed sign-ins; retry after " + strconv.Itoa(secs) + " seconds",
			Header: http.Header{"Retry-After": {strconv.Itoa(secs)}}}
	case authn.Refused:
		// The name is logged only when it is a valid account\user: a
		// password typed into the name field must not reach the log.
		logged := ""
		if _, ok := audit.TypedName(res.Name); ok {
			logged = res.Name
		}
		s.Logger.Info("sign-in failed", "principal", logged, "address", cr.Address)
		s.auditSignIn(req, res.Name, audit.Failure, "bad credentials")
		if session != "" {
			return s.sessionEnded(req)
		}
		return s.unauthorized(res.Reason)
	}
	if session != "" {
		return s.sessionEnded(req)
	}
	if presented {
		if cr.Bearer != "" {
			return s.unauthorized("the bearer token is not valid")
		}
		return s.unauthorized("the credentials are not valid")
	}
	if h := strings.TrimSpace(firstHeader(req.R.Header, "Authorization")); h != "" {
		// An Authorization header that carries nothing usable.
		scheme, _, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return s.unauthorized("the bearer value is empty: it is neither a valid API key nor a valid access token")
		}
		return s.unauthorized("the Authorization header (scheme " + strconv.Quote(scheme) + ") holds no credentials gatehouse takes: send Bearer with an API key or access token, or Basic with account\\user and password where it is on")
	}
	if p := s.signInRedirect(req.R); p != nil {
		return p
	}
	if !s.BasicAuth {
		return s.unauthorized("no supported credentials: HTTP Basic is turned off")
	}
	return s.unauthorized("this resource needs credentials: HTTP Basic with account\\user and password")
}

// sessionEnded answers a request whose console session cookie is no
// longer good (its access token expired or was revoked): a browser's GET
// goes to the sign-in (which renews the session from its refresh token
// when it can), anything else is 401.
func (s *Server) sessionEnded(req *Request) error {
	if p := s.signInRedirect(req.R); p != nil {
		return p
	}
	return s.unauthorized("the console session has ended; sign in again")
}
