package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// authorizeRequest is what the authorize endpoint hands the store: client,
// scopes, audience, the PKCE challenge and the signed-in user's session.
func authorizeRequest(id string, cl fosite.Client, now time.Time, life Lifetimes) *fosite.AuthorizeRequest {
	ar := fosite.NewAuthorizeRequest()
	ar.ID = id
	ar.RequestedAt = now.UTC().Truncate(time.Second)
	ar.Client = cl
	ar.RequestedScope = fosite.Arguments{"openid", "offline_access", "print:*"}
	ar.GrantScope("openid")
	ar.GrantScope("offline_access")
	ar.GrantScope("print:*")
	ar.RequestedAudience = fosite.Arguments{"https://print.example"}
	ar.GrantAudience("https://print.example")
	ar.Form = url.Values{
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
		"redirect_uri":          {"https://app.example/cb"},
	}
	sess := NewSession("acme", "alice")
	sess.SetExpiresAt(fosite.AuthorizeCode, now.Add(life.Code))
	sess.SetExpiresAt(fosite.AccessToken, now.Add(life.Access))
	sess.SetExpiresAt(fosite.RefreshToken, now.Add(life.Refresh))
	ar.Session = sess
	return ar
}

const testIssuer = "https://gatehouse.test"

// accessIssuer issues real access tokens (an in-memory key set on the
// test's clock) for user acme\alice, who exists in st (enabled).
type accessIssuer struct {
	keys  *KeySet
	st    *storage.Store
	clk   *clock
	known map[string]bool // sign-in sessions recorded
}

func newAccessIssuer(t *testing.T, clk *clock, stores ...*storage.Store) accessIssuer {
	t.Helper()
	ks, err := NewKeySet(storagetest.Ctx(t), KeyConfig{Store: &memKeys{m: map[string][]byte{}}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.MustAccount(t, stores[0], "acme", "")
	storagetest.MustItem(t, stores[0], "acme", storage.KindUser, "alice")
	return accessIssuer{keys: ks, st: stores[0], clk: clk, known: map[string]bool{}}
}

// store is a TokenStore over st that verifies with the issuer's keys.
func (ai accessIssuer) store(st *storage.Store, cl ClientSource, now func() time.Time, life Lifetimes) *TokenStore {
	return NewTokenStore(StoreConfig{Tokens: st, Directory: st, Clients: cl, Now: now, Lifetimes: life,
		Verify: func(ctx context.Context, tok string) (*AccessClaims, error) {
			return ai.keys.VerifyAccessToken(ctx, tok, VerifyOptions{Issuer: testIssuer})
		}})
}

// issue signs an access token of req's family (sid) for acme\alice,
// recording the family's sign-in session first.
func (ai accessIssuer) issue(t *testing.T, req fosite.Requester) string {
	t.Helper()
	if !ai.known[req.GetID()] {
		now := ai.clk.Now()
		if _, err := ai.st.CreateSession(storagetest.Ctx(t), "acme", "alice", req.GetID(), storage.Session{Client: req.GetClient().GetID(),
			Created: now.Unix(), LastUsed: now.Unix(), Expires: now.Add(90 * 24 * time.Hour).Unix()}, 90*24*time.Hour); err != nil {
			t.Fatalf("recording session %s: %v", req.GetID(), err)
		}
		ai.known[req.GetID()] = true
	}
	tok, _, err := ai.keys.IssueAccessToken(AccessTokenRequest{Issuer: testIssuer, Account: "acme", User: "alice",
		ClientID: req.GetClient().GetID(), Scopes: req.GetGrantedScopes(), Audience: req.GetGrantedAudience(),
		Lifetime: DefaultLifetimes.Access, SessionID: req.GetID()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func checkRequester(t *testing.T, got fosite.Requester, want *fosite.AuthorizeRequest) {
	t.Helper()
	if got.GetID() != want.ID {
		t.Errorf("id %q; want %q", got.GetID(), want.ID)
	}
	if got.GetClient().GetID() != want.Client.GetID() {
		t.Errorf("client %q; want %q", got.GetClient().GetID(), want.Client.GetID())
	}
	if !got.GetRequestedAt().Equal(want.RequestedAt) {
		t.Errorf("requested at %v; want %v", got.GetRequestedAt(), want.RequestedAt)
	}
	if !slices.Equal(got.GetGrantedScopes(), want.GrantedScope) || !slices.Equal(got.GetRequestedScopes(), want.RequestedScope) {
		t.Errorf("scopes %v granted %v; want %v, %v", got.GetRequestedScopes(), got.GetGrantedScopes(), want.RequestedScope, want.GrantedScope)
	}
	if !slices.Equal(got.GetGrantedAudience(), want.GrantedAudience) {
		t.Errorf("audience %v; want %v", got.GetGrantedAudience(), want.GrantedAudience)
	}
	for _, k := range []string{"code_challenge", "code_challenge_method", "redirect_uri"} {
		if got.GetRequestForm().Get(k) != want.Form.Get(k) {
			t.Errorf("form %s = %q; want %q", k, got.GetRequestForm().Get(k), want.Form.Get(k))
		}
	}
	sess, ok := got.GetSession().(*Session)
	if !ok {
		t.Fatalf("session %T; want *Session", got.GetSession())
	}
	if sess.GetSubject() != `acme\alice` || sess.Account != "acme" || sess.User != "alice" {
		t.Errorf("session subject %q account %q user %q", sess.GetSubject(), sess.Account, sess.User)
	}
	for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
		if !sess.GetExpiresAt(tt).Equal(want.Session.GetExpiresAt(tt)) {
			t.Errorf("%s expires %v; want %v", tt, sess.GetExpiresAt(tt), want.Session.GetExpiresAt(tt))
		}
	}
}

// TestCodePKCEAcrossInstances: an authorize request stored by one
// instance is redeemed on another sharing the etcd; the code is single
// use (TakeToken) and a second use reports the invalidated code with its
// request, so fosite can revoke what the first use issued.
func TestCodePKCEAcrossInstances(t *testing.T) {
	ep := storagetest.Etcd(t)
	st1, st2 := storagetest.Open(t, ep), storagetest.Open(t, ep)
	cl := newClients("app")
	a := NewTokenStore(StoreConfig{Tokens: st1, Directory: st1, Clients: cl})
	b := NewTokenStore(StoreConfig{Tokens: st2, Directory: st2, Clients: cl})
	ctx := storagetest.Ctx(t)
	app, _ := cl.Client(ctx, "app")
	ar := authorizeRequest("req-1", app, time.Now(), a.Lifetimes())

	mustOK(t, "create code", a.CreateAuthorizeCodeSession(ctx, "code-sig-1", ar))
	mustOK(t, "create pkce", a.CreatePKCERequestSession(ctx, "code-sig-1", ar.Sanitize([]string{"code_challenge", "code_challenge_method"})))
	mustOK(t, "create oidc", a.CreateOpenIDConnectSession(ctx, "code-sig-1", ar))

	got, err := b.GetAuthorizeCodeSession(ctx, "code-sig-1", NewSession("", ""))
	mustOK(t, "get code on b", err)
	checkRequester(t, got, ar)
	pk, err := b.GetPKCERequestSession(ctx, "code-sig-1", nil)
	mustOK(t, "get pkce on b", err)
	if pk.GetRequestForm().Get("code_challenge_method") != "S256" || pk.GetRequestForm().Get("code_challenge") == "" {
		t.Errorf("pkce form %v lacks the challenge", pk.GetRequestForm())
	}
	tokenReq := fosite.NewAccessRequest(NewSession("", ""))
	oidc, err := b.GetOpenIDConnectSession(ctx, "code-sig-1", tokenReq)
	mustOK(t, "get oidc on b", err)
	checkRequester(t, oidc, ar)
	if _, err := b.GetOpenIDConnectSession(ctx, "no-such-code", tokenReq); err != openid.ErrNoSessionFound {
		t.Errorf("unknown oidc session: %v; want ErrNoSessionFound", err)
	}

	// Redeem on b; a second redemption fails, and a later read reports
	// the code as used along with its request.
	mustOK(t, "invalidate", b.InvalidateAuthorizeCodeSession(ctx, "code-sig-1"))
	if err := a.InvalidateAuthorizeCodeSession(ctx, "code-sig-1"); err == nil {
		t.Fatal("second redemption succeeded")
	}
	used, err := a.GetAuthorizeCodeSession(ctx, "code-sig-1", nil)
	wantErr(t, "get used code", err, fosite.ErrInvalidatedAuthorizeCode)
	if used == nil || used.GetID() != "req-1" {
		t.Fatalf("used code returned requester %v; want req-1", used)
	}
	mustOK(t, "delete pkce", b.DeletePKCERequestSession(ctx, "code-sig-1"))
	mustOK(t, "delete pkce again", b.DeletePKCERequestSession(ctx, "code-sig-1"))
	_, err = a.GetPKCERequestSession(ctx, "code-sig-1", nil)
	wantErr(t, "pkce after delete", err, fosite.ErrNotFound)
	mustOK(t, "delete oidc", b.DeleteOpenIDConnectSession(ctx, "code-sig-1"))

	// Nothing of it is kept in the clear in etcd keys.
	for k := range storagetest.EtcdKeys(t, st1, storage.TokenRange) {
		if strings.Contains(k, "code-sig-1") {
			t.Errorf("etcd key %s holds the code signature", k)
		}
	}

	// Of many concurrent redemptions of one code exactly one succeeds.
	mustOK(t, "create code 2", a.CreateAuthorizeCodeSession(ctx, "code-sig-2", ar))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if s.InvalidateAuthorizeCodeSession(ctx, "code-sig-2") == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent redemptions succeeded; want 1", wins.Load())
	}

	// Unknown codes and ids outside storage's alphabet are simply unknown.
	for _, code := range []string{"never-issued", "has/slash and space", ""} {
		_, err := a.GetAuthorizeCodeSession(ctx, code, nil)
		wantErr(t, "unknown code "+code, err, fosite.ErrNotFound)
	}
}

// TestExpiry: a record is gone at its expiry, judged by the injected clock
// and, with the real clock, by storage itself.
func TestExpiry(t *testing.T) {
	st := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	cl := newClients("app")
	app, _ := cl.Client(ctx, "app")
	clk := newClock()
	ai := newAccessIssuer(t, clk, st)
	s := ai.store(st, cl, clk.Now, Lifetimes{})

	ar := authorizeRequest("req-exp", app, clk.Now(), s.Lifetimes())
	mustOK(t, "create code", s.CreateAuthorizeCodeSession(ctx, "c1", ar))
	at := ai.issue(t, ar)
	mustOK(t, "create access", s.CreateAccessTokenSession(ctx, at, ar))
	clk.Advance(59 * time.Second)
	_, err := s.GetAuthorizeCodeSession(ctx, "c1", nil)
	mustOK(t, "code before expiry", err)
	clk.Advance(time.Second)
	_, err = s.GetAuthorizeCodeSession(ctx, "c1", nil)
	wantErr(t, "code at expiry", err, fosite.ErrNotFound)
	got, err := s.GetAccessTokenSession(ctx, at, nil)
	mustOK(t, "access token within 10 min", err)
	if got != nil && (got.GetID() != "req-exp" || got.GetClient().GetID() != "app" ||
		!slices.Equal(got.GetGrantedScopes(), ar.GrantedScope) || got.GetSession().GetSubject() != `acme\alice`) {
		t.Errorf("access token's request: id %q client %q scopes %v subject %q", got.GetID(), got.GetClient().GetID(),
			got.GetGrantedScopes(), got.GetSession().GetSubject())
	}
	clk.Advance(9 * time.Minute)
	_, err = s.GetAccessTokenSession(ctx, at, nil)
	wantErr(t, "access token at expiry", err, fosite.ErrNotFound)
	_, err = s.GetAccessTokenSession(ctx, "not.a.token", nil)
	wantErr(t, "garbage access token", err, fosite.ErrNotFound)

	// Without session expiries the lifetime applies; with the real clock
	// storage's own expiry removes it (no fake time involved).
	short := ai.store(st, cl, nil, Lifetimes{Code: 250 * time.Millisecond})
	ar2 := authorizeRequest("req-exp-2", app, time.Now(), short.Lifetimes())
	ar2.Session.(*Session).ExpiresAt = nil
	mustOK(t, "create short code", short.CreateAuthorizeCodeSession(ctx, "c2", ar2))
	_, err = short.GetAuthorizeCodeSession(ctx, "c2", nil)
	mustOK(t, "short code at once", err)
	time.Sleep(300 * time.Millisecond)
	if _, err := st.GetToken(ctx, kindCode, tokenID("c2")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("storage still has the expired code: %v", err)
	}
	_, err = short.GetAuthorizeCodeSession(ctx, "c2", nil)
	wantErr(t, "short code after its lifetime", err, fosite.ErrNotFound)

	// A record already expired when stored is refused.
	old := authorizeRequest("req-old", app, clk.Now().Add(-time.Hour), s.Lifetimes())
	if err := s.CreateAuthorizeCodeSession(ctx, "c3", old); err == nil {
		t.Error("stored a code that expired an hour ago")
	}
}

// TestRefreshRotationAndReuse: rotation retires the old refresh token;
// presenting it again is reuse, which revokes the whole family — its
// access tokens included — on every instance; concurrent rotations of
// one token let exactly one through.
func TestRefreshRotationAndReuse(t *testing.T) {
	ep := storagetest.Etcd(t)
	st1, st2 := storagetest.Open(t, ep), storagetest.Open(t, ep)
	ctx := storagetest.Ctx(t)
	cl := newClients("app", "other")
	app, _ := cl.Client(ctx, "app")
	clk := newClock()
	ai := newAccessIssuer(t, clk, st1, st2)
	a := ai.store(st1, cl, clk.Now, Lifetimes{})
	b := ai.store(st2, cl, clk.Now, Lifetimes{})
	ar := authorizeRequest("family-1", app, clk.Now(), a.Lifetimes())

	at1 := ai.issue(t, ar)
	mustOK(t, "at1", a.CreateAccessTokenSession(ctx, at1, ar))
	mustOK(t, "rt1", a.CreateRefreshTokenSession(ctx, "rt1", at1, ar))
	got, err := b.GetRefreshTokenSession(ctx, "rt1", nil)
	mustOK(t, "get rt1 on b", err)
	checkRequester(t, got, ar)

	// Refresh on b: rotate rt1, issue at2/rt2 in the same family. at1
	// lives on until it expires.
	clk.Advance(time.Second)
	mustOK(t, "rotate rt1", b.RotateRefreshToken(ctx, "family-1", "rt1"))
	_, err = a.GetAccessTokenSession(ctx, at1, nil)
	mustOK(t, "at1 after rotation", err)
	at2 := ai.issue(t, ar)
	mustOK(t, "at2", b.CreateAccessTokenSession(ctx, at2, ar))
	mustOK(t, "rt2", b.CreateRefreshTokenSession(ctx, "rt2", at2, ar))
	_, err = a.GetRefreshTokenSession(ctx, "rt2", nil)
	mustOK(t, "rt2 on a", err)
	wantErr(t, "rotating rt1 again", b.RotateRefreshToken(ctx, "family-1", "rt1"), fosite.ErrInactiveToken)

	// Reuse of rt1 on a: inactive, with its request, so fosite revokes
	// the family (as its refresh handler does).
	reused, err := a.GetRefreshTokenSession(ctx, "rt1", nil)
	wantErr(t, "reuse rt1", err, fosite.ErrInactiveToken)
	if reused == nil || reused.GetID() != "family-1" {
		t.Fatalf("reused token returned %v; want its request (family-1)", reused)
	}
	mustOK(t, "delete rt1", a.DeleteRefreshTokenSession(ctx, "rt1"))
	mustOK(t, "revoke refresh family", a.RevokeRefreshToken(ctx, reused.GetID()))
	mustOK(t, "revoke access family", a.RevokeAccessToken(ctx, reused.GetID()))
	_, err = b.GetRefreshTokenSession(ctx, "rt2", nil)
	wantErr(t, "rt2 after family revocation", err, fosite.ErrNotFound)
	// The revoking instance refuses at once; the other once its watch
	// delivers the marker.
	_, err = a.GetAccessTokenSession(ctx, at2, nil)
	wantErr(t, "at2 after family revocation, on a", err, fosite.ErrNotFound)
	waitFor(t, "b refusing at1 and at2 of the revoked family", func() bool {
		_, e1 := b.GetAccessTokenSession(ctx, at1, nil)
		_, e2 := b.GetAccessTokenSession(ctx, at2, nil)
		return errors.Is(e1, fosite.ErrNotFound) && errors.Is(e2, fosite.ErrNotFound)
	})
	// A token a concurrent rotation writes after the revocation is dead too.
	mustOK(t, "rt3 after revocation", b.CreateRefreshTokenSession(ctx, "rt3", "", ar))
	_, err = a.GetRefreshTokenSession(ctx, "rt3", nil)
	wantErr(t, "rt3 of the revoked family", err, fosite.ErrNotFound)
	mustOK(t, "revoking twice", a.RevokeFamily(ctx, "family-1"))

	// Revoking a family's access tokens covers those issued until then,
	// not those a later (legitimate) refresh issues — even within the
	// same second (the jti tells the nanosecond of issue).
	ar2 := authorizeRequest("family-2", app, clk.Now(), a.Lifetimes())
	f2at1 := ai.issue(t, ar2)
	clk.Advance(time.Millisecond)
	mustOK(t, "revoke f2 access", a.RevokeAccessToken(ctx, "family-2"))
	clk.Advance(time.Millisecond)
	f2at2 := ai.issue(t, ar2)
	_, err = a.GetAccessTokenSession(ctx, f2at1, nil)
	wantErr(t, "f2-at1 revoked", err, fosite.ErrNotFound)
	_, err = a.GetAccessTokenSession(ctx, f2at2, nil)
	mustOK(t, "f2-at2 issued after the revocation", err)

	// A disabled or deleted user's tokens are refused.
	ar5 := authorizeRequest("family-5", app, clk.Now(), a.Lifetimes())
	f5 := ai.issue(t, ar5)
	_, err = a.GetAccessTokenSession(ctx, f5, nil)
	mustOK(t, "f5 while alice is enabled", err)
	cc5, _, err := ai.keys.IssueAccessToken(AccessTokenRequest{Issuer: testIssuer, Account: "acme", User: "alice", ClientID: "app"})
	mustOK(t, "cc5", err)
	_, err = a.GetAccessTokenSession(ctx, cc5, nil)
	mustOK(t, "cc5 while alice is enabled", err)
	if _, _, err := st1.PutItem(ctx, "acme", storage.KindUser, "alice", storage.UpdateOnly,
		storagetest.SetTo(storage.User{Email: "alice@example.com", Enabled: false, Created: 1700000000}.Encode()), nil); err != nil {
		t.Fatal(err)
	}
	_, err = a.GetAccessTokenSession(ctx, f5, nil)
	wantErr(t, "token of a disabled user", err, fosite.ErrNotFound)
	_, err = a.GetAccessTokenSession(ctx, cc5, nil)
	wantErr(t, "a client credentials token of a disabled user", err, fosite.ErrNotFound)
	if _, _, err := st1.PutItem(ctx, "acme", storage.KindUser, "alice", storage.UpdateOnly,
		storagetest.SetTo(storagetest.RecordFor(storage.KindUser, "alice")), nil); err != nil {
		t.Fatal(err)
	}
	// Disabling ended alice's sign-in sessions for good; a token without
	// one (client credentials) works again once she is enabled.
	_, err = a.GetAccessTokenSession(ctx, f5, nil)
	wantErr(t, "a signed-in token after disabling and enabling", err, fosite.ErrNotFound)
	_, err = a.GetAccessTokenSession(ctx, cc5, nil)
	mustOK(t, "a client credentials token once alice is enabled again", err)

	// Concurrent rotations of one refresh token: exactly one proceeds.
	ar3 := authorizeRequest("family-3", app, clk.Now(), a.Lifetimes())
	mustOK(t, "f3 rt", a.CreateRefreshTokenSession(ctx, "f3-rt", "", ar3))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if s.RotateRefreshToken(ctx, "family-3", "f3-rt") == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent rotations succeeded; want 1", wins.Load())
	}

	// A token whose client is deleted is unknown.
	ar4 := authorizeRequest("family-4", app, clk.Now(), a.Lifetimes())
	other, _ := cl.Client(ctx, "other")
	ar4.Client = other
	f4at := ai.issue(t, ar4)
	mustOK(t, "f4 at", a.CreateAccessTokenSession(ctx, f4at, ar4))
	mustOK(t, "f4 rt", a.CreateRefreshTokenSession(ctx, "f4-rt", f4at, ar4))
	cl.Delete("other")
	_, err = b.GetAccessTokenSession(ctx, f4at, nil)
	wantErr(t, "access token of a deleted client", err, fosite.ErrNotFound)
	_, err = b.GetRefreshTokenSession(ctx, "f4-rt", nil)
	wantErr(t, "refresh token of a deleted client", err, fosite.ErrNotFound)

	// Refresh tokens live 30 days by default.
	clk.Advance(30 * 24 * time.Hour)
	mustOK(t, "f5 rt", a.CreateRefreshTokenSession(ctx, "f5-rt", "", authorizeRequest("family-5", app, clk.Now(), a.Lifetimes())))
	clk.Advance(30*24*time.Hour - time.Second)
	_, err = a.GetRefreshTokenSession(ctx, "f5-rt", nil)
	mustOK(t, "refresh token just before 30 days", err)
	clk.Advance(time.Second)
	_, err = a.GetRefreshTokenSession(ctx, "f5-rt", nil)
	wantErr(t, "refresh token at 30 days", err, fosite.ErrNotFound)
}

// TestRefreshInOneTransaction: within a token request the rotation waits
// for the new refresh token and both are written in one guarded etcd
// transaction: of two requests that read the same token one wins, and a
// family revoked between the read and the write stops the write.
func TestRefreshInOneTransaction(t *testing.T) {
	st := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	cl := newClients("app")
	app, _ := cl.Client(ctx, "app")
	s := NewTokenStore(StoreConfig{Tokens: st, Directory: st, Clients: cl})
	ar := authorizeRequest("fam-tx", app, time.Now(), s.Lifetimes())
	mustOK(t, "rt0", s.CreateRefreshTokenSession(ctx, "rt0", "", ar))

	refresh := func(ctx context.Context, old, next string) error {
		if _, err := s.GetRefreshTokenSession(ctx, old, nil); err != nil {
			return err
		}
		if err := s.RotateRefreshToken(ctx, "fam-tx", old); err != nil {
			return err
		}
		return s.CreateRefreshTokenSession(ctx, next, "", ar)
	}
	// Two requests read rt0, then both write: exactly one succeeds.
	c1, c2 := WithTokenRequest(ctx), WithTokenRequest(ctx)
	_, err := s.GetRefreshTokenSession(c1, "rt0", nil)
	mustOK(t, "read 1", err)
	_, err = s.GetRefreshTokenSession(c2, "rt0", nil)
	mustOK(t, "read 2", err)
	mustOK(t, "rotate 1", s.RotateRefreshToken(c1, "fam-tx", "rt0"))
	mustOK(t, "rotate 2", s.RotateRefreshToken(c2, "fam-tx", "rt0"))
	// Nothing is written before the new token is.
	if _, err := s.GetRefreshTokenSession(ctx, "rt0", nil); err != nil {
		t.Errorf("rt0 before any commit: %v, want still valid", err)
	}
	mustOK(t, "commit 1", s.CreateRefreshTokenSession(c1, "rt1", "", ar))
	wantErr(t, "commit 2", s.CreateRefreshTokenSession(c2, "rt1b", "", ar), fosite.ErrSerializationFailure)
	if _, err := st.GetToken(ctx, kindRefresh, tokenID("rt1b")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the losing request's refresh token was stored: %v", err)
	}
	_, err = s.GetRefreshTokenSession(ctx, "rt0", nil)
	wantErr(t, "rt0 after its rotation", err, fosite.ErrInactiveToken)
	mustOK(t, "refresh rt1", refresh(WithTokenRequest(ctx), "rt1", "rt2"))

	// The family is revoked between a request's read and its write.
	c3 := WithTokenRequest(ctx)
	_, err = s.GetRefreshTokenSession(c3, "rt2", nil)
	mustOK(t, "read rt2", err)
	mustOK(t, "rotate rt2", s.RotateRefreshToken(c3, "fam-tx", "rt2"))
	mustOK(t, "revoke", s.RevokeRefreshToken(ctx, "fam-tx"))
	wantErr(t, "commit after revocation", s.CreateRefreshTokenSession(c3, "rt3", "", ar), fosite.ErrSerializationFailure)
	_, err = s.GetRefreshTokenSession(ctx, "rt3", nil)
	wantErr(t, "rt3", err, fosite.ErrNotFound)
}
