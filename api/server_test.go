package api

import "testing"

// TestFrontLiteral: of two patterns ServeMux refuses together, the one
// whose literal comes first is picked to be served first; patterns that
// do not conflict, or where one is more specific, are not.
func TestFrontLiteral(t *testing.T) {
	all := []string{"/auth/v2/accounts/{a}", "/auth/v2/accounts/rules", "/auth/v2/accounts/{a}/roles",
		"/auth/v2/accounts/rules/{r}", "/auth/v2/accounts/{a}/users/{u}", "/auth/v2/federated/{type}"}
	for _, c := range []struct {
		p      string
		prefix string
		want   bool
	}{
		{"/auth/v2/accounts/rules/{r}", "/auth/v2/accounts/rules/", true},
		{"/auth/v2/accounts/{a}/roles", "", false},
		{"/auth/v2/accounts/rules", "", false},
		{"/auth/v2/accounts/{a}", "", false},
		{"/auth/v2/federated/{type}", "", false},
	} {
		prefix, ok := frontLiteral(c.p, all)
		if ok != c.want || prefix != c.prefix {
			t.Errorf("frontLiteral(%s) = %q, %v; want %q, %v", c.p, prefix, ok, c.prefix, c.want)
		}
	}
}
