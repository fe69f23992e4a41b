package ldapsignin

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"gatehouse/api"
	"gatehouse/authn"
	"gatehouse/federation"
	"gatehouse/ldapdir"
	"gatehouse/ldapdir/slapdtest"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// fixture: a store with account corp (group printers, role printing),
// an ldap provider dir for slapd srv, and, with rule, an account rule
// mapping LDAP group printadmins to role printing.
func fixture(t *testing.T, srv *slapdtest.Server, ca string, rule bool) *storage.Store {
	t.Helper()
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "system", "", "*")
	storagetest.MustAccount(t, s, "corp", "system")
	storagetest.MustItem(t, s, "corp", storage.KindRole, "printing")
	putProvider(t, s, "corp", "dir", srv, ca)
	if rule {
		if _, _, err := s.PutRule(storagetest.Ctx(t), storage.AccountRules("corp"), "printadmins", storage.Upsert,
			func(storage.Rule, bool) (storage.Rule, error) {
				return storage.Rule{Conditions: []storage.RuleCondition{{Type: "ldap", Attribute: "groups", Pattern: "printadmins"}},
					Roles: []string{"printing"}}, nil
			}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func putProvider(t *testing.T, s *storage.Store, a, p string, srv *slapdtest.Server, ca string) {
	t.Helper()
	key, err := s.ServerKey(storagetest.Ctx(t), storage.ProviderSecretKeyName)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := storage.SealProviderSecret(key, a, p, slapdtest.ServicePassword)
	if err != nil {
		t.Fatal(err)
	}
	rec := storage.Provider{Type: storage.ProviderLDAP, URL: srv.URL, StartTLS: true, CA: ca,
		BindDN: slapdtest.ServiceDN, BindPassword: sealed, UserBase: slapdtest.PeopleBase,
		UserFilter: "(objectClass=inetOrgPerson)", LoginAttribute: "uid",
		MapName: "uid", MapEmail: "mail", MapFullName: "cn", MapGroups: "memberOf"}
	if _, _, err := s.PutItem(storagetest.Ctx(t), a, storage.KindProvider, p, storage.Upsert,
		storagetest.SetTo(rec.Encode()), nil); err != nil {
		t.Fatal(err)
	}
}

func TestConfigAndIdentity(t *testing.T) {
	key := make([]byte, 32)
	sealed, err := storage.SealProviderSecret(key, "corp", "dir", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	prov := storage.Provider{Type: storage.ProviderLDAP, URL: "ldap://dir.example", StartTLS: true,
		BindDN: "cn=svc,dc=example,dc=org", BindPassword: sealed, UserBase: "dc=example,dc=org",
		LoginAttribute: "mail", GroupBase: "ou=groups,dc=example,dc=org", MapName: "uid", MapGroups: "memberOf"}
	cfg, err := Config(key, "corp", "dir", prov)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BindPassword != "s3cret" || cfg.URL != prov.URL || !cfg.StartTLS || cfg.LoginAttribute != "mail" ||
		cfg.GroupBase != prov.GroupBase || cfg.Mapping.Name != "uid" || cfg.AllowInsecure {
		t.Errorf("Config = %+v", cfg)
	}
	// The sealed password is bound to its provider.
	if _, err := Config(key, "corp", "other", prov); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a password sealed for another provider opened (or leaked): %v", err)
	}
	if _, err := Config(key, "corp", "dir", storage.Provider{Type: storage.ProviderSAML}); err == nil {
		t.Error("a saml provider gave an ldap config")
	}
	// Plain ldap:// without start-tls is refused, saying what to do.
	plain := cfg
	plain.StartTLS = false
	if _, err := newDirectory(plain); !errors.Is(err, ldapdir.ErrInvalidConfig) || !strings.Contains(err.Error(), "start-tls") {
		t.Errorf("plain ldap:// = %v, want refused naming start-tls", err)
	}

	e := ldapdir.Entry{DN: "uid=Ann,ou=people,dc=example,dc=org", Name: "ann", Email: "ann@example.org",
		Groups: []string{"printadmins"}, Attributes: map[string][]string{"Mail": {"Ann@Example.org"},
			"uid": {"Ann"}, "memberOf": {"cn=printadmins,ou=groups,dc=example,dc=org"}}}
	id := Identity("corp", "dir", cfg, e, "typed")
	if id.Type != federation.TypeLDAP || id.Account != "corp" || id.Provider != "dir" || id.Subject != "Ann@Example.org" {
		t.Errorf("identity %+v: want the login attribute's value (mail, any case) as subject", id)
	}
	for k, want := range map[string]string{"name": "ann", "email": "ann@example.org", "groups": "printadmins",
		"dn": e.DN, "memberOf": "cn=printadmins,ou=groups,dc=example,dc=org", "uid": "Ann"} {
		if vs := id.Attributes[k]; len(vs) != 1 || vs[0] != want {
			t.Errorf("attribute %s = %v, want [%s]", k, vs, want)
		}
	}
	if _, ok := id.Attributes["full-name"]; ok {
		t.Error("an empty mapped full-name is an attribute")
	}
	if got := Identity("corp", "dir", cfg, ldapdir.Entry{DN: "x=y"}, "typed").Subject; got != "typed" {
		t.Errorf("subject without the login attribute = %q, want the login as typed", got)
	}
}

func TestSignIn(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{TLS: true})
	ctx := storagetest.Ctx(t)

	t.Run("no rule refuses with a reason", func(t *testing.T) {
		s := fixture(t, srv, srv.CAPEM, false)
		si := &SignIn{Store: s}
		du, ok, err := si.SignIn(ctx, "corp", "alice", "alice-pw")
		if err != nil || ok || !strings.Contains(du.Refusal, "no rule") {
			t.Fatalf("no rule: %+v %v %v", du, ok, err)
		}
		// The principal is stored all the same, unlinked.
		s.Read(ctx, 0, func(v storage.View) error {
			p, found := v.Principal("ldap", "corp:dir:alice")
			if !found || p.LinkUser != "" {
				t.Errorf("principal after a refusal: %+v %v", p, found)
			}
			return nil
		})
	})

	s := fixture(t, srv, srv.CAPEM, true)
	si := &SignIn{Store: s}
	t.Run("right password: JIT user with the rule's role", func(t *testing.T) {
		du, ok, err := si.SignIn(ctx, "corp", "alice", "alice-pw")
		if err != nil || !ok || du.Account != "corp" || du.User != "alice" {
			t.Fatalf("alice: %+v %v %v", du, ok, err)
		}
		s.Read(ctx, 0, func(v storage.View) error {
			u, found := v.User("corp", "alice")
			if !found || !u.Enabled || u.PasswordHash != "" || u.Email != "alice@example.org" {
				t.Errorf("JIT user %+v %v", u, found)
			}
			if !v.HasMember(storage.UserRoles.Of("corp", "alice"), "printing") {
				t.Error("alice lacks role printing from the printadmins rule")
			}
			return nil
		})
	})
	for _, c := range []struct{ name, login, pw string }{
		{"wrong password", "alice", "nope"},
		{"unknown login", "nobody", "alice-pw"},
		{"filter injection", "*)(uid=*", "alice-pw"},
		{"wildcard", "*", "alice-pw"},
		{"ambiguous", "twin", "twin-pw"},
		{"empty password", "alice", ""},
		{"unknown account", "nope", "alice-pw"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := "corp"
			if c.name == "unknown account" {
				a, c.login = "ghost", "alice"
			}
			du, ok, err := si.SignIn(ctx, a, c.login, c.pw)
			if err != nil || ok || du != (authn.DirectoryUser{}) {
				t.Errorf("%s: %+v %v %v, want not ok, nil, no refusal", c.name, du, ok, err)
			}
		})
	}
	t.Run("wrong CA is unavailable, a 503", func(t *testing.T) {
		bad := fixture(t, srv, string(slapdtest.NewCA(t).CertPEM), true)
		_, ok, err := (&SignIn{Store: bad}).SignIn(ctx, "corp", "alice", "alice-pw")
		var ue *UnavailableError
		var p *api.Problem
		if ok || !errors.As(err, &ue) || !errors.Is(err, ldapdir.ErrUnavailable) || !errors.As(err, &p) ||
			p.Status != http.StatusServiceUnavailable || strings.Contains(err.Error(), "alice-pw") {
			t.Fatalf("wrong CA: ok %v err %v", ok, err)
		}
	})
	t.Run("name clash refuses", func(t *testing.T) {
		storagetest.MustItem(t, s, "corp", storage.KindUser, "bob") // a local user, no password
		du, ok, err := si.SignIn(ctx, "corp", "bob", "bob-pw")
		if err != nil || ok || !strings.Contains(du.Refusal, "not linked") {
			t.Fatalf("clash: %+v %v %v", du, ok, err)
		}
	})
}

func TestSync(t *testing.T) {
	const generated = 40
	srv := slapdtest.Start(t, slapdtest.Options{TLS: true, GeneratedUsers: generated})
	s := fixture(t, srv, srv.CAPEM, true)
	ctx := storagetest.Ctx(t)
	storagetest.MustItem(t, s, "corp", storage.KindUser, "local") // never touched
	// Every synced user gets corp's default role staff when it is created.
	storagetest.MustItem(t, s, "corp", storage.KindRole, "staff")
	if _, _, err := s.AddDefaultRole(ctx, "corp", "staff", storage.CreateOnly); err != nil {
		t.Fatal(err)
	}
	sy := &Syncer{Store: s, PageSize: 7, Workers: 3, LockTTL: 2 * time.Second, ProgressEvery: 50 * time.Millisecond}
	t.Cleanup(sy.Close)
	status := func() storage.ProviderSync {
		var st storage.ProviderSync
		s.Read(ctx, 0, func(v storage.View) error { st = v.ProviderSyncState("corp", "dir"); return nil })
		return st
	}
	wait := func() storage.ProviderSync {
		t.Helper()
		sy.Wait()
		st := status()
		if st.State == storage.SyncRunning {
			t.Fatalf("still running after Wait: %+v", st)
		}
		return st
	}

	if err := sy.Start(ctx, "corp", "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing provider: %v", err)
	}
	// Single flight: a live lock (another instance's sync) refuses.
	lock := storage.TokenRef{Kind: lockKind, ID: lockID("corp", "dir")}
	if err := s.CreateToken(ctx, lock.Kind, lock.ID, []byte("other"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := sy.Start(ctx, "corp", "dir"); !errors.Is(err, ErrRunning) || !errors.Is(err, storage.ErrNameTaken) {
		t.Fatalf("second sync: %v, want ErrRunning", err)
	}
	if err := s.DeleteToken(ctx, lock.Kind, lock.ID); err != nil {
		t.Fatal(err)
	}

	start := time.Now().Unix()
	if err := sy.Start(ctx, "corp", "dir"); err != nil {
		t.Fatal(err)
	}
	st := wait()
	total := int64(slapdtest.FixtureUserCount + generated)
	if st.State != storage.SyncDone || st.Progress != total || st.Total != total || st.Users != total ||
		st.Groups != int64(len(slapdtest.Groups)) || st.Disabled != 0 || st.Started < start || st.Finished < st.Started {
		t.Fatalf("first sync: %+v, want done with %d users and %d groups", st, total, len(slapdtest.Groups))
	}
	uid, _ := slapdtest.GeneratedUser(generated - 1)
	s.Read(ctx, 0, func(v storage.View) error {
		for _, u := range []string{"alice", "carol", "twin", uid} {
			if _, en := v.UserState("corp", u); !en {
				t.Errorf("synced user %s missing or disabled", u)
			}
		}
		if !v.HasMember(storage.UserRoles.Of("corp", "bob"), "printing") {
			t.Error("synced bob lacks the printadmins rule's role")
		}
		if v.HasMember(storage.UserRoles.Of("corp", "carol"), "printing") {
			t.Error("synced carol holds printing without printadmins")
		}
		for _, u := range []string{"alice", "bob", "carol", uid} {
			if !v.HasMember(storage.UserRoles.Of("corp", u), "staff") || !v.HasMember(storage.UserRoles.Reverse().Of("corp", "staff"), u) {
				t.Errorf("synced %s lacks the default role staff", u)
			}
		}
		if v.HasMember(storage.UserRoles.Of("corp", "local"), "staff") {
			t.Error("the local user, created before staff was a default role, got it")
		}
		return nil
	})
	// The lock is released: the next sync may start at once.
	if got, err := s.GetTokens(ctx, lock); err != nil || got[0].Found {
		t.Errorf("lock after the sync: %+v %v", got, err)
	}

	// An entry gone from the directory disables its user, and only it.
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(slapdtest.RootDN, slapdtest.RootPassword); err != nil {
		t.Fatal(err)
	}
	if err := conn.Del(ldap.NewDelRequest("uid=carol,"+slapdtest.PeopleBase, nil)); err != nil {
		t.Fatal(err)
	}
	if err := sy.Start(ctx, "corp", "dir"); err != nil {
		t.Fatal(err)
	}
	st = wait()
	if st.State != storage.SyncDone || st.Disabled != 1 || st.Users != total-1 {
		t.Fatalf("second sync: %+v, want done, 1 disabled", st)
	}
	s.Read(ctx, 0, func(v storage.View) error {
		if exists, en := v.UserState("corp", "carol"); !exists || en {
			t.Errorf("carol (gone from the directory): exists %v enabled %v; want kept, disabled", exists, en)
		}
		if exists, en := v.UserState("corp", "local"); !exists || !en {
			t.Errorf("the local user was touched: exists %v enabled %v", exists, en)
		}
		return nil
	})

	// A stale running status (its instance died: no lock) is taken over.
	if _, _, err := s.PutItem(ctx, "corp", storage.KindProviderSync, "dir", storage.Upsert,
		storagetest.SetTo(storage.ProviderSync{State: storage.SyncRunning, Started: 1}.Encode()), nil); err != nil {
		t.Fatal(err)
	}
	if err := sy.Start(ctx, "corp", "dir"); err != nil {
		t.Fatalf("stale running status: %v, want a new sync", err)
	}
	if st := wait(); st.State != storage.SyncDone || st.Started == 1 {
		t.Errorf("after the takeover: %+v", st)
	}

	// A broken directory fails the sync with its error.
	putProvider(t, s, "corp", "dir", srv, string(slapdtest.NewCA(t).CertPEM))
	if err := sy.Start(ctx, "corp", "dir"); err != nil {
		t.Fatal(err)
	}
	if st := wait(); st.State != storage.SyncFailed || !strings.Contains(st.Error, "unavailable") {
		t.Errorf("sync with a wrong CA: %+v, want failed naming the outage", st)
	}
}

// TestSyncSchedule: a provider with a sync-interval is synced when it
// never was and again once the interval has passed since the last sync
// started, not before; a provider without one never by itself.
func TestSyncSchedule(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{TLS: true, GeneratedUsers: 5})
	s := fixture(t, srv, srv.CAPEM, false)
	ctx := storagetest.Ctx(t)
	putProvider(t, s, "corp", "manual", srv, srv.CAPEM) // no interval
	if _, _, err := s.PutItem(ctx, "corp", storage.KindProvider, "dir", storage.UpdateOnly,
		func(old string, _ bool) (string, error) {
			p, err := storage.DecodeProvider(old)
			p.SyncInterval = "10m"
			return p.Encode(), err
		}, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sy := &Syncer{Store: s, Now: func() time.Time { return now }, LockTTL: 2 * time.Second, ProgressEvery: 50 * time.Millisecond}
	t.Cleanup(sy.Close)
	state := func(p string) storage.ProviderSync {
		var st storage.ProviderSync
		s.Read(ctx, 0, func(v storage.View) error { st = v.ProviderSyncState("corp", p); return nil })
		return st
	}
	if n := sy.RunDue(ctx); n != 1 {
		t.Fatalf("first RunDue started %d syncs, want 1 (dir, never synced)", n)
	}
	sy.Wait()
	if st := state("dir"); st.State != storage.SyncDone || st.Users == 0 {
		t.Fatalf("scheduled sync: %+v", st)
	}
	if st := state("manual"); st.State != storage.SyncIdle {
		t.Errorf("the provider without an interval was synced: %+v", st)
	}
	now = now.Add(9 * time.Minute)
	if n := sy.RunDue(ctx); n != 0 {
		t.Errorf("RunDue 9 minutes after a sync with a 10m interval started %d", n)
	}
	now = now.Add(time.Minute)
	if n := sy.RunDue(ctx); n != 1 {
		t.Errorf("RunDue at the interval started %d, want 1", n)
	}
	sy.Wait()
}
