package storage_test

import (
	"errors"
	"slices"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// defaultRolesOf lists account a's default roles and user u's roles
// (checking both sides of each membership).
func defaultRolesOf(t *testing.T, s *storage.Store, a, u string) (defaults, held []string) {
	t.Helper()
	err := s.Read(storagetest.Ctx(t), 0, func(v storage.View) error {
		defaults = v.Names(storage.DefaultRoles(a))
		if u != "" {
			held = v.Names(storage.UserRoles.Of(a, u))
			for _, r := range held {
				if !v.HasMember(storage.UserRoles.Reverse().Of(a, r), u) {
					t.Errorf("%s holds %s without the reverse side", u, r)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return defaults, held
}

// A new account's default roles are given to every user created in it,
// in the creating transaction; updates give nothing; a role's entry goes
// with the role; removing a default role leaves the users who have it.
func TestDefaultRoles(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "system", "", "*")
	if _, err := s.CreateAccountWithRoles(ctx, "acme", storage.Account{Parent: "system"}, nil, []storage.NewRole{
		{Name: "admins", Permissions: []string{"*"}},
		{Name: "users", Permissions: []string{"auth:me:read"}, Default: true},
		{Name: "readers", Permissions: []string{"auth:users:read"}},
	}); err != nil {
		t.Fatal(err)
	}
	if d, _ := defaultRolesOf(t, s, "acme", ""); !slices.Equal(d, []string{"users"}) {
		t.Fatalf("default roles %v, want [users]", d)
	}
	create := func(u string) {
		t.Helper()
		if _, _, err := s.PutItem(ctx, "acme", storage.KindUser, u, storage.CreateOnly,
			storagetest.SetTo(storagetest.RecordFor(storage.KindUser, u)), nil); err != nil {
			t.Fatal(err)
		}
	}
	create("ann")
	if _, held := defaultRolesOf(t, s, "acme", "ann"); !slices.Equal(held, []string{"users"}) {
		t.Errorf("ann holds %v, want [users]", held)
	}

	// Adding: the role must exist; CreateOnly refuses a second time,
	// Upsert reports it was there.
	if _, _, err := s.AddDefaultRole(ctx, "acme", "nobody", storage.Upsert); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a missing role: %v, want ErrNotFound", err)
	}
	if _, _, err := s.AddDefaultRole(ctx, "missing", "users", storage.Upsert); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a missing account: %v, want ErrNotFound", err)
	}
	if created, _, err := s.AddDefaultRole(ctx, "acme", "readers", storage.CreateOnly); err != nil || !created {
		t.Fatalf("AddDefaultRole readers: %v, %v", created, err)
	}
	if _, _, err := s.AddDefaultRole(ctx, "acme", "readers", storage.CreateOnly); !errors.Is(err, storage.ErrMember) {
		t.Errorf("a second CreateOnly: %v, want ErrMember", err)
	}
	if created, _, err := s.AddDefaultRole(ctx, "acme", "readers", storage.Upsert); err != nil || created {
		t.Errorf("a second Upsert: created %v, %v", created, err)
	}

	// Updating a user gives nothing; a new one gets both.
	if _, err := s.LinkRemove(ctx, "acme", storage.UserRoles, "ann", "users"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutItem(ctx, "acme", storage.KindUser, "ann", storage.Upsert,
		storagetest.SetTo(storagetest.RecordFor(storage.KindUser, "ann")+"x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, held := defaultRolesOf(t, s, "acme", "ann"); len(held) != 0 {
		t.Errorf("an update gave ann %v", held)
	}
	create("bob")
	if _, held := defaultRolesOf(t, s, "acme", "bob"); !slices.Equal(held, []string{"readers", "users"}) {
		t.Errorf("bob holds %v, want [readers users]", held)
	}

	// A deleted role leaves the default roles with it.
	if _, err := s.DeleteItem(ctx, "acme", storage.KindRole, "readers"); err != nil {
		t.Fatal(err)
	}
	if storagetest.EtcdHas(t, s, storage.ItemKey("acme", storage.KindDefaultRole, "readers")) {
		t.Error("the deleted role's default-role entry is still in etcd")
	}
	if d, held := defaultRolesOf(t, s, "acme", "bob"); !slices.Equal(d, []string{"users"}) || !slices.Equal(held, []string{"users"}) {
		t.Errorf("after deleting readers: defaults %v, bob holds %v", d, held)
	}

	// Removing a default role: later users do not get it, bob keeps it.
	if _, err := s.RemoveDefaultRole(ctx, "acme", "users"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveDefaultRole(ctx, "acme", "users"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("removing it again: %v, want ErrNotFound", err)
	}
	create("cy")
	if _, held := defaultRolesOf(t, s, "acme", "cy"); len(held) != 0 {
		t.Errorf("cy holds %v, want none", held)
	}
	if _, held := defaultRolesOf(t, s, "acme", "bob"); !slices.Equal(held, []string{"users"}) {
		t.Errorf("bob holds %v after the default went, want [users]", held)
	}
}

// The creation is guarded on the default roles it read: a default role
// added between the build and the commit makes the creation rebuild, so
// the user gets it.
func TestDefaultRolesGuarded(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "acme", "")
	storagetest.MustItem(t, s, "acme", storage.KindRole, "late")
	raced := false
	_, _, err := s.PutItem(ctx, "acme", storage.KindUser, "dan", storage.CreateOnly,
		storagetest.SetTo(storagetest.RecordFor(storage.KindUser, "dan")),
		func(v storage.View, t2 *storage.Txn, _ bool) error {
			if !raced {
				raced = true
				// Another writer makes "late" a default role after this
				// build read the (empty) default roles.
				if _, _, err := s.AddDefaultRole(ctx, "acme", "late", storage.CreateOnly); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if _, held := defaultRolesOf(t, s, "acme", "dan"); !slices.Equal(held, []string{"late"}) {
		t.Errorf("dan holds %v, want [late]: the creation missed a default role added before it committed", held)
	}
}
