package storage_test

import (
	"fmt"
	"slices"
	"testing"

	"gatehouse/storage"
	"gatehouse/storage/storagetest"
)

// TestSlowReaderDelaysNoWriter holds a Store.Read callback blocked while
// other requests write and read. The writes must complete (Update
// returns only once the cache has applied its revision, so the watch was
// not held up by the reader), a second Read must show them, and the
// blocked reader, released, must still see exactly the state of its own
// revision.
func TestSlowReaderDelaysNoWriter(t *testing.T) {
	s := storagetest.Store(t)
	ctx := patientCtx(t)
	const a = "snap"
	if _, err := s.CreateAccount(ctx, a, storage.Account{}, nil); err != nil {
		t.Fatal(err)
	}
	users := storage.ItemRange(a, storage.KindUser)
	for i := range 40 {
		putRecord(t, s, a, storage.KindUser, fmt.Sprintf("u%03d", i), "before")
	}
	late := storage.ItemKey(a, storage.KindUser, "late")

	type reading struct {
		rev   int64
		late  bool
		names []string
		count int
		value string
		page  []string
	}
	read := func(v storage.View) reading {
		val, _ := v.Get(storage.ItemKey(a, storage.KindUser, "u007"))
		page, _ := v.PageRange(users, 10, 5)
		return reading{rev: v.Rev(), late: v.Has(late), names: v.NamesRange(users), count: v.CountRange(users), value: val, page: page}
	}

	entered := make(chan reading)
	release := make(chan struct{})
	after := make(chan reading)
	readErr := make(chan error, 1)
	go func() {
		readErr <- s.Read(ctx, 0, func(v storage.View) error {
			entered <- read(v)
			<-release
			after <- read(v)
			return nil
		})
	}()
	before := receive(t, entered, "the slow reader's first look")

	// Writes that change the range the blocked reader holds: overwrite,
	// delete and add, enough to split and merge tree nodes.
	type written struct {
		rev int64
		err error
	}
	done := make(chan written)
	go func() {
		for i := range 40 {
			name := fmt.Sprintf("u%03d", i)
			var err error
			switch i % 3 {
			case 0:
				_, err = s.DeleteItem(ctx, a, storage.KindUser, name)
			default:
				_, _, err = s.PutItem(ctx, a, storage.KindUser, name, storage.Upsert,
					func(string, bool) (string, error) { return "after", nil }, nil)
			}
			if err == nil {
				_, _, err = s.PutItem(ctx, a, storage.KindUser, fmt.Sprintf("v%03d", i), storage.CreateOnly,
					func(string, bool) (string, error) { return "new", nil }, nil)
			}
			if err != nil {
				done <- written{err: err}
				return
			}
		}
		_, last, err := s.PutItem(ctx, a, storage.KindUser, "late", storage.CreateOnly,
			func(string, bool) (string, error) { return "late", nil }, nil)
		done <- written{rev: last, err: err}
	}()
	w := receive(t, done, "writes while a reader is blocked")
	if w.err != nil {
		t.Fatalf("write while a reader was blocked: %v", w.err)
	}

	// Another reader sees the writes at once.
	if err := s.Read(ctx, w.rev, func(v storage.View) error {
		if !v.Has(late) || v.Rev() < w.rev {
			t.Errorf("a second Read at revision %d does not show the write at %d", v.Rev(), w.rev)
		}
		if got, _ := v.Get(storage.ItemKey(a, storage.KindUser, "u007")); got != "after" {
			t.Errorf("a second Read shows u007 = %q, want the overwrite", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	close(release)
	old := receive(t, after, "the slow reader's second look")
	if err := receive(t, readErr, "the slow reader's return"); err != nil {
		t.Fatal(err)
	}
	if old.rev != before.rev || old.rev >= w.rev {
		t.Errorf("the blocked view moved from revision %d to %d (writes reached %d)", before.rev, old.rev, w.rev)
	}
	if old.late || old.value != "before" || old.count != 40 || !slices.Equal(old.names, before.names) ||
		!slices.Equal(old.page, before.page) {
		t.Errorf("the blocked view changed under its reader: before %+v, after %+v", before, old)
	}
	if len(before.names) != 40 || before.names[0] != "u000" || before.names[39] != "u039" {
		t.Errorf("the view's first look = %q", before.names)
	}
}
