package authz

// SystemAccount is the name of the account whose principals act in every
// account.
const SystemAccount = "system"

// maxDepth bounds the walk up the account tree in Within.
const maxDepth = 64

// Within reports whether account target equals actor or is a descendant of
// it. parentOf returns the parent name of an account and whether it has one
// (a nil parentOf means no account has a parent). Principals of
// SystemAccount act everywhere. An empty actor or target is never within
// anything. The walk calls parentOf at most 64 times: an ancestor more than
// 64 levels up, or a cycle in the tree, gives false. It does not allocate
// (beyond what parentOf does).
func Within(actor, target string, parentOf func(string) (string, bool)) bool {
	if actor == "" || target == "" {
		return false
	}
	if actor == SystemAccount || actor == target {
		return true
	}
	if parentOf == nil {
		return false
	}
	cur := target
	for range maxDepth {
		p, ok := parentOf(cur)
		if !ok || p == "" {
			return false
		}
		if p == actor {
			return true
		}
		cur = p
	}
	return false
}
