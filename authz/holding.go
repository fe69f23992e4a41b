package authz

import (
	"sync"
	"sync/atomic"

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

	deps []dep // the ranges the holding was computed from

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

// dep is one kind range a holding depends on, with its revision then.
type dep struct {
	account, kind string
	rev           int64
}

// Holdings computes users' holdings from the storage view and keeps them
// until a range they were computed from changes: the account's
// memberships and role permissions, and each chain account's ceiling and
// record (its parent). Other writes (attributes, sign-in times, users)
// leave them valid, so a decision costs a memo lookup, a few revision
// compares and Decide, with no allocation.
type Holdings struct {
	memo sync.Map // holdingKey → *Holding
	size atomic.Int64
}

// maxHoldings bounds the memo (each entry is a few hundred bytes); when
// full it is cleared and refills from the users asked about.
const maxHoldings = 250_000

type holdingKey struct{ account, user string }

// Of returns the holding of user u in account a. The user must exist.
func (hs *Holdings) Of(v storage.View, a, u string) *Holding {
	if x, ok := hs.memo.Load(holdingKey{a, u}); ok {
		h := x.(*Holding)
		if h.valid(v) {
			return h
		}
	}
	h := compute(v, a, u)
	if _, loaded := hs.memo.Swap(holdingKey{a, u}, h); !loaded && hs.size.Add(1) > maxHoldings {
		hs.memo.Clear()
		hs.size.Store(0)
	}
	return h
}

// Forget drops a memoised holding (a deleted user).
func (hs *Holdings) Forget(a, u string) {
	if _, loaded := hs.memo.LoadAndDelete(holdingKey{a, u}); loaded {
		hs.size.Add(-1)
	}
}

func (h *Holding) valid(v storage.View) bool {
	for _, d := range h.deps {
		if v.KindRev(d.account, d.kind) != d.rev {
			return false
		}
	}
	return true
}

// ownKinds are the ranges of the user's own account a holding reads;
// chainKinds those of every account on the ceiling chain.
var (
	ownKinds   = []string{storage.KindUserRole, storage.KindUserGrp, storage.KindGrpRole, storage.KindRolePerm}
	chainKinds = []string{storage.KindCeiling, ""}
)

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
	var chain []string
	h.Ceiling, chain = CeilingOf(v, a)
	for _, k := range ownKinds {
		h.deps = append(h.deps, dep{a, k, v.KindRev(a, k)})
	}
	for _, x := range chain {
		for _, k := range chainKinds {
			h.deps = append(h.deps, dep{x, k, v.KindRev(x, k)})
		}
	}
	return h
}
