package authz

import (
	"sync"

	"gatehouse/storage"
)

// Holding is what one user holds, ready for decisions: the permissions of
// the user's roles and of the roles of the user's groups, each with the
// role that grants it, and the user's account's effective ceiling.
type Holding struct {
	Account string
	Perms   []string
	Roles   []string // Roles[i] is the role (in Account) that grants Perms[i]
	Ceiling Ceiling

	chain []string // the account and its ancestors, for validity
	revs  []int64  // their TenantRev when computed

	effOnce sync.Once
	eff     []string
}

// Decide reports whether the holding grants wanted and, if so, the role
// that grants it.
func (h *Holding) Decide(wanted string) (role string, ok bool) {
	i := Decide(h.Perms, h.Ceiling, wanted)
	if i < 0 {
		return "", false
	}
	return h.Roles[i], true
}

// Effective is the sorted effective permission list (see Effective).
func (h *Holding) Effective() []string {
	h.effOnce.Do(func() { h.eff = Effective(h.Perms, h.Ceiling) })
	return h.eff
}

// Holdings computes users' holdings from the storage view and keeps them
// until anything in the user's account or one of its ancestors changes,
// so a decision costs a memo lookup, a few revision compares and Decide.
type Holdings struct {
	memo sync.Map // account + "\\" + user → *Holding
}

// Of returns the holding of user u in account a. The user must exist.
func (hs *Holdings) Of(v storage.View, a, u string) *Holding {
	key := a + "\\" + u
	if x, ok := hs.memo.Load(key); ok {
		h := x.(*Holding)
		if h.valid(v) {
			return h
		}
	}
	h := compute(v, a, u)
	hs.memo.Store(key, h)
	return h
}

// Forget drops a memoised holding (a deleted user).
func (hs *Holdings) Forget(a, u string) { hs.memo.Delete(a + "\\" + u) }

func (h *Holding) valid(v storage.View) bool {
	for i, a := range h.chain {
		if v.TenantRev(a) != h.revs[i] {
			return false
		}
	}
	return true
}

// CeilingOf is account a's effective ceiling: its own set, then each
// ancestor's.
func CeilingOf(v storage.View, a string) (Ceiling, []string) {
	var c Ceiling
	var chain []string
	for x, ok := a, true; ok && len(chain) < 64; x, ok = v.Parent(x) {
		chain = append(chain, x)
		c = append(c, v.Names(storage.ItemRange(x, storage.KindCeiling)))
	}
	return c, chain
}

func compute(v storage.View, a, u string) *Holding {
	h := &Holding{Account: a}
	addRole := func(r string) {
		v.Each(storage.SubRange(a, storage.KindRolePerm, r), func(p, _ string) bool {
			h.Perms = append(h.Perms, p)
			h.Roles = append(h.Roles, r)
			return true
		})
	}
	v.Each(storage.SubRange(a, storage.KindUserRole, u), func(r, _ string) bool {
		addRole(r)
		return true
	})
	v.Each(storage.SubRange(a, storage.KindUserGrp, u), func(g, _ string) bool {
		v.Each(storage.SubRange(a, storage.KindGrpRole, g), func(r, _ string) bool {
			addRole(r)
			return true
		})
		return true
	})
	h.Ceiling, h.chain = CeilingOf(v, a)
	h.revs = make([]int64, len(h.chain))
	for i, x := range h.chain {
		h.revs[i] = v.TenantRev(x)
	}
	return h
}
