package storage_test

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
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
	for _, rel := range []string{"acct/x", "acct/y", "t/x/", "t/y/", "t/system/child/"} {
		a, b := storagetest.EtcdKeys(t, src, rel), storagetest.EtcdKeys(t, dst, rel)
		if len(a) == 0 {
			t.Errorf("%s: nothing in the source", rel)
		}
		if !maps.Equal(a, b) {
			t.Errorf("%s differs after import:\n source %v\nimported %v", rel, a, b)
		}
	}
	if _, err := dst.Import(ctx, sub); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("second import: %v, want ErrNameTaken", err)
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
