package authz

import "gatehouse/authn"

// Denial says why a decision was not granted.
type Denial int

const (
	Granted        Denial = iota // not denied
	NoUser                       // the principal's user does not exist
	Disabled                     // the principal's user is disabled
	OutsideTenancy               // the target account is missing or outside the principal's tenancy
	NotHeld                      // the user's roles and groups do not grant it within the ceiling
	OutOfScope                   // the user holds it, but the principal's scopes do not carry it
)

// Decision is the answer to "may this principal do that, there?".
type Decision struct {
	Denial Denial
	// Role is the role (in the principal's account) that grants the
	// permission, when granted.
	Role string
}

// Granted reports whether the decision grants.
func (d Decision) Granted() bool { return d.Denial == Granted }

// Authority is gatehouse's one decision point: route checks, POST /check,
// effective permissions, API keys, escalation checks and (later) token
// scopes all ask it. It memoises the holdings of the principals it
// decides for (Holdings, within Holdings.Budget bytes), which stay valid
// until the directory's DecisionRev of an account they read moves;
// documents showing a user's permissions use Holdings.Compute, which
// stores nothing.
type Authority struct {
	Holdings Holdings
}

// Decide answers whether principal p may act with permission in account
// (the principal's own when ""). It is granted iff the principal's user
// exists and is enabled, the account exists and is the principal's or a
// descendant of it (Within), the user's roles and groups grant the
// permission within the principal's account's effective ceiling, and,
// for a scoped principal (an API key, a token), one of its scopes implies
// the permission. It does not allocate once the holding is memoised.
func (au *Authority) Decide(d Directory, p authn.Principal, permission, account string) Decision {
	exists, enabled := d.UserState(p.Account, p.User)
	if !exists {
		return Decision{Denial: NoUser}
	}
	if !enabled {
		return Decision{Denial: Disabled}
	}
	if account != "" && account != p.Account && (!d.AccountExists(account) || !Within(p.Account, account, d.Parent)) {
		return Decision{Denial: OutsideTenancy}
	}
	return au.decideHeld(au.Holdings.Of(d, p.Account, p.User), p, permission)
}

// HeldBy is principal p's holding for deciding many permissions over one
// view d (a document's links): nil when the user is missing or disabled.
// DecideHeld with it answers as Decide does without an account, each
// without reading the user again.
func (au *Authority) HeldBy(d Directory, p authn.Principal) *Holding {
	exists, enabled := d.UserState(p.Account, p.User)
	if !exists || !enabled {
		return nil
	}
	return au.Holdings.Of(d, p.Account, p.User)
}

// DecideHeld decides permission for p from h (HeldBy; nil: p's user is
// missing or disabled, which is a denial).
func (au *Authority) DecideHeld(h *Holding, p authn.Principal, permission string) Decision {
	if h == nil {
		return Decision{Denial: NoUser}
	}
	return au.decideHeld(h, p, permission)
}

func (au *Authority) decideHeld(h *Holding, p authn.Principal, permission string) Decision {
	role, ok := h.Decide(permission)
	if !ok {
		return Decision{Denial: NotHeld}
	}
	if p.Scopes != nil && FirstImplying(p.Scopes, permission) < 0 {
		return Decision{Denial: OutOfScope}
	}
	return Decision{Role: role}
}

// Visible reports whether principal p may see account a at all: a exists
// and is p's account or below it (system principals see everything). A
// foreign account must look exactly like a missing one (404).
func Visible(d Directory, p authn.Principal, a string) bool {
	return d.AccountExists(a) && Within(p.Account, a, d.Parent)
}

// Batch answers many questions from one directory read, memoising per
// batch what does not depend on the permission asked: each principal's
// user state and holding and each (account, target) tenancy walk. It is
// what POST /check uses; the rule is Decide's.
type Batch struct {
	au     *Authority
	d      Directory
	users  map[[2]string]*Holding // (account, user) → holding; nil: missing or disabled
	within map[[2]string]bool
}

// NewBatch starts a batch over d.
func (au *Authority) NewBatch(d Directory) *Batch {
	return &Batch{au: au, d: d, users: map[[2]string]*Holding{}, within: map[[2]string]bool{}}
}

// Decide is Authority.Decide, memoised within the batch.
func (b *Batch) Decide(p authn.Principal, permission, account string) Decision {
	k := [2]string{p.Account, p.User}
	h, seen := b.users[k]
	if !seen {
		if exists, enabled := b.d.UserState(p.Account, p.User); exists && enabled {
			h = b.au.Holdings.Of(b.d, p.Account, p.User)
		}
		b.users[k] = h
	}
	if h == nil {
		return Decision{Denial: NoUser}
	}
	if account != "" && account != p.Account {
		t := [2]string{p.Account, account}
		ok, seen := b.within[t]
		if !seen {
			ok = b.d.AccountExists(account) && Within(p.Account, account, b.d.Parent)
			b.within[t] = ok
		}
		if !ok {
			return Decision{Denial: OutsideTenancy}
		}
	}
	return b.au.decideHeld(h, p, permission)
}
