package conformance

import (
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// RunTests runs the storage conformance suite against stores made by
// newStore (each call returns a fresh, empty store on its own etcd or
// prefix).
//
// Every case runs as a subtest on a store of its own, which newStore
// makes with the subtest's t, so it can register the store's cleanup
// there; cases other than Bootstrap get a bootstrapped store. The cases
// run one after another: some compare etcd's revision before and after a
// call that must not write, which a concurrent case on the same etcd would
// move.
func RunTests(t *testing.T, newStore func(t testing.TB) *storage.Store) {
	t.Run("Bootstrap", func(t *testing.T) { testBootstrap(t, newStore(t)) })
	for _, c := range []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"CreateAccount", testCreateAccount},
		{"UpdateAccount", testUpdateAccount},
		{"DeleteAccount", testDeleteAccount},
		{"PutItem", testPutItem},
		{"DeleteItem", testDeleteItem},
		{"Sets", testSets},
		{"LinkAdd", testLinkAdd},
		{"LinkRemove", testLinkRemove},
		{"LinkReplace", testLinkReplace},
		{"GroupUsersMirrorsUserGroups", testGroupUsersMirror},
		{"Page", testPage},
		{"FilterPage", testFilterPage},
		{"PageArgumentEdges", testPageArgumentEdges},
		{"UpdateOnlyOnSetsAndLinks", testUpdateOnlyOnSetsAndLinks},
		{"Subtree", testSubtree},
		{"ReadYourWrites", testReadYourWrites},
		{"CheckErrorLeavesEtcdUnchanged", testCheckErrorLeavesEtcdUnchanged},
		{"CheckRunsAgain", testCheckRunsAgain},
		{"Tokens", testTokens},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			if _, err := s.Bootstrap(storagetest.Ctx(t), "", time.Now()); err != nil {
				t.Fatalf("Bootstrap: %v", err)
			}
			c.run(t, s)
		})
	}
}
