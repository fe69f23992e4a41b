package storage_test

import (
	"errors"
	"reflect"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

func TestFederationRecords(t *testing.T) {
	p := storage.Principal{Account: "corp", Provider: "dir", Subject: "uid=a,dc=x", LinkAccount: "corp-eu", LinkUser: "a"}
	if got, err := storage.DecodePrincipal(p.Encode()); err != nil || got != p {
		t.Errorf("principal round trip: %+v, %v", got, err)
	}
	for _, a := range []storage.PrincipalAttribute{{Name: "x"}, {Name: "http://x/y", Values: []string{"", "a\nb", "c"}}} {
		got, err := storage.DecodePrincipalAttribute(a.Encode())
		if err != nil || got.Name != a.Name || len(got.Values) != len(a.Values) || (len(a.Values) > 0 && !reflect.DeepEqual(got.Values, a.Values)) {
			t.Errorf("attribute round trip: %+v, %v; want %+v", got, err, a)
		}
	}
	l := storage.FederatedLink{Type: "ldap", RuleGroups: []string{"g1", "g2"}, RuleRoles: []string{"r"}}
	if got, err := storage.DecodeFederatedLink(l.Encode()); err != nil || !reflect.DeepEqual(got, l) {
		t.Errorf("link round trip: %+v, %v", got, err)
	}
}

func TestFederationWrites(t *testing.T) {
	s := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	storagetest.MustAccount(t, s, "corp", "")
	storagetest.MustItem(t, s, "corp", storage.KindUser, "alice")
	attrs := map[string]storage.PrincipalAttribute{
		"groups": {Name: "groups", Values: []string{"a", "b"}},
		"mail":   {Name: "mail", Values: []string{"alice@x"}},
	}
	write := func(attrs map[string]storage.PrincipalAttribute) error {
		_, err := s.Update(ctx, func(v storage.View, t *storage.Txn) error {
			if err := t.PutPrincipal("ldap", "corp:dir:alice", storage.Principal{Account: "corp", Provider: "dir", Subject: "alice",
				LinkAccount: "corp", LinkUser: "alice"}); err != nil {
				return err
			}
			if err := t.ReplacePrincipalAttributes("ldap", "corp:dir:alice", attrs); err != nil {
				return err
			}
			t.PutMember(storage.UserFederated("corp", "alice"), "corp:dir:alice", storage.FederatedLink{Type: "ldap"}.Encode())
			return nil
		})
		return err
	}
	if err := write(attrs); err != nil {
		t.Fatal(err)
	}
	var mailID int64
	err := s.Read(ctx, 0, func(v storage.View) error {
		if n := v.PrincipalCount("ldap"); n != 1 {
			t.Errorf("PrincipalCount = %d", n)
		}
		if ids, n := v.PrincipalsPage("ldap", "", nil, 0, 10); n != 1 || ids[0] != "corp:dir:alice" {
			t.Errorf("PrincipalsPage = %v, %d", ids, n)
		}
		if names, n := v.PrincipalAttributesPage("ldap", "corp:dir:alice", "", nil, 0, 10); n != 2 || !reflect.DeepEqual(names, []string{"groups", "mail"}) {
			t.Errorf("PrincipalAttributesPage = %v, %d", names, n)
		}
		var a storage.PrincipalAttribute
		a, mailID, _ = v.PrincipalAttribute("ldap", "corp:dir:alice", "mail")
		if mailID == 0 || a.Values[0] != "alice@x" {
			t.Errorf("PrincipalAttribute mail = %+v, %d", a, mailID)
		}
		if _, ok := v.FederatedLink("corp", "alice", "corp:dir:alice"); !ok {
			t.Error("no user side of the link")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Replacing keeps an unchanged attribute (same id), drops the gone.
	if err := write(map[string]storage.PrincipalAttribute{"mail": attrs["mail"], "cn": {Name: "cn", Values: []string{"A"}}}); err != nil {
		t.Fatal(err)
	}
	err = s.Read(ctx, 0, func(v storage.View) error {
		names, _ := v.PrincipalAttributesPage("ldap", "corp:dir:alice", "", nil, 0, 10)
		if !reflect.DeepEqual(names, []string{"cn", "mail"}) {
			t.Errorf("attributes after replace: %v", names)
		}
		if _, id, _ := v.PrincipalAttribute("ldap", "corp:dir:alice", "mail"); id != mailID {
			t.Errorf("an unchanged attribute was rewritten: id %d, was %d", id, mailID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ids and names with "/" are refused.
	_, err = s.Update(ctx, func(v storage.View, t *storage.Txn) error {
		return t.PutPrincipal("ldap", "a/b", storage.Principal{})
	})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("id with /: %v, want ErrInvalid", err)
	}
	_, err = s.Update(ctx, func(v storage.View, t *storage.Txn) error {
		return t.ReplacePrincipalAttributes("ldap", "x", map[string]storage.PrincipalAttribute{"a/b": {}})
	})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("attribute name with /: %v, want ErrInvalid", err)
	}
	// The user side of a link goes with the user; the principal stays.
	if _, err := s.DeleteItem(ctx, "corp", storage.KindUser, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := storagetest.EtcdKeys(t, s, storage.SubRange("corp", storage.KindFederated, "alice")); len(got) != 0 {
		t.Errorf("user side of the link left behind: %v", got)
	}
	if got := storagetest.EtcdKeys(t, s, storage.FederatedRange); len(got) != 1 {
		t.Errorf("principal records: %v, want the one principal", got)
	}
}
