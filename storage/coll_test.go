package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCollNamesTheLayout: a Coll's range, member keys and owner are the
// keys of doc.go's layout.
func TestCollNamesTheLayout(t *testing.T) {
	for _, tc := range []struct {
		c                  Coll
		prefix, member     string
		owner, ownerInWord string
	}{
		{Coll{Account: "acme", Kind: KindUser}, ItemRange("acme", KindUser), ItemKey("acme", KindUser, "m"),
			AccountKey("acme"), `account "acme"`},
		{Coll{Account: "acme", Kind: KindCeiling}, "t/acme/ceil/", "t/acme/ceil/m", "acct/acme", `account "acme"`},
		{Coll{Account: "acme", Kind: KindAttr, Owner: "u"}, SubRange("acme", KindAttr, "u"), SubKey("acme", KindAttr, "u", "m"),
			ItemKey("acme", KindUser, "u"), `user "u" in account "acme"`},
		{Coll{Account: "acme", Kind: KindRolePerm, Owner: "r"}, "t/acme/rperm/r/", "t/acme/rperm/r/m",
			"t/acme/role/r", `role "r" in account "acme"`},
		{Coll{Account: "acme", Kind: KindAPIKey, Owner: "u"}, "t/acme/apikey/u/", "t/acme/apikey/u/m", "t/acme/user/u", `user "u" in account "acme"`},
		{GroupUsers.Of("acme", "g"), SubRange("acme", KindGrpUser, "g"), "t/acme/gu/g/m", "t/acme/group/g", `group "g" in account "acme"`},
		{UserRoles.Of("acme", "u"), "t/acme/ur/u/", "t/acme/ur/u/m", "t/acme/user/u", `user "u" in account "acme"`},
		{GroupRoles.Reverse().Of("acme", "r"), "t/acme/rg/r/", "t/acme/rg/r/m", "t/acme/role/r", `role "r" in account "acme"`},
		{AllAccounts(), AccountsRange, AccountKey("m"), "", ""},
		{RootRules(), RootRulesRange, "rules/m", "", ""},
		// Names nothing, owns nothing.
		{Coll{}, "", "", "", ""},
		{Coll{Account: "acme"}, "", "", "", ""},
		{Coll{Kind: KindUser}, "", "", "", ""},
		{Coll{Kind: KindRule, Owner: "x"}, "", "", "", ""},
		// A range no item owns: readable, not writable.
		{Coll{Account: "acme", Kind: KindUser, Owner: "x"}, "t/acme/user/x/", "t/acme/user/x/m", "", ""},
	} {
		name := fmt.Sprintf("%+v", tc.c)
		if got := tc.c.prefix(); got != tc.prefix {
			t.Errorf("%s: range %q, want %q", name, got, tc.prefix)
		}
		if got := tc.c.key("m"); got != tc.member {
			t.Errorf("%s: member key %q, want %q", name, got, tc.member)
		}
		if tc.prefix != "" && tc.member != tc.prefix+"m" {
			t.Errorf("%s: member key %q is not in the range %q", name, tc.member, tc.prefix)
		}
		key, what := tc.c.owner()
		if key != tc.owner || what != tc.ownerInWord {
			t.Errorf("%s: owner %q (%q), want %q (%q)", name, key, what, tc.owner, tc.ownerInWord)
		}
		if _, _, err := setOwner(tc.c); (err == nil) != (tc.owner != "") || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: setOwner error %v", name, err)
		}
	}
}

func TestCreatedIn(t *testing.T) {
	created := []string{
		ItemKey("p", KindChild, "new"), AccountKey("new"), ItemKey("new", KindCeiling, "x:*"),
		ItemKey("new", KindRole, "admins"), SubKey("new", KindRolePerm, "admins", "*"),
		SubKey("new", KindAttr, "u", "mail"),
	}
	for _, tc := range []struct {
		c    Coll
		want string
	}{
		{AllAccounts(), "new"},
		{Coll{Account: "new", Kind: KindRole}, "admins"},
		{Coll{Account: "new", Kind: KindRolePerm, Owner: "admins"}, "*"},
		{Coll{Account: "new", Kind: KindAttr, Owner: "u"}, "mail"},
		{Coll{Account: "new", Kind: KindRolePerm}, ""}, // "admins/*" is not a member
		{Coll{Account: "new", Kind: KindUser}, ""},
		{Coll{Account: "other", Kind: KindRole}, ""},
		{Coll{}, ""},
	} {
		name, ok := CreatedIn(tc.c, created)
		if name != tc.want || ok != (tc.want != "") {
			t.Errorf("CreatedIn(%+v) = %q, %v; want %q", tc.c, name, ok, tc.want)
		}
	}
}

// memView is a view of a cache holding keys (value = key, mod revision =
// position + 1), without etcd.
func memView(keys ...string) View {
	c := newCache(nil, "", time.Second, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		rev := int64(i + 1)
		c.setLocked(newItem([]byte(k), []byte(k), rev, rev))
		c.rev = rev
	}
	countKinds(c.tree, c.kinds, c.rev)
	c.dirty = true
	c.publishLocked()
	return c.snap.Load().view
}

// TestCollReadsAreRangeReads: each read of a Coll returns and folds what
// the raw read of its range or member key does, so moving a caller from
// keys to Colls changes no ETag; a Coll that names nothing reads and
// folds nothing.
func TestCollReadsAreRangeReads(t *testing.T) {
	v := memView("acct/acme", "t/acme/attr/u/mail", "t/acme/attr/u/tel", "t/acme/attr/v/x",
		"t/acme/ceil/a:*", "t/acme/role/r", "t/acme/rperm/r/p", "t/acme/user/u", "t/acme/user/v", "t/acme/user/w")
	match := func(n string) bool { return n != "v" }
	for _, c := range []Coll{
		{Account: "acme", Kind: KindUser}, {Account: "acme", Kind: KindAttr, Owner: "u"},
		{Account: "acme", Kind: KindCeiling}, {Account: "acme", Kind: KindRolePerm, Owner: "r"},
		AllAccounts(), {Account: "nobody", Kind: KindUser},
	} {
		p := c.prefix()
		for _, tc := range []struct {
			read    string
			byColl  func(View) string
			byRange func(View) string
		}{
			{"Count", func(v View) string { return fmt.Sprint(v.Count(c)) },
				func(v View) string { return fmt.Sprint(v.CountRange(p)) }},
			{"Names", func(v View) string { return fmt.Sprint(v.Names(c)) },
				func(v View) string { return fmt.Sprint(v.NamesRange(p)) }},
			{"Each", func(v View) string {
				var b strings.Builder
				v.Each(c, func(n, val string) bool { b.WriteString(n + "=" + val + ";"); return true })
				return b.String()
			}, func(v View) string {
				var b strings.Builder
				v.EachRange(p, func(n, val string) bool { b.WriteString(n + "=" + val + ";"); return true })
				return b.String()
			}},
			{"Page", func(v View) string { return fmt.Sprint(v.Page(c, 1, 1)) },
				func(v View) string { return fmt.Sprint(v.PageRange(p, 1, 1)) }},
			{"FilterPage", func(v View) string { return fmt.Sprint(v.FilterPage(c, "not v", match, 0, 5)) },
				func(v View) string { return fmt.Sprint(v.FilterPageRange(p, "not v", match, 0, 5)) }},
			{"HasMember", func(v View) string { return fmt.Sprint(v.HasMember(c, "u"), v.HasMember(c, "mail")) },
				func(v View) string { return fmt.Sprint(v.Has(p+"u"), v.Has(p+"mail")) }},
			{"Member", func(v View) string { return fmt.Sprint(v.Member(c, "mail")) },
				func(v View) string { return fmt.Sprint(v.Get(p + "mail")) }},
			{"MemberID", func(v View) string { return fmt.Sprint(v.MemberID(c, "tel")) },
				func(v View) string { return fmt.Sprint(v.CreateRevision(p + "tel")) }},
		} {
			a, b := v.Tracking(), v.Tracking()
			if got, want := tc.byColl(a), tc.byRange(b); got != want {
				t.Errorf("%s(%+v) = %s; the range read gives %s", tc.read, c, got, want)
			}
			if a.Digest() != b.Digest() {
				t.Errorf("%s(%+v) folds otherwise than the range read", tc.read, c)
			}
		}
	}

	tv := v.Tracking()
	before := tv.Digest()
	var zero Coll
	n := tv.Count(zero)
	names := tv.Names(zero)
	page, count := tv.Page(zero, 0, 10)
	fpage, fcount := tv.FilterPage(zero, "*", match, 0, 10)
	tv.Each(zero, func(string, string) bool { t.Error("Each of the zero Coll visited a key"); return false })
	if n != 0 || names != nil || page != nil || count != 0 || fpage != nil || fcount != 0 ||
		tv.HasMember(zero, "acct/acme") || tv.HasOwner(zero) || tv.MemberID(zero, "acct/acme") != 0 {
		t.Errorf("the zero Coll reads something")
	}
	if tv.Digest() != before {
		t.Errorf("reading the zero Coll moved the digest")
	}

	if !v.HasOwner(Coll{Account: "acme", Kind: KindAttr, Owner: "u"}) || v.HasOwner(Coll{Account: "acme", Kind: KindAttr, Owner: "x"}) ||
		!v.HasOwner(Coll{Account: "acme", Kind: KindCeiling}) || v.HasOwner(Coll{Account: "nobody", Kind: KindCeiling}) ||
		v.HasOwner(AllAccounts()) {
		t.Errorf("HasOwner does not follow the owners")
	}
	if !v.HasItem("acme", KindRole, "r") || v.HasItem("acme", KindRole, "u") {
		t.Errorf("HasItem does not follow the items")
	}
	if got := v.Names(UserRoles.Reverse().Of("acme", "r")); got != nil {
		t.Errorf("Names of an empty membership = %q", got)
	}
	if got := v.Names(Coll{Account: "acme", Kind: KindAttr, Owner: "u"}); !slices.Equal(got, []string{"mail", "tel"}) {
		t.Errorf("Names(u's attributes) = %q", got)
	}
}

func TestPutMemberNeedsACollection(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("PutMember into the zero Coll did not panic")
		}
	}()
	var tx Txn
	tx.PutMember(Coll{}, "x", "")
}
