package storage

import (
	"testing"
)

// TestDecisionRev: DecisionRev moves on a change to any kind range a
// permission decision reads (record, ceiling, user-role, user-group,
// group-role, role-permission), stays on changes to anything else, and
// allocates nothing.
func TestDecisionRev(t *testing.T) {
	s := openStore(t, startEtcd(t))
	ctx := cacheTestCtx(t)
	const a = "dr"
	for _, acc := range []string{a, "elsewhere"} {
		if _, err := s.CreateAccount(ctx, acc, Account{}, []string{"x:*"}); err != nil {
			t.Fatal(err)
		}
		for _, it := range [][2]string{{KindUser, "u"}, {KindRole, "r"}, {KindGroup, "g"}} {
			if _, _, err := s.PutItem(ctx, acc, it[0], it[1], CreateOnly, setValue("x"), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	decisionRev := func() int64 {
		var rev int64
		if err := s.Read(ctx, 0, func(v View) error { rev = v.DecisionRev(a); return nil }); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	moves := []struct {
		what  string
		write func() (int64, error)
	}{
		{"account record", func() (int64, error) {
			return s.UpdateAccount(ctx, a, func(acc *Account) { acc.Description = "changed" })
		}},
		{"ceiling", func() (int64, error) {
			_, rev, err := s.SetAdd(ctx, Coll{Account: a, Kind: KindCeiling}, "y:*", "", CreateOnly)
			return rev, err
		}},
		{"user-role", func() (int64, error) {
			_, rev, err := s.LinkAdd(ctx, a, UserRoles, "u", "r", CreateOnly)
			return rev, err
		}},
		{"user-group", func() (int64, error) {
			_, rev, err := s.LinkAdd(ctx, a, UserGroups, "u", "g", CreateOnly)
			return rev, err
		}},
		{"group-role", func() (int64, error) {
			_, rev, err := s.LinkAdd(ctx, a, GroupRoles, "g", "r", CreateOnly)
			return rev, err
		}},
		{"role permission", func() (int64, error) {
			_, rev, err := s.SetAdd(ctx, Coll{Account: a, Kind: KindRolePerm, Owner: "r"}, "x:read", "", CreateOnly)
			return rev, err
		}},
	}
	for _, m := range moves {
		before := decisionRev()
		rev, err := m.write()
		if err != nil {
			t.Fatalf("%s: %v", m.what, err)
		}
		if got := decisionRev(); got != rev || got <= before {
			t.Errorf("a change to the %s at %d: DecisionRev %d → %d", m.what, rev, before, got)
		}
	}
	stays := []struct {
		what  string
		write func() error
	}{
		{"user attribute", func() error {
			_, _, err := s.SetAdd(ctx, Coll{Account: a, Kind: KindAttr, Owner: "u"}, "mail", "m", CreateOnly)
			return err
		}},
		{"user record", func() error {
			_, _, err := s.PutItem(ctx, a, KindUser, "u", UpdateOnly, setValue("y"), nil)
			return err
		}},
		{"group record", func() error {
			_, _, err := s.PutItem(ctx, a, KindGroup, "g2", CreateOnly, setValue("y"), nil)
			return err
		}},
		{"another account's memberships", func() error {
			_, _, err := s.LinkAdd(ctx, "elsewhere", UserRoles, "u", "r", CreateOnly)
			return err
		}},
	}
	for _, st := range stays {
		before := decisionRev()
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if got := decisionRev(); got != before {
			t.Errorf("a change to the %s moved DecisionRev %d → %d", st.what, before, got)
		}
	}
	if err := s.Read(ctx, 0, func(v View) error {
		if n := testing.AllocsPerRun(100, func() { v.DecisionRev(a) }); n != 0 {
			t.Errorf("DecisionRev allocates %v times per call", n)
		}
		if v.DecisionRev("missing") != 0 {
			t.Errorf("DecisionRev of a missing account = %d", v.DecisionRev("missing"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

}
