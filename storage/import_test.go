package storage_test

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// An exported subtree imported into a fresh store writes exactly the keys
// and values the original holds (the index of children included).
func TestExportImportKeys(t *testing.T) {
	ctx := storagetest.Ctx(t)
	src := storagetest.Store(t)
	storagetest.MustAccount(t, src, "system", "", "*")
	if _, err := src.CreateAccountWithRoles(ctx, "x", storage.Account{Description: "d", Parent: "system"}, []string{"a:*", "b:c"},
		[]storage.NewRole{{Name: "r", Description: "rd", Permissions: []string{"a:b", "a:c"}, Default: true}, {Name: "r2"}}); err != nil {
		t.Fatal(err)
	}
	user := storage.User{PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Email: "u@example.com", Enabled: true, Created: 5, PasswordChanged: 7}
	if _, _, err := src.PutItem(ctx, "x", storage.KindUser, "u", storage.CreateOnly, storagetest.SetTo(user.Encode()), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.PutItem(ctx, "x", storage.KindGroup, "g", storage.CreateOnly, storagetest.SetTo(storage.Group{Description: "gd"}.Encode()), nil); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		link     storage.Link
		from, to string
	}{{storage.UserGroups, "u", "g"}, {storage.GroupRoles, "g", "r2"}} {
		if _, _, err := src.LinkAdd(ctx, "x", l.link, l.from, l.to, storage.CreateOnly); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := src.SetAdd(ctx, storage.Coll{Account: "x", Kind: storage.KindAttr, Owner: "u"}, "n", "v", storage.CreateOnly); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateAccount(ctx, "y", storage.Account{Parent: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("ab", 32)
	if _, err := src.CreateAPIKey(ctx, "x", "u", storage.APIKey{Name: "k", Prefix: "gh_abcdefgh", SecretHash: hash, Expires: 99, Permissions: []string{"a:b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateClient(ctx, "x", "u", storage.Client{ID: "cid", SecretHash: hash, URIs: []string{"https://a.example/cb"},
		GrantTypes: []string{storage.GrantClientCredentials}, Scopes: []string{"a:b"}}); err != nil {
		t.Fatal(err)
	}
	prov := storage.Provider{Type: storage.ProviderLDAP, URL: "ldap://d.example", UserBase: "dc=example", BindDN: "cn=s", BindPassword: storage.ProviderSecretUnset}
	if _, _, err := src.PutItem(ctx, "y", storage.KindProvider, "p", storage.CreateOnly, storagetest.SetTo(prov.Encode()), nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		c    storage.Coll
		name string
		rule storage.Rule
	}{
		{storage.AccountRules("x"), "ar", storage.Rule{Priority: 2, Groups: []string{"g"}, Roles: []string{"r"},
			Conditions: []storage.RuleCondition{{Type: "ldap", Attribute: "ou", Pattern: "e*"}}}},
		{storage.RootRules(), "rr", storage.Rule{Priority: 1, Account: "y", Conditions: []storage.RuleCondition{{Type: "saml", Attribute: "o", Pattern: "y"}}}},
		{storage.RootRules(), "elsewhere", storage.Rule{Priority: 1, Account: "system"}},
	} {
		if _, _, err := src.PutRule(ctx, r.c, r.name, storage.CreateOnly, func(storage.Rule, bool) (storage.Rule, error) { return r.rule, nil }); err != nil {
			t.Fatal(err)
		}
	}

	var sub []storage.SubtreeAccount
	var omitted []string
	if err := src.Read(ctx, 0, func(v storage.View) (err error) { sub, omitted, err = v.ExportSubtree("x"); return err }); err != nil {
		t.Fatal(err)
	}
	if len(omitted) != 0 {
		t.Errorf("omitted %v, want nothing", omitted)
	}
	dst := storagetest.Store(t)
	storagetest.MustAccount(t, dst, "system", "", "*")
	if _, err := dst.Import(ctx, sub); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"acct/x", "acct/y", "t/x/", "t/y/", "t/system/child/", "apikeyidx/", "clientidx/", "rules/rr"} {
		a, b := storagetest.EtcdKeys(t, src, rel), storagetest.EtcdKeys(t, dst, rel)
		if len(a) == 0 {
			t.Errorf("%s: nothing in the source", rel)
		}
		if !maps.Equal(a, b) {
			t.Errorf("%s differs after import:\n source %v\nimported %v", rel, a, b)
		}
	}
	if storagetest.EtcdHas(t, dst, "rules/elsewhere") {
		t.Error("a root rule landing outside the subtree was imported")
	}
	if _, err := dst.Import(ctx, sub); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("second import: %v, want ErrNameTaken", err)
	}
	if _, err := storage.OpenProviderSecret(make([]byte, 32), "y", "p", storage.ProviderSecretUnset); !errors.Is(err, storage.ErrProviderSecretUnset) {
		t.Errorf("opening an unset bind password: %v, want ErrProviderSecretUnset", err)
	}
}

// An import racing the creation of one of its account names: exactly one
// wins, and a losing import wrote nothing.
func TestImportRacesCreate(t *testing.T) {
	ctx := storagetest.Ctx(t)
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "system", "", "*")
	for i := range 8 {
		name := fmt.Sprintf("race%d", i)
		var wg sync.WaitGroup
		var importErr, createErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, importErr = s.Import(ctx, []storage.SubtreeAccount{{Name: name, Account: storage.Account{Parent: "system"},
				Users: []storage.SubtreeUser{{Name: "iu"}}}})
		}()
		go func() {
			defer wg.Done()
			_, createErr = s.CreateAccount(ctx, name, storage.Account{Parent: "system"}, nil)
		}()
		wg.Wait()
		if (importErr == nil) == (createErr == nil) {
			t.Fatalf("%s: import %v, create %v: want exactly one to succeed", name, importErr, createErr)
		}
		if importErr != nil {
			if !errors.Is(importErr, storage.ErrNameTaken) {
				t.Errorf("%s: import lost with %v, want ErrNameTaken", name, importErr)
			}
			if storagetest.EtcdHas(t, s, storage.ItemKey(name, storage.KindUser, "iu")) {
				t.Errorf("%s: the losing import wrote its user", name)
			}
		} else if !errors.Is(createErr, storage.ErrNameTaken) {
			t.Errorf("%s: create lost with %v, want ErrNameTaken", name, createErr)
		}
	}
}

// An external etcd with its default transaction limit (128 operations)
// refuses a larger import: ErrTooLarge naming the setting, nothing written.
func TestImportAboveExternalLimit(t *testing.T) {
	ctx := storagetest.Ctx(t)
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "etcd")
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	ports := make([]url.URL, 2)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = url.URL{Scheme: "http", Host: l.Addr().String()}
		l.Close()
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = ports[:1], ports[:1]
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = ports[1:], ports[1:]
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	<-e.Server.ReadyNotify()
	s := storagetest.Open(t, ports[0].String())
	storagetest.MustAccount(t, s, "system", "", "*")
	perms := make([]string, 200)
	for i := range perms {
		perms[i] = fmt.Sprintf("m:p%d", i)
	}
	_, err = s.Import(ctx, []storage.SubtreeAccount{{Name: "big", Account: storage.Account{Parent: "system"},
		Roles: []storage.SubtreeRole{{Name: "r", Permissions: perms}}}})
	if !errors.Is(err, storage.ErrTooLarge) || !strings.Contains(err.Error(), "--max-txn-ops") {
		t.Fatalf("import above etcd's limit: %v, want ErrTooLarge naming --max-txn-ops", err)
	}
	if storagetest.EtcdHas(t, s, storage.AccountKey("big")) {
		t.Errorf("the refused import wrote its account")
	}
}

// importFixture is a subtree of about 700 operations: account jx (a role
// with 300 permissions, 60 users with attributes and roles, a client and
// an API key) and its child jy.
func importFixture() []storage.SubtreeAccount {
	perms := make([]string, 300)
	for i := range perms {
		perms[i] = fmt.Sprintf("m:p%03d", i)
	}
	x := storage.SubtreeAccount{Name: "jx", Account: storage.Account{Parent: "system", Description: "journaled"},
		Ceiling: []string{"*"}, Roles: []storage.SubtreeRole{{Name: "r", Permissions: perms}}, DefaultRoles: []string{"r"}}
	for i := range 60 {
		x.Users = append(x.Users, storage.SubtreeUser{Name: fmt.Sprintf("u%02d", i), User: storage.User{Enabled: true, Created: 5},
			Roles: []string{"r"}, Attributes: [][2]string{{"a", "1"}, {"b", "2"}}})
	}
	x.Users[0].APIKeys = []storage.APIKey{{Name: "k", Prefix: "gh_journal1", SecretHash: strings.Repeat("cd", 32), Permissions: []string{"m:p001"}}}
	x.Users[0].Clients = []storage.Client{{ID: "journal-client", SecretHash: strings.Repeat("ef", 32), GrantTypes: []string{storage.GrantClientCredentials}}}
	y := storage.SubtreeAccount{Name: "jy", Account: storage.Account{Parent: "jx"},
		Groups: []storage.SubtreeGroup{{Name: "g"}}}
	return []storage.SubtreeAccount{x, y}
}

// An import above one transaction's limit (lowered here to 100
// operations) goes in journaled batches: interrupted after its first
// batch it has reserved its names, is marked as importing and is not yet
// linked under its parent; imported again with the same journal id it
// resumes at the cursor and ends with exactly the keys a single
// transaction writes, its journal and markers gone. Without a journal id
// it is refused as too large; with a taken name, nothing is written.
func TestImportJournaledResumes(t *testing.T) {
	ctx := storagetest.Ctx(t)
	sub := importFixture()
	want := storagetest.Store(t) // the same import in one transaction
	storagetest.MustAccount(t, want, "system", "", "*")
	if _, err := want.Import(ctx, sub); err != nil {
		t.Fatal(err)
	}

	saved := storage.ImportBatchOps
	storage.ImportBatchOps = 100
	t.Cleanup(func() { storage.ImportBatchOps, storage.ImportAfterBatch = saved, nil })
	s := storagetest.Store(t)
	storagetest.MustAccount(t, s, "system", "", "*")
	if _, err := s.Import(ctx, sub); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("import above the limit without a journal: %v, want ErrTooLarge", err)
	}
	if storagetest.EtcdHas(t, s, storage.AccountKey("jx")) {
		t.Fatal("the refused import wrote its account")
	}

	crash := errors.New("crash")
	storage.ImportAfterBatch = func(cursor, total int) error {
		if cursor <= 0 || cursor >= total {
			t.Errorf("cursor %d of %d after a batch", cursor, total)
		}
		return crash
	}
	if _, err := s.ImportResumable(ctx, "doc1", sub); !errors.Is(err, crash) {
		t.Fatalf("interrupted import: %v, want the hook's error", err)
	}
	for _, key := range []string{storage.ImportJournalKey("doc1"), storage.ImportingKey("jx"), storage.ImportingKey("jy"), storage.AccountKey("jx"), storage.AccountKey("jy")} {
		if !storagetest.EtcdHas(t, s, key) {
			t.Errorf("after the first batch %s is missing", key)
		}
	}
	if storagetest.EtcdHas(t, s, storage.ItemKey("system", storage.KindChild, "jx")) {
		t.Error("after the first batch the top account is already linked under its parent")
	}
	if err := s.Read(ctx, 0, func(v storage.View) error {
		if !v.Importing("jx") {
			t.Error("jx is not marked as importing")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The names are reserved: a create of the top account is refused.
	if _, err := s.CreateAccount(ctx, "jx", storage.Account{Parent: "system"}, nil); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("creating an account an import reserved: %v, want ErrNameTaken", err)
	}

	batches := 0
	storage.ImportAfterBatch = func(int, int) error { batches++; return nil }
	if _, err := s.ImportResumable(ctx, "doc1", sub); err != nil {
		t.Fatalf("resumed import: %v", err)
	}
	if batches < 3 {
		t.Errorf("the resumed import took %d more batches before its last; want several at 100 operations", batches)
	}
	for _, rel := range []string{"acct/jx", "acct/jy", "t/jx/", "t/jy/", "t/system/child/", "apikeyidx/", "clientidx/",
		storage.ImportJournalRange, storage.ImportingRange} {
		if got, exp := storagetest.EtcdKeys(t, s, rel), storagetest.EtcdKeys(t, want, rel); !maps.Equal(got, exp) {
			t.Errorf("%s after the resumed import differs from one transaction's:\n%s", rel, storagetest.DiffKeySets(got, exp))
		}
	}
	exported := func(st *storage.Store) (out []storage.SubtreeAccount) {
		if err := st.Read(ctx, 0, func(v storage.View) (err error) { out, _, err = v.ExportSubtree("jx"); return err }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, exp := exported(s), exported(want); !reflect.DeepEqual(got, exp) {
		t.Errorf("the export after the resumed import differs from one transaction's:\n%+v\n%+v", got, exp)
	}
	if _, err := s.ImportResumable(ctx, "doc1", sub); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("the finished import again: %v, want ErrNameTaken", err)
	}

	// Abandoned: interrupted, then its top account deleted (with the
	// subtree the first batch linked); the same document starts afresh.
	if _, err := s.DeleteAccount(ctx, "jx"); err != nil {
		t.Fatal(err)
	}
	storage.ImportAfterBatch = func(int, int) error { return crash }
	if _, err := s.ImportResumable(ctx, "doc1", sub); !errors.Is(err, crash) {
		t.Fatalf("interrupted import: %v, want the hook's error", err)
	}
	if _, err := s.DeleteAccount(ctx, "jx"); err != nil {
		t.Fatal(err)
	}
	if storagetest.EtcdHas(t, s, storage.AccountKey("jy")) {
		t.Error("deleting the top of an interrupted import left its child")
	}
	storage.ImportAfterBatch = nil
	if _, err := s.ImportResumable(ctx, "doc1", sub); err != nil {
		t.Fatalf("importing after abandoning: %v", err)
	}
	if got, exp := exported(s), exported(want); !reflect.DeepEqual(got, exp) {
		t.Errorf("the export after an abandoned and fresh import differs from one transaction's")
	}
	for _, rel := range []string{storage.ImportJournalRange, storage.ImportingRange} {
		if keys := storagetest.EtcdKeys(t, s, rel); len(keys) != 0 {
			t.Errorf("left after the fresh import: %v", keys)
		}
	}

	// A taken name (the child's) refuses the first batch: nothing written.
	other := storagetest.Store(t)
	storagetest.MustAccount(t, other, "system", "", "*")
	storagetest.MustAccount(t, other, "jy", "system")
	if _, err := other.ImportResumable(ctx, "doc1", sub); !errors.Is(err, storage.ErrNameTaken) {
		t.Fatalf("journaled import with a taken name: %v, want ErrNameTaken", err)
	}
	for _, key := range []string{storage.AccountKey("jx"), storage.ImportJournalKey("doc1"), storage.ImportingKey("jx")} {
		if storagetest.EtcdHas(t, other, key) {
			t.Errorf("the refused journaled import wrote %s", key)
		}
	}
}
