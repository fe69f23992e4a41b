package ldapsignin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"gatehouse/api"
	"gatehouse/authn"
	"gatehouse/federation"
	"gatehouse/ldapdir"
	"gatehouse/storage"
)

// Timeouts of a sign-in's directory calls: a sign-in waits for them.
const (
	SignInDialTimeout    = 5 * time.Second
	SignInRequestTimeout = 10 * time.Second
)

// Config builds the ldapdir.Config of ldap provider p of account a from
// its stored record, opening the sealed bind password with key (the
// server key storage.ProviderSecretKeyName; nil when the record has no
// bind password). Plain ldap:// without start-tls is never allowed
// (AllowInsecure stays false), so ldapdir refuses it.
func Config(key []byte, a, p string, prov storage.Provider) (ldapdir.Config, error) {
	if prov.Type != storage.ProviderLDAP {
		return ldapdir.Config{}, fmt.Errorf("provider %q of account %q is of type %q, not ldap", p, a, prov.Type)
	}
	cfg := ldapdir.Config{
		URL:            prov.URL,
		StartTLS:       prov.StartTLS,
		CA:             prov.CA,
		BindDN:         prov.BindDN,
		UserBase:       prov.UserBase,
		UserFilter:     prov.UserFilter,
		LoginAttribute: prov.LoginAttribute,
		GroupBase:      prov.GroupBase,
		GroupFilter:    prov.GroupFilter,
		Mapping: ldapdir.Mapping{Name: prov.MapName, Email: prov.MapEmail, FullName: prov.MapFullName,
			Groups: prov.MapGroups},
	}
	if prov.BindPassword != "" {
		pw, err := storage.OpenProviderSecret(key, a, p, prov.BindPassword)
		if err != nil {
			return ldapdir.Config{}, fmt.Errorf("provider %q of account %q: the bind password does not open: %w", p, a, err)
		}
		cfg.BindPassword = pw
	}
	return cfg, nil
}

// newDirectory builds the Directory of a provider, explaining the one
// refusal administrators will meet most.
func newDirectory(cfg ldapdir.Config) (*ldapdir.Directory, error) {
	d, err := ldapdir.New(cfg)
	if err != nil && strings.HasPrefix(cfg.URL, "ldap://") && !cfg.StartTLS {
		return nil, fmt.Errorf("%w (plain ldap:// is refused: use ldaps:// or set <start-tls>true</start-tls>)", err)
	}
	return d, err
}

// Identity is the federated identity of a directory entry of ldap
// provider p of account a (cfg with its defaults): the subject is the
// entry's value of the login attribute (login, as typed, when the entry
// does not show it); the attributes are every raw attribute, dn, and the
// mapped name, email, full-name and groups.
func Identity(a, p string, cfg ldapdir.Config, e ldapdir.Entry, login string) federation.Identity {
	cfg = cfg.WithDefaults()
	attrs := make(map[string][]string, len(e.Attributes)+5)
	for k, vs := range e.Attributes {
		attrs[k] = vs
	}
	attrs["dn"] = []string{e.DN}
	mapped := func(name, v string) {
		if v != "" {
			attrs[name] = []string{v}
		} else {
			delete(attrs, name)
		}
	}
	mapped(federation.AttrName, e.Name)
	mapped(federation.AttrEmail, e.Email)
	mapped(federation.AttrFullName, e.FullName)
	attrs[federation.AttrGroups] = append([]string(nil), e.Groups...)
	subject := login
	if v := attrValue(e.Attributes, cfg.LoginAttribute); v != "" {
		subject = v
	}
	return federation.Identity{Type: federation.TypeLDAP, Account: a, Provider: p, Subject: subject, Attributes: attrs}
}

// attrValue is the first value of attribute name (its case ignored).
func attrValue(attrs map[string][]string, name string) string {
	if vs := attrs[name]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range attrs {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// UnavailableError is a sign-in no directory could answer: it unwraps to
// ldapdir.ErrUnavailable (the cause) and to an api.Problem 503, which the
// pipeline writes.
type UnavailableError struct {
	Account   string
	Providers []string // the providers that could not be asked
	Err       error    // the first cause
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the directory of account %q (ldap provider %s) is unavailable: %v", e.Account,
		strings.Join(e.Providers, ", "), e.Err)
}

// Unwrap gives the cause and the 503 problem.
func (e *UnavailableError) Unwrap() []error {
	return []error{e.Err, ldapdir.ErrUnavailable, &api.Problem{Status: http.StatusServiceUnavailable,
		Detail: fmt.Sprintf("the directory (ldap provider %s of account %q) is unavailable; retry later",
			strings.Join(e.Providers, ", "), e.Account)}}
}

// SignIn is the authn.DirectorySignIn of a store's ldap providers.
type SignIn struct {
	Store  *storage.Store
	Logger *slog.Logger
	Now    func() time.Time // for new users' creation time; time.Now if nil
}

var _ authn.DirectorySignIn = (*SignIn)(nil)

type ldapProvider struct {
	name string
	rec  storage.Provider
}

// providers lists account a's ldap providers, in name order.
func providers(ctx context.Context, store *storage.Store, a string) ([]ldapProvider, error) {
	var out []ldapProvider
	err := store.Read(ctx, 0, func(v storage.View) error {
		out = nil
		v.Each(storage.Providers(a), func(name, val string) bool {
			if rec, err := storage.DecodeProvider(val); err == nil && rec.Type == storage.ProviderLDAP {
				out = append(out, ldapProvider{name, rec})
			}
			return true
		})
		return nil
	})
	return out, err
}

func (s *SignIn) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// SignIn implements authn.DirectorySignIn (see the package doc).
func (s *SignIn) SignIn(ctx context.Context, account, login, password string) (authn.DirectoryUser, bool, error) {
	if password == "" || login == "" || storage.ValidName(account) != nil {
		return authn.DirectoryUser{}, false, nil
	}
	provs, err := providers(ctx, s.Store, account)
	if err != nil || len(provs) == 0 {
		return authn.DirectoryUser{}, false, err
	}
	var down *UnavailableError
	unavailable := func(p string, err error) {
		s.log().Warn("ldap sign-in: directory unavailable", "account", account, "provider", p, "err", err)
		if down == nil {
			down = &UnavailableError{Account: account, Err: err}
		}
		down.Providers = append(down.Providers, p)
	}
	var key []byte
	for _, p := range provs {
		if p.rec.BindPassword != "" && key == nil {
			if key, err = s.Store.ServerKey(ctx, storage.ProviderSecretKeyName); err != nil {
				return authn.DirectoryUser{}, false, err
			}
		}
		cfg, err := Config(key, account, p.name, p.rec)
		if err != nil {
			unavailable(p.name, err)
			continue
		}
		cfg.DialTimeout, cfg.RequestTimeout = SignInDialTimeout, SignInRequestTimeout
		dir, err := newDirectory(cfg)
		if err != nil {
			unavailable(p.name, err)
			continue
		}
		e, err := dir.Authenticate(ctx, login, password)
		switch {
		case errors.Is(err, ldapdir.ErrInvalidCredentials):
			continue
		case err != nil:
			unavailable(p.name, err)
			continue
		}
		id := Identity(account, p.name, dir.Config(), e, login)
		res, err := federation.ResolveWith(ctx, s.Store, id, federation.Options{Now: s.Now})
		var refusal string
		switch {
		case errors.Is(err, federation.ErrNoRule):
			refusal = "no rule admits this directory user; ask an administrator"
		case errors.Is(err, federation.ErrNameClash):
			refusal = "a local user of this name exists and is not linked to the directory user; ask an administrator"
		case errors.Is(err, federation.ErrInvalidIdentity):
			refusal = "the directory user cannot be signed in here (no valid user name); ask an administrator"
		case err != nil:
			return authn.DirectoryUser{}, false, err
		}
		if refusal != "" {
			s.log().Warn("ldap sign-in refused", "account", account, "provider", p.name,
				"principal", federation.PrincipalID(id), "err", err)
			return authn.DirectoryUser{Refusal: refusal}, false, nil
		}
		return authn.DirectoryUser{Account: res.Account, User: res.User}, true, nil
	}
	if down != nil {
		return authn.DirectoryUser{}, false, down
	}
	return authn.DirectoryUser{}, false, nil
}
