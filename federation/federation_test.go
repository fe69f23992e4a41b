package federation_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"gatehouse/federation"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// fx is one store with accounts system > corp > corp-eu and system > other,
// groups g1 g2 and roles r1 r2 in each of corp and corp-eu.
func fx(t *testing.T) *storage.Store {
	t.Helper()
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "system", "", "*")
	storagetest.MustAccount(t, s, "corp", "system")
	storagetest.MustAccount(t, s, "corp-eu", "corp")
	storagetest.MustAccount(t, s, "other", "system")
	for _, a := range []string{"corp", "corp-eu", "other"} {
		for _, n := range []string{"g1", "g2"} {
			storagetest.MustItem(t, s, a, storage.KindGroup, n)
		}
		for _, n := range []string{"r1", "r2"} {
			storagetest.MustItem(t, s, a, storage.KindRole, n)
		}
	}
	return s
}

func putRule(t *testing.T, s *storage.Store, c storage.Coll, name string, r storage.Rule) {
	t.Helper()
	if _, _, err := s.PutRule(storagetest.Ctx(t), c, name, storage.Upsert, func(storage.Rule, bool) (storage.Rule, error) { return r, nil }); err != nil {
		t.Fatalf("PutRule %s: %v", name, err)
	}
}

func cond(typ, attr, pat string) []storage.RuleCondition {
	return []storage.RuleCondition{{Type: typ, Attribute: attr, Pattern: pat}}
}

func ldap(subject, name string, groups ...string) federation.Identity {
	return federation.Identity{Type: federation.TypeLDAP, Account: "corp", Provider: "dir", Subject: subject,
		Attributes: map[string][]string{"name": {name}, "email": {name + "@corp.example"}, "groups": groups,
			"memberOf": groups, "dn": {"uid=" + subject + ",ou=people,dc=corp"}}}
}

func resolve(t *testing.T, s *storage.Store, id federation.Identity) federation.Result {
	t.Helper()
	res, err := federation.Resolve(storagetest.Ctx(t), s, id)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", id.Subject, err)
	}
	return res
}

func members(t *testing.T, s *storage.Store, a, u string, l storage.Link) []string {
	t.Helper()
	var out []string
	err := s.Read(storagetest.Ctx(t), 0, func(v storage.View) error {
		out = v.Names(l.Of(a, u))
		for _, to := range out {
			if !v.HasMember(l.Reverse().Of(a, to), u) {
				t.Errorf("%s→%s of %s: the reverse side is missing", u, to, a)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPrincipalID(t *testing.T) {
	for _, c := range []struct {
		id   federation.Identity
		want string
	}{
		{federation.Identity{Type: "ldap", Account: "corp", Provider: "dir", Subject: "alice"}, "corp:dir:alice"},
		{federation.Identity{Type: "saml", Account: "corp", Provider: "idp", Subject: "a/b%c"}, "corp:idp:a%2Fb%25c"},
		{federation.Identity{Type: "email", Account: "system", Subject: "admin@localhost"}, "admin@localhost"},
	} {
		if got := federation.PrincipalID(c.id); got != c.want {
			t.Errorf("PrincipalID(%+v) = %q, want %q", c.id, got, c.want)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	for _, c := range []struct {
		pat, val string
		want     bool
	}{
		{"*printadmins*", "cn=PrintAdmins,ou=groups", true},
		{"*printadmins*", "cn=admins", false},
		{"admins", "ADMINS", true},
		{"admins", "admins-eu", false}, // no wildcard: the whole value
		{"adm?ns", "admins", true},
		{"adm?ns", "admns", false},
		{"*", "", true},
	} {
		if got := federation.MatchPattern(c.pat, c.val); got != c.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", c.pat, c.val, got, c.want)
		}
	}
	r := storage.Rule{Conditions: []storage.RuleCondition{
		{Type: "ldap", Attribute: "groups", Pattern: "*ops*"},
		{Type: "ldap", Attribute: "EMAIL", Pattern: "*@corp.example"},
	}}
	if !federation.Matches(r, ldap("a", "a", "x", "cn=ops")) {
		t.Error("all conditions hold (any value of groups, attribute name in another case): want a match")
	}
	if federation.Matches(r, ldap("a", "a", "x")) {
		t.Error("one condition fails: want no match")
	}
	id := ldap("a", "a", "cn=ops")
	id.Type = "saml"
	if federation.Matches(r, id) {
		t.Error("a condition of another type: want no match")
	}
}

func TestResolve(t *testing.T) {
	s := fx(t)
	ctx := storagetest.Ctx(t)
	putRule(t, s, storage.AccountRules("corp"), "admins", storage.Rule{Conditions: cond("ldap", "groups", "*printadmins*"),
		Groups: []string{"g1"}, Roles: []string{"r1"}})
	putRule(t, s, storage.AccountRules("corp"), "everyone", storage.Rule{Conditions: cond("ldap", "email", "*@corp.example"),
		Roles: []string{"r2"}})

	t.Run("no-rule-no-user", func(t *testing.T) {
		id := ldap("nobody", "nobody")
		id.Attributes["email"] = []string{"nobody@elsewhere.example"}
		_, err := federation.Resolve(ctx, s, id)
		if !errors.Is(err, federation.ErrNoRule) {
			t.Fatalf("err = %v, want ErrNoRule", err)
		}
		err = s.Read(ctx, 0, func(v storage.View) error {
			p, ok := v.Principal("ldap", "corp:dir:nobody")
			if !ok || p.LinkUser != "" {
				t.Errorf("principal = %+v, %v; want stored and unlinked", p, ok)
			}
			if v.HasItem("corp", storage.KindUser, "nobody") {
				t.Error("a user was created without a rule")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("jit-and-union", func(t *testing.T) {
		res := resolve(t, s, ldap("alice", "alice", "cn=PrintAdmins,ou=g"))
		if res.Account != "corp" || res.User != "alice" || !res.Created || res.Principal != "corp:dir:alice" {
			t.Fatalf("result %+v", res)
		}
		if g := members(t, s, "corp", "alice", storage.UserGroups); !slices.Equal(g, []string{"g1"}) {
			t.Errorf("groups %v, want [g1]", g)
		}
		if r := members(t, s, "corp", "alice", storage.UserRoles); !slices.Equal(r, []string{"r1", "r2"}) {
			t.Errorf("roles %v, want the union [r1 r2]", r)
		}
		err := s.Read(ctx, 0, func(v storage.View) error {
			u, ok := v.User("corp", "alice")
			if !ok || u.Email != "alice@corp.example" || !u.Enabled {
				t.Errorf("user %+v, %v", u, ok)
			}
			p, _ := v.Principal("ldap", "corp:dir:alice")
			if p.LinkAccount != "corp" || p.LinkUser != "alice" || p.Provider != "dir" {
				t.Errorf("principal %+v", p)
			}
			a, _, ok := v.PrincipalAttribute("ldap", "corp:dir:alice", "memberOf")
			if !ok || !slices.Equal(a.Values, []string{"cn=PrintAdmins,ou=g"}) {
				t.Errorf("attribute memberOf = %+v, %v", a, ok)
			}
			if !v.HasMember(storage.UserFederated("corp", "alice"), "corp:dir:alice") {
				t.Error("the user side of the link is missing")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("link-and-regrant", func(t *testing.T) {
		// An administrator gives alice g2 by hand; the directory drops her
		// from printadmins: the rule's g1 and r1 go, g2 and r2 stay.
		storagetest.MustLink(t, s, "corp", storage.UserGroups, "alice", "g2")
		res := resolve(t, s, ldap("alice", "alice-renamed", "cn=users"))
		if res.User != "alice" || res.Created {
			t.Fatalf("linked principal resolved to %+v, want the existing alice", res)
		}
		if g := members(t, s, "corp", "alice", storage.UserGroups); !slices.Equal(g, []string{"g2"}) {
			t.Errorf("groups %v, want [g2] (g1 came from a rule that no longer matches)", g)
		}
		if r := members(t, s, "corp", "alice", storage.UserRoles); !slices.Equal(r, []string{"r2"}) {
			t.Errorf("roles %v, want [r2]", r)
		}
		// Back in printadmins: granted again.
		resolve(t, s, ldap("alice", "alice", "cn=printadmins"))
		if g := members(t, s, "corp", "alice", storage.UserGroups); !slices.Equal(g, []string{"g1", "g2"}) {
			t.Errorf("groups %v, want [g1 g2]", g)
		}
		// A manual membership that a rule also grants is never taken back.
		putRule(t, s, storage.AccountRules("corp"), "g2-too", storage.Rule{Groups: []string{"g2"}})
		resolve(t, s, ldap("alice", "alice", "cn=printadmins"))
		if _, err := s.DeleteRule(ctx, storage.AccountRules("corp"), "g2-too"); err != nil {
			t.Fatal(err)
		}
		resolve(t, s, ldap("alice", "alice", "cn=printadmins"))
		if g := members(t, s, "corp", "alice", storage.UserGroups); !slices.Equal(g, []string{"g1", "g2"}) {
			t.Errorf("groups %v, want [g1 g2]: g2 was given by hand before a rule granted it", g)
		}
	})

	t.Run("manual-membership-kept", func(t *testing.T) {
		storagetest.MustItem(t, s, "corp", storage.KindUser, "bob")
		storagetest.MustLink(t, s, "corp", storage.UserRoles, "bob", "r1")
		// bob's principal is linked by name? Never: a clash.
		_, err := federation.Resolve(ctx, s, ldap("bob", "bob", "printadmins"))
		if !errors.Is(err, federation.ErrNameClash) {
			t.Fatalf("err = %v, want ErrNameClash", err)
		}
		if r := members(t, s, "corp", "bob", storage.UserRoles); !slices.Equal(r, []string{"r1"}) {
			t.Errorf("bob's roles changed to %v by a refused sign-in", r)
		}
		err = s.Read(ctx, 0, func(v storage.View) error {
			if v.Count(storage.UserFederated("corp", "bob")) != 0 {
				t.Error("the clash linked bob")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("deleted-user-is-unlinked", func(t *testing.T) {
		resolve(t, s, ldap("carol", "carol", "printadmins"))
		if _, err := s.DeleteItem(ctx, "corp", storage.KindUser, "carol"); err != nil {
			t.Fatal(err)
		}
		res := resolve(t, s, ldap("carol", "carol", "x"))
		if !res.Created || res.User != "carol" {
			t.Fatalf("result %+v, want carol created again", res)
		}
		if g := members(t, s, "corp", "carol", storage.UserGroups); len(g) != 0 {
			t.Errorf("groups %v, want none (not in printadmins)", g)
		}
	})
}

func TestRootRules(t *testing.T) {
	s := fx(t)
	ctx := storagetest.Ctx(t)
	// Priority 1 sends to other (outside corp's subtree: skipped), 5 to
	// corp-eu, 9 (also matching) to corp.
	putRule(t, s, storage.RootRules(), "z-escape", storage.Rule{Priority: 1, Conditions: cond("saml", "country", "de"), Account: "other"})
	putRule(t, s, storage.RootRules(), "eu", storage.Rule{Priority: 5, Conditions: cond("saml", "country", "de"), Account: "corp-eu"})
	putRule(t, s, storage.RootRules(), "a-late", storage.Rule{Priority: 9, Conditions: cond("saml", "country", "*"), Account: "corp"})
	putRule(t, s, storage.AccountRules("corp-eu"), "all", storage.Rule{Roles: []string{"r1"}})

	saml := func(sub, country string) federation.Identity {
		return federation.Identity{Type: "saml", Account: "corp", Provider: "idp", Subject: sub,
			Attributes: map[string][]string{"name": {sub}, "country": {country}}}
	}
	res := resolve(t, s, saml("hans", "DE"))
	if res.Account != "corp-eu" || !res.Created {
		t.Fatalf("result %+v: want the user in corp-eu (lowest priority inside the subtree)", res)
	}
	if r := members(t, s, "corp-eu", "hans", storage.UserRoles); !slices.Equal(r, []string{"r1"}) {
		t.Errorf("roles %v, want corp-eu's rule grant [r1]", r)
	}
	res = resolve(t, s, saml("ann", "fr"))
	if res.Account != "corp" {
		t.Errorf("result %+v: want corp from rule a-late", res)
	}
	// A provider of account other: the rules naming corp and corp-eu
	// are outside its subtree; the z-escape rule sends it to other.
	id := saml("olaf", "de")
	id.Account = "other"
	if res = resolve(t, s, id); res.Account != "other" {
		t.Errorf("result %+v: want other", res)
	}
	// A deleted account in a rule is skipped.
	if _, err := s.DeleteAccount(ctx, "corp-eu"); err != nil {
		t.Fatal(err)
	}
	if res = resolve(t, s, saml("jens", "de")); res.Account != "corp" {
		t.Errorf("result %+v: want corp once corp-eu is gone", res)
	}
}

func TestResolveConcurrent(t *testing.T) {
	s := fx(t)
	putRule(t, s, storage.AccountRules("corp"), "all", storage.Rule{Groups: []string{"g1"}})
	var wg sync.WaitGroup
	results := make([]federation.Result, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = federation.Resolve(storagetest.Ctx(t), s, ldap("dora", "dora"))
		}()
	}
	wg.Wait()
	created := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("resolve %d: %v", i, errs[i])
		}
		if results[i].User != "dora" {
			t.Errorf("resolve %d: %+v", i, results[i])
		}
		if results[i].Created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d resolutions created the user; want exactly 1", created)
	}
}

func TestResolveInvalid(t *testing.T) {
	s := fx(t)
	ctx := storagetest.Ctx(t)
	for _, id := range []federation.Identity{
		{Type: "kerberos", Account: "corp", Provider: "dir", Subject: "x"},
		{Type: "ldap", Account: "corp", Provider: "", Subject: "x"},
		{Type: "ldap", Account: "corp", Provider: "dir", Subject: ""},
		{Type: "ldap", Account: "corp", Provider: "dir", Subject: "a\nb"},
		{Type: "email", Account: "corp", Subject: "a:b@x"},
	} {
		if _, err := federation.Resolve(ctx, s, id); !errors.Is(err, federation.ErrInvalidIdentity) {
			t.Errorf("Resolve(%+v) = %v, want ErrInvalidIdentity", id, err)
		}
	}
	if _, err := federation.Resolve(ctx, s, federation.Identity{Type: "ldap", Account: "nope", Provider: "dir", Subject: "x"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown provider account: %v, want ErrNotFound", err)
	}
	// A mapped name that is no valid user name refuses the user.
	putRule(t, s, storage.AccountRules("corp"), "all", storage.Rule{})
	if _, err := federation.Resolve(ctx, s, ldap("x", "not a name")); !errors.Is(err, federation.ErrInvalidIdentity) {
		t.Errorf("invalid mapped name: %v, want ErrInvalidIdentity", err)
	}
}
