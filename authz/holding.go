package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
)

// Holding is what one user holds, ready for decisions: the permissions of
// the user's roles and of the roles of the user's groups, each with the
// role that grants it, and the user's account's effective ceiling.
type Holding struct {
	Account string
	Perms   []string
	Roles   []string // Roles[i] is the role (in Account) that grants Perms[i]
	Ceiling Ceiling

	deps []dep // the accounts the holding was computed from, with their revisions

	effOnce sync.Once
	eff     []string
	sumOnce sync.Once
	sum     string
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

// Sum is a digest of the holding's content (permissions, granting roles,
// ceiling): the same on every instance for the same stored state, so a
// document showing effective permissions can fold it into its ETag.
func (h *Holding) Sum() string {
	h.sumOnce.Do(func() {
		d := sha256.New()
		for i, p := range h.Perms {
			d.Write([]byte(p))
			d.Write([]byte{0})
			d.Write([]byte(h.Roles[i]))
			d.Write([]byte{1})
		}
		for _, level := range h.Ceiling {
			for _, p := range level {
				d.Write([]byte(p))
				d.Write([]byte{2})
			}
			d.Write([]byte{3})
		}
		h.sum = hex.EncodeToString(d.Sum(nil)[:12])
	})
	return h.sum
}

// dep is one account a holding depends on, with its decision revision
// then.
type dep struct {
	account string
	rev     int64
}

// Holdings computes users' holdings from a Directory and keeps them
// until something they were computed from changes (Directory.DecisionRev
// of the user's account and of every account on its ceiling chain).
// Other writes (attributes, sign-in times, users) leave them valid, so a
// decision costs a memo lookup, a few revision compares and Decide, with
// no allocation.
type Holdings struct {
	memo sync.Map // holdingKey → *Holding
	size atomic.Int64
}

// maxHoldings bounds the memo (each entry is a few hundred bytes); when
// full it is cleared and refills from the users asked about.
const maxHoldings = 250_000

type holdingKey struct{ account, user string }

// Of returns the holding of user u in account a. The user must exist.
func (hs *Holdings) Of(d Directory, a, u string) *Holding {
	if x, ok := hs.memo.Load(holdingKey{a, u}); ok {
		h := x.(*Holding)
		if h.valid(d) {
			return h
		}
	}
	h := ComputeHolding(d, a, u)
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

func (h *Holding) valid(d Directory) bool {
	for _, x := range h.deps {
		if d.DecisionRev(x.account) != x.rev {
			return false
		}
	}
	return true
}

// CeilingOf is account a's effective ceiling: its own set, then each
// ancestor's; and the chain of accounts walked (a first).
func CeilingOf(d Directory, a string) (Ceiling, []string) {
	var c Ceiling
	var chain []string
	for x, ok := a, true; ok && len(chain) < maxDepth; x, ok = d.Parent(x) {
		chain = append(chain, x)
		var level []string
		d.EachCeiling(x, func(p string) bool {
			level = append(level, p)
			return true
		})
		c = append(c, level)
	}
	return c, chain
}

// ComputeHolding reads user u's holding afresh (no memo): what a check
// inside a guarded write uses, so every read becomes a guard.
func ComputeHolding(d Directory, a, u string) *Holding {
	h := &Holding{Account: a}
	addRole := func(r string) bool {
		d.EachRolePermission(a, r, func(p string) bool {
			h.Perms = append(h.Perms, p)
			h.Roles = append(h.Roles, r)
			return true
		})
		return true
	}
	d.EachUserRole(a, u, addRole)
	d.EachUserGroup(a, u, func(g string) bool {
		d.EachGroupRole(a, g, addRole)
		return true
	})
	var chain []string
	h.Ceiling, chain = CeilingOf(d, a)
	for _, x := range chain {
		h.deps = append(h.deps, dep{x, d.DecisionRev(x)})
	}
	return h
}
