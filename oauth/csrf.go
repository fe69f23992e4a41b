package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The sign-in page's CSRF protection and step tickets. Both are MACs
// under the server key SignInKeyName over the browser's nonce cookie and
// the authorize request's raw query, so a form is good only in the
// browser it was shown to and only for the request it was shown for;
// nothing is stored, so any instance sharing the etcd accepts the post.

// nonceCookie is the cookie holding the browser's sign-in nonce:
// HttpOnly, SameSite=Lax, Path /oauth2/authorize, Secure when the issuer
// is https.
const nonceCookie = "gatehouse_signin"

// ticketLifetime bounds how long the steps a ticket records stay good:
// the time a user may take between the password and the consent.
const ticketLifetime = 10 * time.Minute

var b64 = base64.RawURLEncoding

// mac is the base64url HMAC-SHA-256 under the page key of the parts,
// each ended by a NUL (no part contains one: they are base64url,
// query strings and JSON of names).
func (p *Provider) mac(parts ...string) string {
	m := hmac.New(sha256.New, p.pageKey)
	for _, s := range parts {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return b64.EncodeToString(m.Sum(nil))
}

// validNonce reports whether s has the shape of a nonce (32 bytes,
// base64url).
func validNonce(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := b64.DecodeString(s)
	return err == nil
}

// browserNonce is the request's nonce cookie; with create, a missing or
// malformed one is replaced by a new one set on the response. "" when
// there is none and create is false.
func (p *Provider) browserNonce(w http.ResponseWriter, r *http.Request, create bool) string {
	if c, err := r.Cookie(nonceCookie); err == nil && validNonce(c.Value) {
		return c.Value
	}
	if !create {
		return ""
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	n := b64.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: nonceCookie, Value: n, Path: "/oauth2/authorize",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(p.Issuer, "https://")})
	return n
}

// csrfToken is the form's CSRF token for nonce and the request.
func (p *Provider) csrfToken(nonce, request string) string {
	return p.mac("csrf", nonce, request)
}

// checkCSRF reports whether token is the CSRF token of nonce and request.
func (p *Provider) checkCSRF(nonce, request, token string) bool {
	if nonce == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(p.csrfToken(nonce, request)))
}

// ticket is what the sign-in steps done so far established: the
// signed-in user and the names of the steps passed. The page carries it
// from step to step in a hidden field, MACed with the nonce and the
// request.
type ticket struct {
	Account string   `json:"a,omitempty"`
	User    string   `json:"u,omitempty"`
	Done    []string `json:"d,omitempty"`
	Expires int64    `json:"e,omitempty"`
}

// sealTicket is t's hidden field value: payload "." MAC.
func (p *Provider) sealTicket(t ticket, nonce, request string) string {
	if t.User == "" && len(t.Done) == 0 {
		return ""
	}
	t.Expires = p.now().Add(ticketLifetime).Unix()
	b, _ := json.Marshal(t)
	payload := b64.EncodeToString(b)
	return payload + "." + p.mac("ticket", nonce, request, payload)
}

// openTicket checks a sealed ticket; "" is the empty ticket.
func (p *Provider) openTicket(sealed, nonce, request string) (ticket, bool) {
	if sealed == "" {
		return ticket{}, true
	}
	payload, sum, ok := strings.Cut(sealed, ".")
	if !ok || !hmac.Equal([]byte(sum), []byte(p.mac("ticket", nonce, request, payload))) {
		return ticket{}, false
	}
	b, err := b64.DecodeString(payload)
	if err != nil {
		return ticket{}, false
	}
	var t ticket
	if json.Unmarshal(b, &t) != nil || p.now().Unix() > t.Expires {
		return ticket{}, false
	}
	return t, true
}
