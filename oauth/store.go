package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"

	"gatehouse/storage"
)

// TokenBackend is the leased, uncached token API of storage.Store
// (storage/tokens.go): each value expires by itself after its TTL, and
// TakeToken reads and deletes in one etcd transaction.
type TokenBackend interface {
	CreateToken(ctx context.Context, kind, id string, value []byte, ttl time.Duration) error
	GetToken(ctx context.Context, kind, id string) ([]byte, error)
	DeleteToken(ctx context.Context, kind, id string) error
	TakeToken(ctx context.Context, kind, id string) ([]byte, error)
	GetTokens(ctx context.Context, refs ...storage.TokenRef) ([]storage.TokenRead, error)
	PeekTokens(ctx context.Context, refs ...storage.TokenRef) ([]storage.TokenRead, error)
	SwapTokens(ctx context.Context, guards []storage.TokenGuard, puts []storage.TokenPut) error
}

var _ TokenBackend = (*storage.Store)(nil)

// Token kinds (storage token kinds: letters, digits, . _ ~ -).
const (
	kindCode          = "oauth-code"   // authorization code → requester (Used once redeemed)
	kindPKCE          = "oauth-pkce"   // authorization code → requester with the PKCE challenge
	kindOIDC          = "oauth-oidc"   // authorization code → OpenID Connect requester
	kindRefresh       = "oauth-rt"     // refresh token signature → requester (Used once rotated)
	kindFamilyRefresh = "oauth-fam-rt" // family id → refresh tokens revoked at
)

// kindFamilyAccess is the marker kind (storage.PutMarker: in every
// instance's cache) of a family whose access tokens issued until the
// stored moment are revoked.
const kindFamilyAccess = "oauth-fam-at"

// revocationMargin keeps a family's revocation marker a little past the
// longest life of a token it covers.
const revocationMargin = time.Minute

// TokenStore is fosite's token state over storage's leased tokens: every
// code, PKCE and OpenID Connect session, access and refresh token is one
// etcd key whose TTL is its lifetime, so nothing lives only in memory and
// any instance sharing the etcd can finish a flow another started.
//
// Implements oauth2.CoreStorage (authorization codes, access and refresh
// tokens), oauth2.TokenRevocationStorage, pkce.PKCERequestStorage and
// openid.OpenIDConnectRequestStorage.
type TokenStore struct {
	tokens  TokenBackend
	dir     Directory
	verify  AccessVerifier
	clients ClientSource
	life    Lifetimes
	now     func() time.Time
}

// Directory is what the TokenStore reads from the watch-fed cache (users,
// revocation markers) and the marker it writes: storage.Store.
type Directory interface {
	Read(ctx context.Context, minRev int64, fn func(storage.View) error) error
	PutMarker(ctx context.Context, kind, id string, value []byte, ttl time.Duration) (int64, error)
	ReadSession(ctx context.Context, a, u, id string, now time.Time) (storage.Session, bool, error)
}

var _ Directory = (*storage.Store)(nil)

// AccessVerifier verifies an access token's signature and claims
// (KeySet.VerifyAccessToken with the issuer); refusals wrap
// ErrInvalidToken.
type AccessVerifier func(ctx context.Context, token string) (*AccessClaims, error)

var (
	_ oauth2.CoreStorage                 = (*TokenStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*TokenStore)(nil)
	_ pkce.PKCERequestStorage            = (*TokenStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*TokenStore)(nil)
)

// StoreConfig configures a TokenStore.
type StoreConfig struct {
	Tokens    TokenBackend // usually the *storage.Store
	Directory Directory    // usually the *storage.Store
	Verify    AccessVerifier
	Clients   ClientSource
	Lifetimes Lifetimes        // zero fields take DefaultLifetimes
	Now       func() time.Time // the clock expiries are judged by; time.Now if nil
}

// NewTokenStore returns a TokenStore.
func NewTokenStore(c StoreConfig) *TokenStore {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &TokenStore{tokens: c.Tokens, dir: c.Directory, verify: c.Verify, clients: c.Clients,
		life: c.Lifetimes.withDefaults(), now: c.Now}
}

// Lifetimes returns the store's lifetimes (defaults filled in).
func (s *TokenStore) Lifetimes() Lifetimes { return s.life }

// record is the stored form of a requester.
type record struct {
	ID                string          `json:"id"` // the request id: the token family
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope,omitempty"`
	GrantedScope      []string        `json:"granted_scope,omitempty"`
	RequestedAudience []string        `json:"requested_audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form,omitempty"`
	Subject           string          `json:"subject,omitempty"` // account\user
	Session           json.RawMessage `json:"session"`
	Stored            time.Time       `json:"stored"`  // when this record was written
	Expires           time.Time       `json:"expires"` // the token's expiry; the lease's too
	Used              bool            `json:"used,omitempty"`
}

// tokenID is the storage id of a token signature, code or family id: the
// base64url SHA-256 of it, so every id is 43 valid characters whatever
// the client sent, and etcd keys do not hold the signatures themselves.
func tokenID(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// expiry is when a token of type tt of req expires: its session's expiry
// if set, else lifetime from now.
func expiry(req fosite.Requester, tt fosite.TokenType, now time.Time, lifetime time.Duration) time.Time {
	if sess := req.GetSession(); sess != nil {
		if exp := sess.GetExpiresAt(tt); !exp.IsZero() {
			return exp
		}
	}
	return now.Add(lifetime)
}

func encodeRecord(req fosite.Requester, now, exp time.Time) (*record, error) {
	if req == nil || req.GetClient() == nil {
		return nil, errors.New("oauth: storing a requester without a client")
	}
	sess, err := json.Marshal(req.GetSession())
	if err != nil {
		return nil, fmt.Errorf("oauth: encoding session: %w", err)
	}
	r := &record{
		ID:                req.GetID(),
		RequestedAt:       req.GetRequestedAt(),
		ClientID:          req.GetClient().GetID(),
		RequestedScope:    req.GetRequestedScopes(),
		GrantedScope:      req.GetGrantedScopes(),
		RequestedAudience: req.GetRequestedAudience(),
		GrantedAudience:   req.GetGrantedAudience(),
		Form:              req.GetRequestForm(),
		Session:           sess,
		Stored:            now,
		Expires:           exp,
	}
	if req.GetSession() != nil {
		r.Subject = req.GetSession().GetSubject()
	}
	return r, nil
}

// put stores rec as kind/tokenID(key) until rec.Expires.
func (s *TokenStore) put(ctx context.Context, kind, key string, rec *record) error {
	ttl := rec.Expires.Sub(s.now())
	if ttl <= 0 {
		return fmt.Errorf("oauth: %s expired before it was stored: %w", kind, fosite.ErrTokenExpired)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.tokens.CreateToken(ctx, kind, tokenID(key), b, ttl)
}

func (s *TokenStore) create(ctx context.Context, kind, key string, req fosite.Requester, tt fosite.TokenType, lifetime time.Duration, fill func(*record)) error {
	now := s.now()
	rec, err := encodeRecord(req, now, expiry(req, tt, now, lifetime))
	if err != nil {
		return err
	}
	if fill != nil {
		fill(rec)
	}
	return s.put(ctx, kind, key, rec)
}

// notFound maps storage's absent or invalid to fosite.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return fosite.ErrNotFound.WithWrap(err)
	}
	return err
}

func decodeRecord(b []byte) (*record, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("oauth: decoding stored token: %w", err)
	}
	return &rec, nil
}

// load reads kind/tokenID(key): the record, expired records as absent.
func (s *TokenStore) load(ctx context.Context, kind, key string) (*record, error) {
	b, err := s.tokens.GetToken(ctx, kind, tokenID(key))
	if err != nil {
		return nil, notFound(err)
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(rec.Expires) {
		return nil, fosite.ErrNotFound.WithDebug("the token has expired")
	}
	return rec, nil
}

// requester rebuilds the request of rec, its session decoded into sess
// (a new *Session if nil) and its client re-resolved: a client that no
// longer exists makes the token unknown.
func (s *TokenStore) requester(ctx context.Context, rec *record, sess fosite.Session) (*fosite.Request, error) {
	client, err := s.clients.Client(ctx, rec.ClientID)
	if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound.WithWrap(err).WithDebug("the token's client no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if sess == nil {
		sess = new(Session)
	}
	if len(rec.Session) > 0 && string(rec.Session) != "null" {
		if err := json.Unmarshal(rec.Session, sess); err != nil {
			return nil, fmt.Errorf("oauth: decoding stored session: %w", err)
		}
	}
	return &fosite.Request{
		ID:                rec.ID,
		RequestedAt:       rec.RequestedAt,
		Client:            client,
		RequestedScope:    fosite.Arguments(rec.RequestedScope),
		GrantedScope:      fosite.Arguments(rec.GrantedScope),
		RequestedAudience: fosite.Arguments(rec.RequestedAudience),
		GrantedAudience:   fosite.Arguments(rec.GrantedAudience),
		Form:              rec.Form,
		Session:           sess,
	}, nil
}

func (s *TokenStore) get(ctx context.Context, kind, key string, sess fosite.Session) (*fosite.Request, *record, error) {
	rec, err := s.load(ctx, kind, key)
	if err != nil {
		return nil, nil, err
	}
	req, err := s.requester(ctx, rec, sess)
	if err != nil {
		return nil, nil, err
	}
	return req, rec, nil
}

// remove deletes kind/tokenID(key); absent is success (fosite deletes
// what may already have expired).
func (s *TokenStore) remove(ctx context.Context, kind, key string) error {
	err := s.tokens.DeleteToken(ctx, kind, tokenID(key))
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return nil
	}
	return err
}

// markUsed takes kind/tokenID(key) (exactly one caller gets it) and puts
// it back marked used until keep. It returns the record as it was
// taken; fosite.ErrNotFound if it was absent or expired (or another
// caller holds it at this moment).
func (s *TokenStore) markUsed(ctx context.Context, kind, key string, keep time.Time) (*record, error) {
	b, err := s.tokens.TakeToken(ctx, kind, tokenID(key))
	if err != nil {
		return nil, notFound(err)
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, err
	}
	was := *rec
	rec.Used = true
	if keep.After(rec.Expires) {
		rec.Expires = keep
	}
	if rec.Expires.After(s.now()) {
		if err := s.put(ctx, kind, key, rec); err != nil && !errors.Is(err, storage.ErrNameTaken) {
			return nil, err
		}
	}
	return &was, nil
}

// --- authorization codes (oauth2.AuthorizeCodeStorage) ---

// CreateAuthorizeCodeSession stores the request of an authorization code
// for the code's lifetime.
func (s *TokenStore) CreateAuthorizeCodeSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, kindCode, code, req, fosite.AuthorizeCode, s.life.Code, nil)
}

// GetAuthorizeCodeSession returns the request of code; a redeemed code
// returns it with fosite.ErrInvalidatedAuthorizeCode (fosite then
// revokes what the first redemption issued).
func (s *TokenStore) GetAuthorizeCodeSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	req, rec, err := s.get(ctx, kindCode, code, sess)
	if err != nil {
		return nil, err
	}
	if rec.Used {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession redeems code: the record is taken in
// one etcd transaction, so of two concurrent redemptions exactly one
// succeeds, and put back marked used (for replay detection) for at least
// a code lifetime.
func (s *TokenStore) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	was, err := s.markUsed(ctx, kindCode, code, s.now().Add(s.life.Code))
	if err != nil {
		return err
	}
	if was.Used {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return nil
}

// --- PKCE (pkce.PKCERequestStorage) ---

// CreatePKCERequestSession stores the request holding code's PKCE
// challenge (form values code_challenge, code_challenge_method).
func (s *TokenStore) CreatePKCERequestSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, kindPKCE, code, req, fosite.AuthorizeCode, s.life.Code, nil)
}

// GetPKCERequestSession returns the PKCE request of code.
func (s *TokenStore) GetPKCERequestSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, kindPKCE, code, sess)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession removes the PKCE request of code.
func (s *TokenStore) DeletePKCERequestSession(ctx context.Context, code string) error {
	return s.remove(ctx, kindPKCE, code)
}

// --- OpenID Connect (openid.OpenIDConnectRequestStorage) ---

// CreateOpenIDConnectSession stores the OpenID Connect request of an
// authorization code.
func (s *TokenStore) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, kindOIDC, code, req, fosite.AuthorizeCode, s.life.Code, nil)
}

// GetOpenIDConnectSession returns the OpenID Connect request of code
// (its session decoded into the given requester's session);
// openid.ErrNoSessionFound if there is none.
func (s *TokenStore) GetOpenIDConnectSession(ctx context.Context, code string, requester fosite.Requester) (fosite.Requester, error) {
	var sess fosite.Session
	if requester != nil {
		sess = requester.GetSession()
	}
	req, _, err := s.get(ctx, kindOIDC, code, sess)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession removes the OpenID Connect request of code.
func (s *TokenStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.remove(ctx, kindOIDC, code)
}

// --- access tokens (oauth2.AccessTokenStorage) ---

// Access tokens are stateless: nothing is written when one is issued
// (its "signature" for fosite is the token itself, see accessStrategy),
// and reading one back verifies the JWT (KeySet's verification cache
// makes a repeat cheap) and rebuilds its request from the claims. What
// can end a token before its expiry is read from the watch-fed cache,
// never from etcd: a revocation marker of its family, its client gone,
// its user gone, disabled or re-created since. So introspection and the
// bearer check cost no etcd round trip, and any instance judges a token
// as the others do.

// CreateAccessTokenSession stores nothing: the token carries its request.
func (s *TokenStore) CreateAccessTokenSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetAccessTokenSession returns the request of an access token (the
// token itself is its signature); fosite.ErrNotFound if it does not
// verify, has expired, its family's access tokens were revoked after it
// was issued, or its client or user is gone (or the user disabled).
func (s *TokenStore) GetAccessTokenSession(ctx context.Context, token string, sess fosite.Session) (fosite.Requester, error) {
	c, err := s.AccessToken(ctx, token)
	if err != nil {
		return nil, err
	}
	client, err := s.clients.Client(ctx, c.ClientID)
	if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound.WithWrap(err).WithDebug("the token's client no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if sess == nil {
		sess = new(Session)
	}
	user := c.Subject[len(c.Account)+1:]
	if gs, ok := sess.(*Session); ok {
		if gs.DefaultSession.Claims == nil {
			gs.DefaultSession = *openid.NewDefaultSession()
		}
		fillOwner(gs, c.Account, user)
		gs.Claims.AuthTime = c.IssuedAt.Time()
	} else if ds, ok := sess.(*openid.DefaultSession); ok {
		ds.Subject = c.Subject
	}
	sess.SetExpiresAt(fosite.AccessToken, c.Expiry.Time())
	scopes := fosite.Arguments(c.Scopes())
	return &fosite.Request{
		ID:                c.Family(),
		RequestedAt:       c.IssuedAt.Time(),
		Client:            client,
		RequestedScope:    scopes,
		GrantedScope:      scopes,
		RequestedAudience: fosite.Arguments(c.Audience),
		GrantedAudience:   fosite.Arguments(c.Audience),
		Form:              url.Values{},
		Session:           sess,
	}, nil
}

// AccessToken verifies token and returns its claims if it is live:
// fosite.ErrNotFound if it does not verify, has expired, its family's
// access tokens were revoked after it was issued, its user no longer
// exists, is disabled, or was created after it (a namesake), or — for a
// token of a signed-in user's grant (sid) — its sign-in session is gone
// (revoked, or the user disabled meanwhile). Its client is the caller's
// check (GetAccessTokenSession resolves it).
func (s *TokenStore) AccessToken(ctx context.Context, token string) (*AccessClaims, error) {
	if s.verify == nil {
		return nil, errors.New("oauth: the token store has no access token verifier")
	}
	c, err := s.verify(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return nil, fosite.ErrNotFound.WithWrap(err).WithDebug(err.Error())
	}
	if err != nil {
		return nil, err
	}
	var (
		why     string
		session bool // the token's sign-in session is in the view
	)
	err = s.dir.Read(ctx, 0, func(v storage.View) error {
		why = s.accessRevoked(v, c)
		if why == "" && c.SessionID != "" {
			_, session = v.LiveSession(c.Account, c.Subject[len(c.Account)+1:], c.SessionID, s.now())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if why != "" {
		return nil, fosite.ErrNotFound.WithDebug(why)
	}
	if c.SessionID != "" && !session {
		// Not in this instance's cache: revoked, or recorded by another
		// instance a moment ago (ReadSession asks etcd once).
		_, ok, err := s.dir.ReadSession(ctx, c.Account, c.Subject[len(c.Account)+1:], c.SessionID, s.now())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fosite.ErrNotFound.WithDebug("the token's sign-in session was revoked or has expired")
		}
	}
	return c, nil
}

// accessRevoked says why the verified token c is no longer live in v, ""
// if it is.
func (s *TokenStore) accessRevoked(v storage.View, c *AccessClaims) string {
	user, ok := v.User(c.Account, c.Subject[len(c.Account)+1:])
	switch {
	case !ok:
		return "the token's user no longer exists"
	case !user.Enabled:
		return "the token's user is disabled"
	case c.Issued().Unix() < user.Created:
		return "the token was issued to an earlier user of that name"
	}
	if b, ok := v.Marker(kindFamilyAccess, tokenID(c.Family()), s.now()); ok {
		at, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil || !c.Issued().After(at) {
			return "the token was revoked"
		}
	}
	return ""
}

// Family is the token family of an access token: its sign-in session
// (sid) if it has one, else the token alone (its jti).
func (c *AccessClaims) Family() string {
	if c.SessionID != "" {
		return c.SessionID
	}
	return c.ID
}

// DeleteAccessTokenSession has nothing to delete (tokens are stateless):
// revocation is by family (RevokeAccessToken).
func (s *TokenStore) DeleteAccessTokenSession(context.Context, string) error {
	return nil
}

// --- refresh tokens (oauth2.RefreshTokenStorage) ---

// GetRefreshTokenSession returns the request of a refresh token. A
// rotated token comes back with fosite.ErrInactiveToken (fosite then
// revokes its family: reuse detection); a token of a revoked family is
// fosite.ErrNotFound. Within a token request (WithTokenRequest) it reads
// without etcd's linearizability wait (PeekTokens: the rotation that
// follows is guarded on what was read, and rereads what it did not find)
// and remembers what it read, so the rotation does not read again.
func (s *TokenStore) GetRefreshTokenSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	tr := tokenRequestFrom(ctx)
	rec, rev, err := s.loadRev(ctx, kindRefresh, signature, tr != nil)
	if err != nil {
		return nil, err
	}
	req, err := s.requester(ctx, rec, sess)
	if err != nil {
		return nil, err
	}
	if rec.Used {
		return req, fosite.ErrInactiveToken
	}
	revoked, err := s.refreshFamilyRevoked(ctx, rec.ID, tr != nil)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, fosite.ErrNotFound.WithDebug("the token's family was revoked")
	}
	if tr != nil {
		tr.read = &refreshRead{signature: signature, rev: rev, rec: rec}
	}
	return req, nil
}

// refreshFamilyRevoked reports whether the refresh tokens of family were
// revoked (peek: without the linearizability wait, for a caller whose
// write is guarded on the marker's absence).
func (s *TokenStore) refreshFamilyRevoked(ctx context.Context, family string, peek bool) (bool, error) {
	if !peek {
		revoked, _, err := s.familyRevoked(ctx, kindFamilyRefresh, family)
		return revoked, err
	}
	reads, err := s.tokens.PeekTokens(ctx, storage.TokenRef{Kind: kindFamilyRefresh, ID: tokenID(family)})
	if err != nil {
		return false, err
	}
	return reads[0].Found, nil
}

// loadRev is load with the record's etcd revision; peek reads first
// without the linearizability wait (PeekTokens), and linearizably only
// what that did not find.
func (s *TokenStore) loadRev(ctx context.Context, kind, key string, peek bool) (*record, int64, error) {
	ref := storage.TokenRef{Kind: kind, ID: tokenID(key)}
	var (
		reads []storage.TokenRead
		err   error
	)
	if peek {
		reads, err = s.tokens.PeekTokens(ctx, ref)
	}
	if err == nil && (len(reads) == 0 || !reads[0].Found) {
		reads, err = s.tokens.GetTokens(ctx, ref)
	}
	if err != nil {
		return nil, 0, notFound(err)
	}
	if !reads[0].Found {
		return nil, 0, fosite.ErrNotFound.WithDebug("no such token")
	}
	rec, err := decodeRecord(reads[0].Value)
	if err != nil {
		return nil, 0, err
	}
	if !s.now().Before(rec.Expires) {
		return nil, 0, fosite.ErrNotFound.WithDebug("the token has expired")
	}
	return rec, reads[0].Rev, nil
}

// DeleteRefreshTokenSession removes a refresh token (absent is success).
func (s *TokenStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.remove(ctx, kindRefresh, signature)
}

// CreateRefreshTokenSession stores a refresh token's request. After a
// rotation within the same token request (WithTokenRequest) it commits
// both in one etcd transaction: the old token marked used and the new
// one written, guarded on the old one being as it was read and its
// family unrevoked.
func (s *TokenStore) CreateRefreshTokenSession(ctx context.Context, signature, _ string, req fosite.Requester) error {
	now := s.now()
	rec, err := encodeRecord(req, now, expiry(req, fosite.RefreshToken, now, s.life.Refresh))
	if err != nil {
		return err
	}
	tr := tokenRequestFrom(ctx)
	if tr == nil || tr.rotation == nil {
		return s.put(ctx, kindRefresh, signature, rec)
	}
	rot := tr.rotation
	tr.rotation = nil
	ttl := rec.Expires.Sub(now)
	if ttl <= 0 {
		return fmt.Errorf("oauth: refresh token expired before it was stored: %w", fosite.ErrTokenExpired)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.commitRotation(ctx, rot, &storage.TokenPut{TokenRef: storage.TokenRef{Kind: kindRefresh, ID: tokenID(signature)}, Value: b, TTL: ttl})
}

// RotateRefreshToken retires the refresh token being exchanged: it is
// marked used until its own expiry (so a later reuse is detected) by a
// write guarded on the token being as it was read — of two concurrent
// refreshes with one token exactly one proceeds; the other gets
// fosite.ErrSerializationFailure, which fosite answers "retry". Within a
// token request the write waits for the new refresh token and both go in
// one transaction (CreateRefreshTokenSession). The access token issued
// with the old refresh token lives on until it expires (RFC 6749 §6
// does not ask otherwise, and tokens are stateless); reuse of the old
// refresh token revokes the whole family, access tokens included.
func (s *TokenStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	tr := tokenRequestFrom(ctx)
	var (
		rec *record
		rev int64
	)
	if tr != nil && tr.read != nil && tr.read.signature == signature {
		rec, rev = tr.read.rec, tr.read.rev
	} else {
		var err error
		if rec, rev, err = s.loadRev(ctx, kindRefresh, signature, false); err != nil {
			return err
		}
	}
	if rec.Used {
		return fosite.ErrInactiveToken
	}
	if rec.ID != requestID {
		return fosite.ErrNotFound.WithDebug("the refresh token belongs to another request")
	}
	used := *rec
	used.Used = true
	rot := &rotation{signature: signature, rev: rev, used: &used}
	if tr != nil {
		tr.rotation = rot
		return nil
	}
	return s.commitRotation(ctx, rot, nil)
}

// commitRotation writes rot (and next, the new refresh token, if any) in
// one etcd transaction guarded on the old token's revision and on its
// family having no revocation marker.
func (s *TokenStore) commitRotation(ctx context.Context, rot *rotation, next *storage.TokenPut) error {
	old := storage.TokenRef{Kind: kindRefresh, ID: tokenID(rot.signature)}
	guards := []storage.TokenGuard{{TokenRef: old, Rev: rot.rev},
		{TokenRef: storage.TokenRef{Kind: kindFamilyRefresh, ID: tokenID(rot.used.ID)}}}
	var puts []storage.TokenPut
	if ttl := rot.used.Expires.Sub(s.now()); ttl > 0 {
		b, err := json.Marshal(rot.used)
		if err != nil {
			return err
		}
		puts = append(puts, storage.TokenPut{TokenRef: old, Value: b, TTL: ttl})
	}
	if next != nil {
		puts = append(puts, *next)
	}
	if len(puts) == 0 {
		return fosite.ErrNotFound.WithDebug("the refresh token has expired")
	}
	err := s.tokens.SwapTokens(ctx, guards, puts)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrSerializationFailure.WithWrap(err)
	}
	return err
}

// tokenRequest is what the storage calls of one token request share
// (WithTokenRequest): the refresh token read and the rotation pending
// until the new refresh token is written.
type tokenRequest struct {
	read     *refreshRead
	rotation *rotation
}

type refreshRead struct {
	signature string
	rev       int64
	rec       *record
}

type rotation struct {
	signature string
	rev       int64
	used      *record
}

type tokenRequestKey struct{}

// WithTokenRequest returns ctx for one token request: the refresh grant
// then reads the refresh token once and rotates it in the same etcd
// transaction that writes its successor (one read and one write a
// refresh, beside the revocation check).
func WithTokenRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, tokenRequestKey{}, &tokenRequest{})
}

func tokenRequestFrom(ctx context.Context) *tokenRequest {
	tr, _ := ctx.Value(tokenRequestKey{}).(*tokenRequest)
	return tr
}

// --- revocation (oauth2.TokenRevocationStorage) ---

// The request id fosite gives a grant is kept by every refresh of it
// (fosite sets the refreshed request's id to the original's), so it names
// the grant's token family: revocation is by family, recorded as a
// leased marker that every read of a token in the family checks, so it
// takes effect at once on every instance, also for a token a concurrent
// rotation writes after the marker.

func (s *TokenStore) familyRevoked(ctx context.Context, kind, family string) (bool, time.Time, error) {
	b, err := s.tokens.GetToken(ctx, kind, tokenID(family))
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, err
	}
	at, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return true, time.Time{}.Add(1<<63 - 1), nil // unreadable: revoked for good
	}
	return true, at, nil
}

// RevokeRefreshToken revokes every refresh token of the family
// requestID, present and future: a leased token read from etcd by every
// refresh (ErrNameTaken: revoked already, for good).
func (s *TokenStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	at := []byte(s.now().UTC().Format(time.RFC3339Nano))
	err := s.tokens.CreateToken(ctx, kindFamilyRefresh, tokenID(requestID), at, s.life.Refresh+revocationMargin)
	if errors.Is(err, storage.ErrNameTaken) {
		return nil
	}
	return err
}

// RevokeAccessToken revokes every access token of the family requestID
// issued until now: a marker in every instance's cache (replacing an
// earlier one, so tokens issued since are covered too) that lives as
// long as the tokens it covers. This instance refuses them when it
// returns; the others as soon as their watch delivers the marker.
func (s *TokenStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	at := []byte(s.now().UTC().Format(time.RFC3339Nano))
	_, err := s.dir.PutMarker(ctx, kindFamilyAccess, tokenID(requestID), at, s.life.Access+revocationMargin)
	return err
}

// RevokeFamily revokes a whole token family (a sign-in session's
// grant): its refresh tokens and the access tokens issued so far.
func (s *TokenStore) RevokeFamily(ctx context.Context, family string) error {
	if err := s.RevokeRefreshToken(ctx, family); err != nil {
		return err
	}
	return s.RevokeAccessToken(ctx, family)
}
