package resources

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// A page whose items are plain links (itemLinks) and are shown collapsed
// is rendered from its names, each item an Entity on the stack, instead
// of the items the source builds. TestLinkItems renders stored
// collections both ways — as built, and with every source wrapped so
// that it only pages built items (plainNode) — and requires the same
// bytes and the same ETag digest, for readers who follow every link, some
// or none, under paging, filters and depths; at depth 2 the items must
// still be expanded.

// plainSource is a Source that only pages built items: the renderer
// cannot page its names as links.
type plainSource struct{ Source }

func (s plainSource) Page(filter string, offset, limit int) ([]Node, int) {
	items, n := s.Source.Page(filter, offset, limit)
	out := make([]Node, len(items))
	for i, it := range items {
		out[i] = plainNode(it)
	}
	return out, n
}

// plainNode is n with every collection in it, at any depth, paging built
// items (plainSource).
func plainNode(n Node) Node {
	switch n := n.(type) {
	case *Entity:
		e := *n
		if fields := n.Fields; fields != nil {
			e.Fields = func(f []Field) []Field {
				f = fields(f)
				for i := range f {
					if f[i].Node != nil {
						f[i].Node = plainNode(f[i].Node)
					}
				}
				return f
			}
		}
		return &e
	case *Collection:
		c := *n
		c.Items = plainSource{n.Items}
		c.Extra = nil
		for _, x := range n.Extra {
			c.Extra = append(c.Extra, plainNode(x))
		}
		return &c
	}
	return n
}

// linkStore is a store whose names need escaping in hrefs and in XML.
func linkStore(t *testing.T) (*storage.Store, int64) {
	t.Helper()
	ctx := context.Background()
	st := storagetest.Store(t)
	if _, err := st.Bootstrap(ctx, "x", time.Now()); err != nil {
		t.Fatal(err)
	}
	const a = "acme"
	if _, err := st.CreateAccount(ctx, a, storage.Account{}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"acme-kid", "acme-kid2"} {
		if _, err := st.CreateAccount(ctx, kid, storage.Account{Parent: a}, []string{"*"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateAccount(ctx, "other", storage.Account{}, []string{"*"}); err != nil {
		t.Fatal(err)
	}
	// Written straight to etcd, as the benchmarks do: the names are ones
	// the API would refuse, to see escaping.
	users := []string{"admin", "alice", "b ob", "c%d", "d?e", `f<&>"'`, "g\u00fc", "h:i*", "limited", "none"}
	roles := []string{"all", "r 1", "r#2", "uread"}
	groups := []string{"g&1", "readers"}
	var ops []clientv3.Op
	put := func(k, val string) { ops = append(ops, clientv3.OpPut(st.Prefix()+k, val)) }
	link := func(l storage.Link, from, to string) {
		put(storage.SubKey(a, l.Fwd, from, to), "")
		put(storage.SubKey(a, l.Rev, to, from), "")
	}
	for _, u := range users {
		put(storage.ItemKey(a, storage.KindUser, u), storage.User{Enabled: true, Email: u + "@x"}.Encode())
	}
	for _, r := range roles {
		put(storage.ItemKey(a, storage.KindRole, r), storage.Role{}.Encode())
		put(storage.ItemKey(a, storage.KindDefaultRole, r), "")
	}
	for _, g := range groups {
		put(storage.ItemKey(a, storage.KindGroup, g), storage.Group{}.Encode())
		link(storage.GroupRoles, g, "r 1")
		link(storage.GroupRoles, g, "r#2")
	}
	put(storage.SubKey(a, storage.KindRolePerm, "all", "*"), "")
	put(storage.SubKey(a, storage.KindRolePerm, "uread", "auth:users:read"), "")
	put(storage.SubKey(a, storage.KindRolePerm, "uread", "auth:accounts:read"), "")
	put(storage.SubKey(a, storage.KindRolePerm, "r 1", "auth:me:read"), "")
	link(storage.UserRoles, "admin", "all")
	link(storage.UserRoles, "limited", "uread")
	link(storage.UserRoles, "none", "r 1")
	for _, u := range []string{"alice", "b ob", "c%d", "g\u00fc"} {
		link(storage.UserGroups, u, "g&1")
		link(storage.UserRoles, u, "r 1")
		link(storage.UserRoles, u, "r#2")
		for _, id := range []string{"k 1", "k%2", "k3"} {
			put(storage.SubKey(a, storage.KindAPIKey, u, id), "")
			put(storage.SubKey(a, storage.KindClient, u, id), "")
			put(storage.SubKey(a, storage.KindAttr, u, id), "v<"+id)
		}
	}
	for _, r := range []string{"p 1", "p?2", "p3"} {
		put(storage.ItemKey(a, storage.KindProvider, r), "")
		put(storage.ItemKey(a, storage.KindRule, r), "")
		put(storage.RootRulesRange+r, "")
	}
	resp, err := st.Client().Txn(ctx).Then(ops...).Commit()
	if err != nil {
		t.Fatal(err)
	}
	return st, resp.Header.Revision
}

func TestLinkItems(t *testing.T) {
	st, rev := linkStore(t)
	const a, u = "acme", "b ob"
	system := authn.Principal{Account: authz.SystemAccount, User: storage.AdminUser}
	builds := []struct {
		name  string
		build func(v *nb) Node
	}{
		{"users", func(v *nb) Node { return v.usersNode(a) }},
		{"roles", func(v *nb) Node { return v.rolesNode(a) }},
		{"groups", func(v *nb) Node { return v.groupsNode(a) }},
		{"default-roles", func(v *nb) Node { return v.defaultRolesNode(a) }},
		{"providers", func(v *nb) Node { return v.providersNode(a) }},
		{"rules", func(v *nb) Node {
			return v.rulesNode(path("accounts", a, "rules"), storage.Coll{Account: a, Kind: storage.KindRule})
		}},
		{"root-rules", func(v *nb) Node { return v.rulesNode(path("accounts", "rules"), storage.RootRules()) }},
		{"accounts", func(v *nb) Node { return v.accountsNode(system) }},
		{"group-users", func(v *nb) Node {
			return v.membersNode(a, storage.GroupUsers, "g&1", "users", path("accounts", a, "groups", "g&1", "users"))
		}},
		{"group-roles", func(v *nb) Node {
			return v.membersNode(a, storage.GroupRoles, "g&1", "roles", path("accounts", a, "groups", "g&1", "roles"))
		}},
		{"user-groups", func(v *nb) Node { return v.membersUnder(a, storage.UserGroups, u, "groups", userHref(a, u), "/groups") }},
		{"user-roles", func(v *nb) Node { return v.membersUnder(a, storage.UserRoles, u, "roles", userHref(a, u), "/roles") }},
		{"me-roles", func(v *nb) Node { return v.membersNode(a, storage.UserRoles, u, "roles", path("me", "roles")) }},
		{"api-keys", func(v *nb) Node { return v.apiKeysNode(a, u) }},
		{"attributes", func(v *nb) Node { return v.attributesNode(a, u) }},
		{"clients", func(v *nb) Node { return v.clientsUnder(a, u, userHref(a, u)) }},
		// Entities whose collections show their items at depth − 1.
		{"account", func(v *nb) Node { return v.accountNode(a) }},
		{"user", func(v *nb) Node { return v.userNode(a, u) }},
		{"group", func(v *nb) Node { return v.groupNode(a, "g&1") }},
	}
	queries := []query{
		{Depth: 1, PageSize: 50, CurrentPage: 1},
		{Depth: 1, PageSize: 3, CurrentPage: 2, paged: true},
		{Depth: 1, PageSize: 2, CurrentPage: 1, Filter: "*e*"},
		{Depth: 1, PageSize: 2, CurrentPage: 2, Filter: "*%*", paged: true},
		{Depth: 0, PageSize: 2, CurrentPage: 1, Filter: "*e*"},
		{Depth: 2, PageSize: 3, CurrentPage: 1},
		{Depth: 3, PageSize: 2, CurrentPage: 2, paged: true},
	}
	readers := []struct {
		name   string
		p      authn.Principal
		linked bool // render with the reader deciding links
	}{
		{"no reader", system, false},
		{"system", system, true},
		{"acme admin", authn.Principal{Account: a, User: "admin"}, true},
		{"acme users:read", authn.Principal{Account: a, User: "limited"}, true},
		{"acme me:read", authn.Principal{Account: a, User: "none"}, true},
	}
	var au authz.Authority
	keyUse := &sync.Map{}
	fast, expanded := 0, 0
	err := st.Read(context.Background(), rev, func(view storage.View) error {
		// render builds the node on a fresh tracking view, so that the
		// digest (the ETag) of each rendering can be compared.
		render := func(build func(*nb) Node, p authn.Principal, linked, plain bool, q query, depthGiven bool) ([]byte, uint64, Node) {
			tv := view.Tracking()
			v := &nb{View: tv, raw: view, au: &au, p: &p, keyUse: keyUse, now: func() time.Time { return time.Unix(1e9, 0) }}
			n := build(v)
			if plain {
				n = plainNode(n)
			}
			rd := renderer{q: q, depthGiven: depthGiven}
			if linked {
				rd.reader = v
			}
			out := rd.document(n)
			b := bytes.Clone(out.Bytes())
			out.release()
			return b, tv.Digest(), n
		}
		for _, bd := range builds {
			for _, r := range readers {
				for _, q := range queries {
					for _, depthGiven := range []bool{false, true} {
						got, gotDigest, n := render(bd.build, r.p, r.linked, false, q, depthGiven)
						want, wantDigest, _ := render(bd.build, r.p, r.linked, true, q, depthGiven)
						if !bytes.Equal(got, want) {
							t.Errorf("%s, %s, %+v: items paged as links:\n%s\nitems built:\n%s", bd.name, r.name, q, got, want)
						}
						if gotDigest != wantDigest {
							t.Errorf("%s, %s, %+v: digest %x with items paged as links, %x with items built", bd.name, r.name, q, gotDigest, wantDigest)
						}
						c, ok := n.(*Collection)
						if !ok {
							continue
						}
						if lp, ok := c.Items.(linkPager); !ok || lp.linkItems() == nil {
							t.Fatalf("%s: the items are not paged as links", bd.name)
						}
						switch {
						case q.Depth == 1 && q.Filter == "" && q.CurrentPage == 1:
							fast++
						case q.Depth < 2 || q.CurrentPage > 1:
							// a later page may be empty
						case bytes.Contains(got, []byte("<name>")) || bytes.Contains(got, []byte("<client-id>")):
							expanded++ // items are expanded past depth 1
						default:
							t.Errorf("%s, %+v: the items are not expanded:\n%s", bd.name, q, got)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fast == 0 || expanded == 0 {
		t.Fatalf("%d pages of links, %d expanded", fast, expanded)
	}

	// What the pages show: escaped hrefs, escaped identifiers, and items
	// without hrefs for a reader who may not follow them.
	_ = st.Read(context.Background(), rev, func(view storage.View) error {
		show := func(p authn.Principal, linked bool) string {
			tv := view.Tracking()
			v := &nb{View: tv, raw: view, au: &au, p: &p, keyUse: keyUse}
			rd := renderer{q: query{Depth: 1, PageSize: 50, CurrentPage: 1}}
			if linked {
				rd.reader = v
			}
			out := rd.document(v.usersNode(a))
			defer out.release()
			return string(out.Bytes())
		}
		all := show(system, false)
		for _, want := range []string{
			`<user identifier="b ob" href="/auth/v2/accounts/acme/users/b%20ob"/>`,
			`<user identifier="f&lt;&amp;&gt;&quot;&apos;" href="/auth/v2/accounts/acme/users/f%3C&amp;%3E%22&apos;"/>`,
			`<user identifier="gü" href="/auth/v2/accounts/acme/users/g%C3%BC"/>`,
		} {
			if !strings.Contains(all, want) {
				t.Errorf("the page lacks %s:\n%s", want, all)
			}
		}
		if none := show(authn.Principal{Account: a, User: "none"}, true); !strings.Contains(none, `<user identifier="b ob"/>`) || strings.Contains(none, "href") {
			t.Errorf("a reader without auth:users:read sees:\n%s", none)
		}
		return nil
	})
}
