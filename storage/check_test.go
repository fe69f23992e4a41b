package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

var errPrecondition = errors.New("precondition failed")

// That a check runs again when a concurrent write invalidates what it
// read, and that a refusing check leaves etcd unchanged under every store
// operation, is pinned by the conformance suite (storage/conformance,
// checks.go); this file keeps what is particular to the context.

// TestChecksStack: checks run in the order added, each context keeps its
// own list, and the first refusal stops the rest.
func TestChecksStack(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	if _, err := s.CreateAccount(ctx, "cs", storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	var ran []string
	check := func(name string, err error) func(storage.View) error {
		return func(storage.View) error { ran = append(ran, name); return err }
	}
	base := storage.WithCheck(ctx, check("A", nil))
	withB := storage.WithCheck(base, check("B", nil))
	withC := storage.WithCheck(base, check("C", errPrecondition))
	withD := storage.WithCheck(withC, check("D", nil))
	write := func(ctx context.Context, name string) error {
		_, err := s.Update(ctx, func(v storage.View, tx *storage.Txn) error {
			tx.Put(storage.ItemKey("cs", storage.KindRole, name), "r")
			return nil
		})
		return err
	}
	for _, tc := range []struct {
		ctx  context.Context
		want []string
		err  error
	}{
		{withB, []string{"A", "B"}, nil},
		{withC, []string{"A", "C"}, errPrecondition},
		{withD, []string{"A", "C"}, errPrecondition},
		{base, []string{"A"}, nil},
	} {
		ran = nil
		if err := write(tc.ctx, fmt.Sprint(len(tc.want), tc.err != nil)); err != tc.err {
			t.Errorf("checks %q: Update = %v, want %v", tc.want, err, tc.err)
		}
		if !slices.Equal(ran, tc.want) {
			t.Errorf("ran %q, want %q", ran, tc.want)
		}
	}
}
