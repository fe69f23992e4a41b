package storage_test

import (
	"errors"
	"reflect"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

func TestRuleRecord(t *testing.T) {
	for _, r := range []storage.Rule{
		{},
		{Priority: -7, Account: "corp"},
		{Priority: 3, Conditions: []storage.RuleCondition{{Type: "ldap", Attribute: "groups", Pattern: "*a*"}, {Type: "saml", Attribute: "http://x/y", Pattern: ""}},
			Groups: []string{"g1", "g2"}, Roles: []string{"r1"}},
	} {
		got, err := storage.DecodeRule(r.Encode())
		if err != nil {
			t.Fatalf("DecodeRule(Encode(%+v)): %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip: got %+v, want %+v", got, r)
		}
	}
	for _, bad := range []string{"", "\x02", storage.Role{Description: "x"}.Encode()} {
		if _, err := storage.DecodeRule(bad); err == nil {
			t.Errorf("DecodeRule(%q) accepted", bad)
		}
	}
}

func TestPutRule(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "corp", "")
	storagetest.MustItem(t, s, "corp", storage.KindGroup, "g1")
	storagetest.MustItem(t, s, "corp", storage.KindRole, "r1")
	set := func(r storage.Rule) func(storage.Rule, bool) (storage.Rule, error) {
		return func(storage.Rule, bool) (storage.Rule, error) { return r, nil }
	}
	acct := storage.AccountRules("corp")
	created, _, err := s.PutRule(ctx, acct, "a", storage.CreateOnly, set(storage.Rule{Groups: []string{"g1"}, Roles: []string{"r1"}}))
	if err != nil || !created {
		t.Fatalf("PutRule = %v, %v", created, err)
	}
	if _, _, err := s.PutRule(ctx, acct, "a", storage.CreateOnly, set(storage.Rule{})); !errors.Is(err, storage.ErrNameTaken) {
		t.Errorf("CreateOnly on an existing rule: %v, want ErrNameTaken", err)
	}
	if _, _, err := s.PutRule(ctx, acct, "b", storage.UpdateOnly, set(storage.Rule{})); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateOnly on a missing rule: %v, want ErrNotFound", err)
	}
	for _, r := range []storage.Rule{{Groups: []string{"nope"}}, {Roles: []string{"nope"}}} {
		if _, _, err := s.PutRule(ctx, acct, "c", storage.Upsert, set(r)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("rule %+v naming a missing item: %v, want ErrNotFound", r, err)
		}
	}
	if _, _, err := s.PutRule(ctx, storage.AccountRules("nope"), "a", storage.Upsert, set(storage.Rule{})); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("rule of a missing account: %v, want ErrNotFound", err)
	}
	if _, _, err := s.PutRule(ctx, storage.RootRules(), "x", storage.Upsert, set(storage.Rule{Account: "nope"})); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("root rule to a missing account: %v, want ErrNotFound", err)
	}
	if _, _, err := s.PutRule(ctx, storage.Coll{Account: "corp", Kind: storage.KindUser}, "x", storage.Upsert, set(storage.Rule{})); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("PutRule into users: %v, want ErrInvalid", err)
	}
	// update sees the stored rule, and its refusal stores nothing.
	refuse := errors.New("refused")
	_, _, err = s.PutRule(ctx, acct, "a", storage.Upsert, func(old storage.Rule, ok bool) (storage.Rule, error) {
		if !ok || old.Groups[0] != "g1" {
			t.Errorf("update got %+v, %v", old, ok)
		}
		return storage.Rule{}, refuse
	})
	if !errors.Is(err, refuse) {
		t.Errorf("refusal: %v", err)
	}
	if _, _, err := s.PutRule(ctx, storage.RootRules(), "to-corp", storage.Upsert, set(storage.Rule{Priority: 2, Account: "corp"})); err != nil {
		t.Fatal(err)
	}
	keys := storagetest.EtcdKeys(t, s, "")
	if _, ok := keys[storage.RootRulesRange+"to-corp"]; !ok {
		t.Errorf("root rule not at %sto-corp: %v", storage.RootRulesRange, storagetest.SortedKeys(keys))
	}
	if _, ok := keys[storage.ItemKey("corp", storage.KindRule, "a")]; !ok {
		t.Errorf("account rule not in corp's range")
	}
	err = s.Read(ctx, 0, func(v storage.View) error {
		r, ok := v.Rule(storage.RootRules(), "to-corp")
		if !ok || r.Account != "corp" || r.Priority != 2 {
			t.Errorf("Rule = %+v, %v", r, ok)
		}
		n := 0
		v.EachRule(acct, func(name string, r storage.Rule) bool { n++; return true })
		if n != 1 {
			t.Errorf("EachRule saw %d rules, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRule(ctx, acct, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRule(ctx, acct, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	// Account rules go with their account.
	if _, _, err := s.PutRule(ctx, acct, "b", storage.Upsert, set(storage.Rule{})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteAccount(ctx, "corp"); err != nil {
		t.Fatal(err)
	}
	if got := storagetest.EtcdKeys(t, s, storage.TenantRange("corp")); len(got) != 0 {
		t.Errorf("keys left after the account was deleted: %v", got)
	}
}
