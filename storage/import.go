package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Export and import of an account subtree (SPEC §3c). ExportSubtree reads
// what an account and its descendants hold into plain records; Import
// writes such records into a store as one guarded transaction, and
// ImportResumable, above its limits, in journaled batches. Both cover
// the account records, ceilings, roles with their permissions, default
// roles, groups with their users and roles, users with their password
// hashes (never a plain secret), roles, attributes, API keys and OAuth
// clients, the account's identity providers and its federation rules.
//
// Decisions:
//   - API keys and clients are carried as stored, with their global
//     index entries (APIKeyIndexKey, ClientIndexKey) written beside them.
//     An index entry that resolves to a live record elsewhere is a taken
//     name (ErrNameTaken); a dangling one (its owner was deleted) is
//     overwritten. An API key's hash is a plain SHA-256 of its secret, so
//     it works in any store. A client's hash is keyed by the store's
//     ClientSecretKeyName server key: it verifies only in a store with the
//     same key (the same cluster, or one restored from its backup).
//   - A provider's sealed bind password opens only under the server key
//     of the store that sealed it, so it is not portable: the caller
//     exports it as left out, and imports such a provider with
//     ProviderSecretUnset, which OpenProviderSecret refuses with
//     ErrProviderSecretUnset until the password is set again.
//   - Root rules (RootRules) are exported when the subtree covers them:
//     those that land principals in an account of the subtree (their only
//     effect is there) travel with that account (RootRules); the others
//     are no part of the subtree. On import a root rule's name must be
//     free like an account's (ErrNameTaken).
//   - Above one transaction's limits (ImportBatchOps operations,
//     ImportMaxBytes bytes) ImportResumable writes journaled batches
//     (importBatches), each one guarded transaction: the first is
//     checked and guarded as a single-transaction import (every name
//     free, so a taken one writes nothing) and writes every account
//     record (reserving the names), an ImportingKey marker per account
//     and the journal ImportJournalKey(id) with its cursor; each next
//     batch writes the next operations and advances the cursor, guarded
//     on the journal as read (two resumers cannot both write a batch);
//     the last writes the top account's link from its parent, deletes
//     the markers and the journal, and carries the audit entry. id is
//     the caller's stable name of the document (the SHA-256 of its
//     bytes), so importing the same document again resumes at the
//     cursor: the operations are planned again in the same order (the
//     cursor counts them), without the name checks the first batch made.
//     Mid-import the accounts exist by name but are not linked under the
//     parent, and sign-in refuses their users, API keys and clients
//     (View.Importing). To abandon an interrupted import, delete its
//     accounts (DELETE of the top removes them): a journal one of whose
//     accounts is gone is stale, and the next import of the document
//     drops it with its markers and starts afresh. A document whose
//     first batch cannot hold every account record, link and marker
//     (about 5000 accounts) is ErrTooLarge.
//
// Federation links, passkeys and TOTP secrets are not exported: the
// export leaves them out and names them (ExportSubtree's omitted), so an
// export never loses state without saying so. Volatile state (sessions,
// last sign-ins, failure counts, lockouts, a provider's sync status) is
// left out on purpose.

// ErrTooLarge is an import above the single-transaction limit (Import),
// or one that journaled batches cannot take either (ImportResumable).
var ErrTooLarge = errors.New("too large")

// ImportMaxOps is the most etcd operations one import transaction may
// take: below the embedded etcd's transaction limit of 16384
// (embedded.go), leaving room for the writes the transaction carries
// besides (its audit entry). An external etcd needs --max-txn-ops above
// this, or it refuses larger imports itself.
const ImportMaxOps = 16000

// ImportMaxBytes is the most key and value bytes one import transaction
// may write, below the embedded etcd's request limit of 8 MiB.
const ImportMaxBytes = 6 << 20

// ImportBatchOps is the most etcd operations one transaction of an import
// takes: ImportMaxOps, lowered only by tests (to take small imports in
// batches).
var ImportBatchOps = ImportMaxOps

// ImportAfterBatch, when set (by tests), runs after each batch of a
// journaled import but the last has committed, with the journal's cursor
// and the import's total operations; an error stops the import there, as
// a crash would, leaving its journal to resume from.
var ImportAfterBatch func(cursor, total int) error

// ImportJournalRange holds the journals of imports taken in batches:
// ImportJournalKey(id).
const ImportJournalRange = "importjournal/"

// ImportJournalKey is the key of the journal of import id.
func ImportJournalKey(id string) string { return ImportJournalRange + id }

// ImportingRange marks the accounts of a journaled import still under
// way: ImportingKey(a) exists from its first batch to its last.
const ImportingRange = "importing/"

// ImportingKey is the marker of account a while a journaled import
// writes it.
func ImportingKey(a string) string { return ImportingRange + a }

// Importing reports whether account a is being written by a journaled
// import that has not finished: sign-in refuses its users and keys.
// It is on the path of every sign-in, so unless the view keeps keys the
// key is built in a pooled buffer.
func (v View) Importing(a string) bool {
	if v.keepsKeys() {
		return v.Has(ImportingKey(a))
	}
	if !v.s.anyImporting && v.r == nil {
		return false // no import under way anywhere: nothing to seek
	}
	bp := keyBufs.Get().(*[]byte)
	b := append(append((*bp)[:0], ImportingRange...), a...)
	_, ok := v.read(unsafe.String(unsafe.SliceData(b), len(b)))
	*bp = b
	keyBufs.Put(bp)
	return ok
}

// SubtreeAccount is one account of an exported subtree.
type SubtreeAccount struct {
	Name         string
	Account      Account
	Ceiling      []string
	Roles        []SubtreeRole
	DefaultRoles []string
	Groups       []SubtreeGroup
	Users        []SubtreeUser
	Providers    []SubtreeProvider
	Rules        []SubtreeRule
	// RootRules are the root rules whose effect is this account.
	RootRules []SubtreeRule
}

// SubtreeProvider is an identity provider of an account.
type SubtreeProvider struct {
	Name     string
	Provider Provider
}

// SubtreeRule is a federation rule of an account.
type SubtreeRule struct {
	Name string
	Rule Rule
}

// SubtreeRole is a role with its permissions.
type SubtreeRole struct {
	Name        string
	Role        Role
	Permissions []string
}

// SubtreeGroup is a group with its roles and users.
type SubtreeGroup struct {
	Name  string
	Group Group
	Roles []string
	Users []string
}

// SubtreeUser is a user with its roles, attributes (name, value), API
// keys (each one's id is its Prefix) and OAuth clients.
type SubtreeUser struct {
	Name       string
	User       User
	Roles      []string
	Attributes [][2]string
	APIKeys    []APIKey
	Clients    []Client
}

// exportedKinds are the kinds an export carries, or leaves out on purpose
// as volatile (last sign-in, sessions, a WebAuthn user handle without its
// passkeys, a provider's sync status). Anything else in an account's range is named in the export's
// omitted list, so state a later kind adds is never dropped silently.
var exportedKinds = map[string]bool{
	KindChild: true, KindCeiling: true, KindRole: true, KindRolePerm: true,
	KindGroup: true, KindUser: true, KindAttr: true, KindDefaultRole: true,
	KindUserRole: true, KindRoleUser: true, KindUserGrp: true, KindGrpUser: true,
	KindGrpRole: true, KindRoleGrp: true,
	KindAPIKey: true, KindClient: true, KindProvider: true, KindRule: true,
	KindLogin: true, KindSession: true, KindPasskeyUser: true, KindProviderSync: true,
}

// unsupportedKinds names the kinds an export leaves out, as the tokens of
// its omitted list (another kind is named "kind-{kind}").
var unsupportedKinds = map[string]string{
	KindFederated: "federations",
	KindPasskey:   "passkeys",
	KindTOTP:      "totp",
}

// ExportSubtree reads account a and its descendants, a first and every
// parent before its children; names within an account are in key order.
// omitted lists (sorted, once each) what the subtree holds that the export
// does not carry (unsupportedKinds).
func (v View) ExportSubtree(a string) (out []SubtreeAccount, omitted []string, err error) {
	if _, ok := v.Account(a); !ok {
		return nil, nil, notFound(fmt.Sprintf("account %q", a))
	}
	left := map[string]bool{}
	rootRules := map[string][]SubtreeRule{}
	v.EachRule(RootRules(), func(name string, r Rule) bool {
		rootRules[r.Account] = append(rootRules[r.Account], SubtreeRule{Name: name, Rule: r})
		return true
	})
	for _, x := range v.Subtree(a) {
		v.EachRange(TenantRange(x), func(name, _ string) bool {
			kind, _, _ := strings.Cut(name, "/")
			if exportedKinds[kind] {
				return true
			}
			what := unsupportedKinds[kind]
			if what == "" {
				what = "kind-" + kind
			}
			left[what] = true
			return true
		})
		acc, _ := v.Account(x)
		sa := SubtreeAccount{Name: x, Account: acc,
			Ceiling:      v.NamesRange(ItemRange(x, KindCeiling)),
			DefaultRoles: v.NamesRange(ItemRange(x, KindDefaultRole))}
		for _, r := range v.NamesRange(ItemRange(x, KindRole)) {
			rec, _ := v.Role(x, r)
			sa.Roles = append(sa.Roles, SubtreeRole{Name: r, Role: rec,
				Permissions: v.NamesRange(SubRange(x, KindRolePerm, r))})
		}
		for _, g := range v.NamesRange(ItemRange(x, KindGroup)) {
			rec, _ := v.Group(x, g)
			sa.Groups = append(sa.Groups, SubtreeGroup{Name: g, Group: rec,
				Roles: v.NamesRange(SubRange(x, KindGrpRole, g)),
				Users: v.NamesRange(SubRange(x, KindGrpUser, g))})
		}
		for _, u := range v.NamesRange(ItemRange(x, KindUser)) {
			rec, _ := v.User(x, u)
			su := SubtreeUser{Name: u, User: rec, Roles: v.NamesRange(SubRange(x, KindUserRole, u))}
			v.EachRange(SubRange(x, KindAttr, u), func(n, val string) bool {
				su.Attributes = append(su.Attributes, [2]string{n, val})
				return true
			})
			for _, id := range v.NamesRange(SubRange(x, KindAPIKey, u)) {
				if k, ok := v.APIKey(x, u, id); ok {
					k.Prefix = id
					su.APIKeys = append(su.APIKeys, k)
				}
			}
			for _, id := range v.NamesRange(SubRange(x, KindClient, u)) {
				if c, ok := v.Client(x, u, id); ok {
					c.ID = id
					su.Clients = append(su.Clients, c)
				}
			}
			sa.Users = append(sa.Users, su)
		}
		for _, p := range v.NamesRange(ItemRange(x, KindProvider)) {
			if rec, ok := v.Provider(x, p); ok {
				sa.Providers = append(sa.Providers, SubtreeProvider{Name: p, Provider: rec})
			}
		}
		v.EachRule(AccountRules(x), func(name string, r Rule) bool {
			sa.Rules = append(sa.Rules, SubtreeRule{Name: name, Rule: r})
			return true
		})
		sa.RootRules = rootRules[x]
		out = append(out, sa)
	}
	omitted = slices.Sorted(maps.Keys(left))
	return out, omitted, nil
}

// Import writes accounts (the first is the top of the subtree, whose
// parent must exist in the store; every other account's parent must be an
// earlier account of the list) in one transaction guarded on every account
// name being free, so nothing is written when one is taken (ErrNameTaken).
// A membership, default role or role naming an item the account does not
// hold, a bad name or a duplicate is ErrInvalid; more than ImportBatchOps
// operations or ImportMaxBytes bytes is ErrTooLarge (ImportResumable
// takes such imports in batches).
func (s *Store) Import(ctx context.Context, accounts []SubtreeAccount) (int64, error) {
	return s.ImportResumable(ctx, "", accounts)
}

// importGuards are the guards a plan registers: on the first (or only)
// transaction of an import, Txn.Expect and Txn.ExpectNoNew; none when a
// journaled import resumes (its names are reserved by then).
type importGuards struct {
	resume      bool
	expect      func(key string)
	expectNoNew func(prefix string)
}

// planImport checks accounts against view v and calls put with every key
// and value the import writes, in a fixed order (the same for the same
// accounts): per account, its link from its parent, its record, what it
// holds, then the global index entries and root rules.
func planImport(v View, accounts []SubtreeAccount, g importGuards, put func(key, value string)) error {
	inDoc := map[string]bool{}
	indexed := map[string]bool{}
	for i, sa := range accounts {
		if err := ValidName(sa.Name); err != nil {
			return fmt.Errorf("account %q: %v: %w", sa.Name, err, ErrInvalid)
		}
		if inDoc[sa.Name] {
			return fmt.Errorf("account %q appears twice: %w", sa.Name, ErrInvalid)
		}
		if !g.resume {
			if v.Has(AccountKey(sa.Name)) {
				return fmt.Errorf("account %q: %w", sa.Name, ErrNameTaken)
			}
			g.expect(AccountKey(sa.Name))
			g.expectNoNew(TenantRange(sa.Name))
		}
		parent := sa.Account.Parent
		switch {
		case i == 0 && parent != "":
			if !v.Has(AccountKey(parent)) {
				return notFound(fmt.Sprintf("parent account %q", parent))
			}
			if !g.resume {
				g.expect(AccountKey(parent))
			}
		case i > 0 && !inDoc[parent]:
			return fmt.Errorf("account %q: its parent %q is not an earlier account of the import: %w", sa.Name, parent, ErrInvalid)
		}
		inDoc[sa.Name] = true
		if parent != "" {
			put(ItemKey(parent, KindChild, sa.Name), "")
		}
		put(AccountKey(sa.Name), sa.Account.Encode())
		if err := importAccount(sa, put); err != nil {
			return err
		}
		if err := importIndexes(v, g, sa, indexed, put); err != nil {
			return err
		}
		if err := importRootRules(v, g, sa, indexed, put); err != nil {
			return err
		}
	}
	return nil
}

// ImportResumable is Import that takes an import above one transaction's
// limits in journaled batches when journal names it (a stable id of the
// document, such as its SHA-256; "" refuses such an import with
// ErrTooLarge as Import does). See the package's decisions in this file.
func (s *Store) ImportResumable(ctx context.Context, journal string, accounts []SubtreeAccount) (int64, error) {
	if len(accounts) == 0 {
		return 0, fmt.Errorf("nothing to import: %w", ErrInvalid)
	}
	if journal != "" {
		if err := ValidName(journal); err != nil {
			return 0, fmt.Errorf("import journal id: %v: %w", err, ErrInvalid)
		}
		var resuming bool
		if err := s.Read(ctx, 0, func(v View) error { resuming = v.Has(ImportJournalKey(journal)); return nil }); err != nil {
			return 0, err
		}
		if resuming {
			return s.importBatches(ctx, journal, accounts)
		}
	}
	maxOps := ImportBatchOps
	rev, err := s.Update(ctx, func(v View, t *Txn) error {
		ops, size := 0, 0
		put := func(key, value string) {
			ops++
			size += len(key) + len(value)
			t.Put(key, value)
		}
		if err := planImport(v, accounts, importGuards{expect: t.Expect, expectNoNew: t.ExpectNoNew}, put); err != nil {
			return err
		}
		if ops > maxOps || size > ImportMaxBytes {
			return fmt.Errorf("the import needs %d etcd operations and %d bytes; one transaction takes at most %d operations and %d bytes: %w",
				ops, size, maxOps, ImportMaxBytes, ErrTooLarge)
		}
		return nil
	})
	if err != nil && errors.Is(err, ErrTooLarge) && journal != "" {
		return s.importBatches(ctx, journal, accounts)
	}
	return rev, etcdTooLarge(err)
}

// etcdTooLarge names the settings when an external etcd with smaller
// limits (--max-txn-ops, --max-request-bytes) refused a transaction of
// an import.
func etcdTooLarge(err error) error {
	if err != nil && errors.Is(err, ErrInvalid) &&
		(strings.Contains(err.Error(), "too many operations") || strings.Contains(err.Error(), "request is too large")) {
		return fmt.Errorf("etcd refused a transaction of the import (raise its --max-txn-ops to %d and --max-request-bytes above %d): %w",
			ImportMaxOps, ImportMaxBytes, ErrTooLarge)
	}
	return err
}

// importJournal is the record of an import taken in batches: its top
// account, its accounts, how many operations it writes in all and how
// many of them (in planImport's order) are committed.
type importJournal struct {
	Top      string
	Ops      int
	Cursor   int
	Accounts []string
}

func (j importJournal) encode() string {
	return encodeFields(fields{j.Top, strconv.Itoa(j.Ops), strconv.Itoa(j.Cursor), joinLines(j.Accounts)})
}

func decodeImportJournal(v string) (importJournal, error) {
	var f [4]string
	if err := decodeFields(v, f[:]); err != nil {
		return importJournal{}, err
	}
	ops, err1 := strconv.Atoi(f[1])
	cur, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return importJournal{}, fmt.Errorf("record: import journal counts %q %q", f[1], f[2])
	}
	return importJournal{Top: f[0], Ops: ops, Cursor: cur, Accounts: splitLines(f[3])}, nil
}

type importOp struct{ key, value string }

// batchOrder orders a journaled import's operations: the account records
// and the links between the accounts first (the first batch reserves
// every name, and a DELETE of the top account finds them all), the top
// account's link from its parent last (the subtree joins the tree when
// complete), the rest in planImport's order.
func batchOrder(all []importOp, accounts []SubtreeAccount) []importOp {
	records := make(map[string]bool, 2*len(accounts))
	for i, sa := range accounts {
		records[AccountKey(sa.Name)] = true
		if i > 0 {
			records[ItemKey(sa.Account.Parent, KindChild, sa.Name)] = true
		}
	}
	link := ""
	if p := accounts[0].Account.Parent; p != "" {
		link = ItemKey(p, KindChild, accounts[0].Name)
	}
	out := make([]importOp, 0, len(all))
	var rest, tail []importOp
	for _, op := range all {
		switch {
		case records[op.key]:
			out = append(out, op)
		case op.key == link:
			tail = append(tail, op)
		default:
			rest = append(rest, op)
		}
	}
	return append(append(out, rest...), tail...)
}

// errBatchMoved is a batch that found the journal elsewhere than it read
// it (another process resumed the same import): read it again.
var errBatchMoved = errors.New("the import journal moved")

// importBatches takes an import in journaled batches, or resumes one
// whose journal exists. The first batch is guarded as a single-
// transaction import is (names free, nothing new in the accounts'
// ranges), and writes the journal and an ImportingKey marker per
// account; each batch writes the next operations in planImport's order
// (the top's link from its parent moved last, so the subtree joins the
// tree only when complete) and advances the journal's cursor, guarded on
// the journal as read; the last deletes the markers and the journal and
// carries the audit entry.
func (s *Store) importBatches(ctx context.Context, id string, accounts []SubtreeAccount) (int64, error) {
	jkey := ImportJournalKey(id)
	names := make([]string, len(accounts))
	for i, sa := range accounts {
		names[i] = sa.Name
	}
	room := ImportBatchOps - len(accounts) - 2 // markers, journal, audit entry
	if room < 2*len(accounts) {
		return 0, fmt.Errorf("the import holds %d accounts; the first batch of %d operations cannot hold their records and markers: %w",
			len(accounts), ImportBatchOps, ErrTooLarge)
	}
	for {
		var all []importOp
		var j importJournal
		var started, stale bool
		err := s.Read(ctx, 0, func(v View) error {
			if val, ok := v.Get(jkey); ok {
				var err error
				if j, err = decodeImportJournal(val); err != nil {
					return fmt.Errorf("import journal %s: %w", id, err)
				}
				started = true
				for _, a := range j.Accounts {
					if !v.Has(AccountKey(a)) {
						stale = true // an account of it was deleted meanwhile
						return nil
					}
				}
			}
			all = all[:0]
			return planImport(v, accounts, importGuards{resume: started, expect: func(string) {}, expectNoNew: func(string) {}},
				func(k, val string) { all = append(all, importOp{k, val}) })
		})
		if err != nil {
			return 0, err
		}
		if stale {
			// Abandoned (an administrator deleted what it had written):
			// drop the journal and its markers, and start afresh.
			if _, err := s.Update(WithAudit(ctx, nil), func(v View, t *Txn) error {
				t.Expect(jkey)
				if val, ok := v.Get(jkey); ok {
					if cur, err := decodeImportJournal(val); err == nil {
						for _, a := range cur.Accounts {
							t.Delete(ImportingKey(a))
						}
					}
					t.Delete(jkey)
				}
				return nil
			}); err != nil {
				return 0, err
			}
			continue
		}
		all = batchOrder(all, accounts)
		if started && (j.Ops != len(all) || j.Top != accounts[0].Name) {
			return 0, fmt.Errorf("import journal %s is of another document (top %q, %d operations; this one: %q, %d): %w",
				id, j.Top, j.Ops, accounts[0].Name, len(all), ErrInvalid)
		}
		from := j.Cursor
		end, size := from, 0
		for end < len(all) && end-from < room && size+len(all[end].key)+len(all[end].value) <= ImportMaxBytes {
			size += len(all[end].key) + len(all[end].value)
			end++
		}
		last := end == len(all)
		bctx := ctx
		if !last {
			bctx = WithAudit(ctx, nil) // the entry goes with the last batch
		}
		rev, err := s.Update(bctx, func(v View, t *Txn) error {
			val, ok := v.Get(jkey)
			switch {
			case ok != started:
				return errBatchMoved
			case ok:
				cur, err := decodeImportJournal(val)
				if err != nil || cur.Cursor != from {
					return errBatchMoved
				}
			default:
				// The first batch: checked and guarded as one import.
				if err := planImport(v, accounts, importGuards{expect: t.Expect, expectNoNew: t.ExpectNoNew}, func(string, string) {}); err != nil {
					return err
				}
				if !last {
					for _, a := range names {
						t.Expect(ImportingKey(a))
						t.Put(ImportingKey(a), id)
					}
				}
			}
			t.Expect(jkey)
			for _, op := range all[from:end] {
				t.Put(op.key, op.value)
			}
			if last {
				if started {
					for _, a := range names {
						t.Delete(ImportingKey(a))
					}
					t.Delete(jkey)
				}
				return nil
			}
			t.Put(jkey, importJournal{Top: accounts[0].Name, Ops: len(all), Cursor: end, Accounts: names}.encode())
			return nil
		})
		switch {
		case errors.Is(err, errBatchMoved):
			continue
		case err != nil:
			return 0, etcdTooLarge(err)
		case last:
			return rev, nil
		}
		if ImportAfterBatch != nil {
			if err := ImportAfterBatch(end, len(all)); err != nil {
				return 0, err
			}
		}
	}
}

// importAccount puts what one account holds, checking that every name is
// valid and unique and every reference resolves within the account.
func importAccount(sa SubtreeAccount, put func(key, value string)) error {
	a := sa.Name
	bad := func(format string, args ...any) error {
		return fmt.Errorf("account %q: "+format+": %w", append(append([]any{a}, args...), ErrInvalid)...)
	}
	names := func(what string, list []string, check func(string) error) (map[string]bool, error) {
		seen := make(map[string]bool, len(list))
		for _, n := range list {
			if err := check(n); err != nil {
				return nil, bad("%s %q: %v", what, n, err)
			}
			if seen[n] {
				return nil, bad("%s %q appears twice", what, n)
			}
			seen[n] = true
		}
		return seen, nil
	}
	if _, err := names("ceiling permission", sa.Ceiling, nonEmpty); err != nil {
		return err
	}
	for _, p := range sa.Ceiling {
		put(ItemKey(a, KindCeiling, p), "")
	}
	roleNames := make([]string, len(sa.Roles))
	for i, r := range sa.Roles {
		roleNames[i] = r.Name
	}
	roles, err := names("role", roleNames, ValidName)
	if err != nil {
		return err
	}
	userNames := make([]string, len(sa.Users))
	for i, u := range sa.Users {
		userNames[i] = u.Name
	}
	users, err := names("user", userNames, ValidName)
	if err != nil {
		return err
	}
	groupNames := make([]string, len(sa.Groups))
	for i, g := range sa.Groups {
		groupNames[i] = g.Name
	}
	if _, err := names("group", groupNames, ValidName); err != nil {
		return err
	}
	refs := func(what string, list []string, known map[string]bool) error {
		_, err := names(what, list, func(n string) error {
			if !known[n] {
				return errors.New("not in the account")
			}
			return nil
		})
		return err
	}
	for _, r := range sa.Roles {
		if _, err := names("permission of role "+r.Name, r.Permissions, nonEmpty); err != nil {
			return err
		}
		put(ItemKey(a, KindRole, r.Name), r.Role.Encode())
		for _, p := range r.Permissions {
			put(SubKey(a, KindRolePerm, r.Name, p), "")
		}
	}
	if err := refs("default role", sa.DefaultRoles, roles); err != nil {
		return err
	}
	for _, r := range sa.DefaultRoles {
		put(ItemKey(a, KindDefaultRole, r), "")
	}
	for _, g := range sa.Groups {
		if err := refs("role of group "+g.Name, g.Roles, roles); err != nil {
			return err
		}
		if err := refs("user of group "+g.Name, g.Users, users); err != nil {
			return err
		}
		put(ItemKey(a, KindGroup, g.Name), g.Group.Encode())
		for _, r := range g.Roles {
			put(SubKey(a, KindGrpRole, g.Name, r), "")
			put(SubKey(a, KindRoleGrp, r, g.Name), "")
		}
		for _, u := range g.Users {
			put(SubKey(a, KindGrpUser, g.Name, u), "")
			put(SubKey(a, KindUserGrp, u, g.Name), "")
		}
	}
	for _, u := range sa.Users {
		if err := refs("role of user "+u.Name, u.Roles, roles); err != nil {
			return err
		}
		attrs := make([]string, len(u.Attributes))
		for i, kv := range u.Attributes {
			attrs[i] = kv[0]
		}
		if _, err := names("attribute of user "+u.Name, attrs, ValidName); err != nil {
			return err
		}
		put(ItemKey(a, KindUser, u.Name), u.User.Encode())
		for _, r := range u.Roles {
			put(SubKey(a, KindUserRole, u.Name, r), "")
			put(SubKey(a, KindRoleUser, r, u.Name), "")
		}
		for _, kv := range u.Attributes {
			put(SubKey(a, KindAttr, u.Name, kv[0]), kv[1])
		}
		keyIDs := make([]string, len(u.APIKeys))
		for i, k := range u.APIKeys {
			keyIDs[i] = k.Prefix
		}
		if _, err := names("API key of user "+u.Name, keyIDs, ValidName); err != nil {
			return err
		}
		for _, k := range u.APIKeys {
			if k.SecretHash == "" {
				return bad("API key %q of user %s has no secret hash", k.Prefix, u.Name)
			}
			if _, err := names("permission of API key "+k.Prefix, k.Permissions, nonEmpty); err != nil {
				return err
			}
			put(SubKey(a, KindAPIKey, u.Name, k.Prefix), k.Encode())
		}
		clientIDs := make([]string, len(u.Clients))
		for i, c := range u.Clients {
			clientIDs[i] = c.ID
		}
		if _, err := names("client of user "+u.Name, clientIDs, ValidName); err != nil {
			return err
		}
		for _, c := range u.Clients {
			put(SubKey(a, KindClient, u.Name, c.ID), c.Encode())
		}
	}
	provNames := make([]string, len(sa.Providers))
	for i, p := range sa.Providers {
		provNames[i] = p.Name
	}
	if _, err := names("provider", provNames, ValidName); err != nil {
		return err
	}
	for _, p := range sa.Providers {
		if p.Provider.Type != ProviderLDAP && p.Provider.Type != ProviderSAML {
			return bad("provider %q has type %q; expected ldap or saml", p.Name, p.Provider.Type)
		}
		put(ItemKey(a, KindProvider, p.Name), p.Provider.Encode())
	}
	ruleNames := make([]string, len(sa.Rules))
	for i, r := range sa.Rules {
		ruleNames[i] = r.Name
	}
	if _, err := names("rule", ruleNames, ValidName); err != nil {
		return err
	}
	groups := make(map[string]bool, len(groupNames))
	for _, g := range groupNames {
		groups[g] = true
	}
	for _, r := range sa.Rules {
		if r.Rule.Account != "" {
			return bad("rule %q names an account; an account rule grants groups and roles", r.Name)
		}
		if err := refs("group of rule "+r.Name, r.Rule.Groups, groups); err != nil {
			return err
		}
		if err := refs("role of rule "+r.Name, r.Rule.Roles, roles); err != nil {
			return err
		}
		put(ItemKey(a, KindRule, r.Name), r.Rule.Encode())
	}
	return nil
}

// importRootRules puts the root rules landing in account sa, guarded on
// each name being free.
func importRootRules(v View, g importGuards, sa SubtreeAccount, seen map[string]bool, put func(key, value string)) error {
	for _, r := range sa.RootRules {
		if err := ValidName(r.Name); err != nil {
			return fmt.Errorf("root rule %q: %v: %w", r.Name, err, ErrInvalid)
		}
		if r.Rule.Account != sa.Name || len(r.Rule.Groups)+len(r.Rule.Roles) > 0 {
			return fmt.Errorf("root rule %q must land in account %q and grant nothing: %w", r.Name, sa.Name, ErrInvalid)
		}
		key := RootRules().key(r.Name)
		if seen[key] {
			return fmt.Errorf("root rule %q appears twice in the import: %w", r.Name, ErrInvalid)
		}
		seen[key] = true
		if !g.resume {
			if v.Has(key) {
				return fmt.Errorf("root rule %q: %w", r.Name, ErrNameTaken)
			}
			g.expect(key)
		}
		put(key, r.Rule.Encode())
	}
	return nil
}

// importIndexes puts the global index entries of the API keys and
// clients of account sa, guarded: an entry that resolves to a live
// record is a taken name, one that dangles (its owner was deleted) is
// replaced, and one the document holds twice is ErrInvalid.
func importIndexes(v View, g importGuards, sa SubtreeAccount, seen map[string]bool, put func(key, value string)) error {
	claim := func(idx, what string, live bool, owner string) error {
		if seen[idx] {
			return fmt.Errorf("%s appears twice in the import: %w", what, ErrInvalid)
		}
		seen[idx] = true
		if !g.resume {
			if live {
				return fmt.Errorf("%s: %w", what, ErrNameTaken)
			}
			g.expect(idx)
		}
		put(idx, owner)
		return nil
	}
	for _, u := range sa.Users {
		owner := sa.Name + `\` + u.Name
		for _, k := range u.APIKeys {
			_, _, _, live := v.APIKeyOwner(k.Prefix)
			if err := claim(APIKeyIndexKey(k.Prefix), fmt.Sprintf("API key %q", k.Prefix), live, owner); err != nil {
				return err
			}
		}
		for _, c := range u.Clients {
			_, _, _, live := v.ClientOwner(c.ID)
			if err := claim(ClientIndexKey(c.ID), fmt.Sprintf("client %q", c.ID), live, owner); err != nil {
				return err
			}
		}
	}
	return nil
}

func nonEmpty(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	return nil
}
