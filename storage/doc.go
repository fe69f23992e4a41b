// Package storage keeps gatehouse's state in etcd and serves reads from a
// watch-fed in-memory cache.
//
// Every key lives under one configurable prefix (default "/gatehouse/"), so
// several installations can share a cluster. The layout, relative to the
// prefix, is:
//
//	acct/{a}                account record (description, parent)
//	t/{a}/child/{c}         index of a's child accounts
//	t/{a}/ceil/{p}          the account's permission ceiling
//	t/{a}/role/{r}          role record
//	t/{a}/rperm/{r}/{p}     permission held by role r
//	t/{a}/group/{g}         group record
//	t/{a}/user/{u}          user record (password hash, e-mail, flags)
//	t/{a}/attr/{u}/{n}      user attribute value
//	t/{a}/login/{u}         time of the user's last verified sign-in
//	t/{a}/ur/{u}/{r}        user u holds role r      } each membership is
//	t/{a}/ru/{r}/{u}        role r is held by user u } written on both
//	t/{a}/ug/{u}/{g}        user u is in group g     } sides in the same
//	t/{a}/gu/{g}/{u}        group g contains user u  } transaction
//	t/{a}/gr/{g}/{r}        group g holds role r
//	t/{a}/rg/{r}/{g}        role r is held by group g
//	t/{a}/apikey/{u}/{id}   API key id (its public prefix) of user u
//	apikeyidx/{id}          API key index: id → "{a}\{u}"
//	t/{a}/client/{u}/{id}   OAuth client id of user u (Client)
//	t/{a}/session/{u}/{id}  sign-in session id (the OAuth grant's request
//	                        id) of user u (Session), leased until its
//	                        expiry; dropped with the user, and in the
//	                        write that disables the user
//	clientidx/{id}          OAuth client index: id → "{a}\{u}"
//	serverkey/{name}        server key (hex of 32 random bytes; ServerKey)
//	oauthkey/{name}         OAuth key record (the oauth package's signing
//	                        keys, "signing-{n}"), written create-only by
//	                        CreateKeyRecord, never expiring; a secret
//	audit/{id}              audit entry (AuditEntry); id is 16 hex digits of
//	                        UnixNano, "-", 8 random hex digits, so the range
//	                        is in time order. Written with an expiring-write
//	                        lease (retention, hour-wide buckets) in the same
//	                        transaction as the change it records (WithAudit).
//	                        NOT in the cache: read from etcd directly.
//	tok/{kind}/{id}         short-lived token state (Tokens): a record of
//	                        its expiry and value, written with a shared
//	                        lease (PutWithTTL). NOT in the cache.
//	fed/{type}/{id}         federated principal (type email, saml, ldap;
//	                        id "{account}:{provider}:{subject}" for saml
//	                        and ldap), with the user it is linked to
//	fedattr/{type}/{id}/{n} a principal's attribute n (its values)
//	t/{a}/fed/{u}/{id}      the user's side of a principal link, with the
//	                        grants account rules made through it
//	t/{a}/rule/{r}          account federation rule r; rules/{r} a root rule
//	t/{a}/provider/{p}      identity provider p (Provider; the LDAP bind
//	                        password sealed), t/{a}/provsync/{p} its sync
//	                        status
//	mark/{kind}/{id}        marker (PutMarker, View.Marker): a rare fact
//	                        every instance checks on its hot path (a
//	                        token revocation), stored like a token but
//	                        loaded by the cache.
//	mark/fail/{h}           sign-in failure count (FailureCounts), h = HMAC of the name
//	mark/streak/{h}         consecutive failed sign-ins of a user (FailureCounts; no lease; count and the user record's revision)
//	t/{a}/passkey/{u}/{id}  passkey id of user u (Passkey)
//	t/{a}/pkuser/{u}        the user's WebAuthn user handle
//	pkidx/{id}              passkey index: id → "{a}\{u}"; deleted with the user, left dangling when the account goes
//
// OAuth clients are stored like API keys: the record in its owner's set
// (deleted with the user or the account), and a global index entry
// clientidx/{id} written and deleted with it in one transaction, left
// dangling when the user or account goes (ClientOwner loads the record
// through it, and a missing record is an unknown client). A client
// secret (256 random bits) is never stored: the record keeps its
// HMAC-SHA-256 under the server key "client-secret" (ClientSecretHash,
// Client.SecretMatches, which compares in constant time). Server keys
// live in etcd so every instance hashes alike; the first instance to ask
// creates one with a write guarded on its absence, and a loser of that
// race rebuilds and returns the winner's key. They are in the cache like
// password hashes, and an export or backup that leaves etcd must treat
// serverkey/ as a secret.
//
// Names never contain "/" (see ValidName), so each collection is one key
// range and everything an account owns is the range "t/{a}/": deleting an
// account subtree is one transaction of range deletes. There is no
// per-account version key: an ETag is the digest of what its document
// read (see Tracking below), and memos compare the cache's per-account
// kind revisions (View.KindRev, View.DecisionRev).
//
// Naming what is stored: the layout above is this package's alone. No
// other package builds a key or a range (TestNoKeysOutsideStorage reads
// the product code and fails on a key helper, a raw range read or a
// literal "t/…"); callers name what they read and write by domain:
//
//   - A collection is a Coll: Coll{Account: a, Kind: KindUser} is one of
//     an account's own collections (users, roles, groups, rules, the
//     ceiling, the children), Coll{Account: a, Kind: KindAttr, Owner: u}
//     one an item owns (a user's attributes, API keys, clients and
//     federated principals; a role's permissions), Link.Of(a, from) one
//     side of a membership, and AllAccounts() and RootRules() the two
//     outside any account. View reads one with Count, Page, FilterPage,
//     Each, Names, HasMember, Member and MemberID, and whether its owner
//     (the item, or the account) exists with HasOwner; Store writes its
//     members with SetAdd, SetUpdate, SetRemove and SetReplace, which
//     require the owner, and a build puts one with Txn.PutMember.
//   - An item or record is named by account, kind and name: View.HasItem,
//     AccountExists, Account, User, UserState, Role, Group, APIKey,
//     LastLogin; Store.PutItem, DeleteItem, the Link* writes, the account
//     and API key writes, SetLastLogin.
//   - CreatedIn(c, created) names the member of c among the keys a write
//     creates, so an audit entry (AuditEntry.TargetOf) names the item a
//     POST made.
//
// The Coll reads are the raw range reads over the collection's key range
// (CountRange, EachRange, NamesRange, PageRange, FilterPageRange) and its
// member's key (Has, Get, CreateRevision), so they fold and guard
// exactly as those do. The raw reads and the key helpers (ItemKey,
// SubKey, ItemRange, SubRange, AccountKey, TenantRange, …) stay exported
// for tests that look at etcd directly.
//
// Writes: every API request's writes are one etcd transaction. A write is
// built from a snapshot of the cache and committed with compare guards on
// the mod revisions of everything it read (single keys, and "nothing new in
// this range" for ranges); when a guard fails, the write waits for the cache
// to reach the revision that beat it and is rebuilt. This is dex's
// txnUpdate pattern extended to ranges: uniqueness (409), two-sided
// memberships and cascading deletes hold under any interleaving, and nothing
// is ever a bare read-then-write.
//
// Reads: the Cache lists the prefix at a revision, then watches from that
// revision (the Kubernetes cacher pattern). It holds every key in one
// order-statistic B-tree, so a page of any collection costs O(log n + page)
// and a count costs O(log² n). A request that wrote waits for the cache to
// reach its write's revision before it renders (read-your-writes).
// Compaction or a lost watch triggers a relist; while the cache is known to
// be behind (no watch progress within the storage timeout) reads fail with
// ErrUnavailable instead of answering from stale state.
//
// A relist (start-up, compaction, a silent watch) streams the range at
// one revision with etcd's RangeStream (limited Gets where the server
// lacks it: each of them makes etcd count the rest of the range, which is
// quadratic in the store's size — 27 s instead of 3 s for a million
// users). It drops the old tree before it starts, since no read is served
// until it ends, so the heap holds one tree and a chunk or two of
// decoded responses (BenchmarkRelist: the live heap peaks at 1.1x the
// steady one for a million users).
//
// Memory: the tree holds items by value, and an item's key and value
// share one allocation; the point index adds a 40-byte entry per key in
// tables at most three quarters full. About 630 bytes of live heap per
// stored user at a million users (550 without the index), the embedded
// etcd's index included (the load tool measures it).
//
// Snapshots: readers never wait for the writer. The watch goroutine
// mutates a tree of its own and, after every watch response and every
// relist, publishes an immutable snapshot through an atomic pointer: the
// tree's copy-on-write Copy (O(1); a later mutation clones only the nodes
// on its path, so nodes a snapshot shares are never written again), a
// copy-on-write tree of the per-account kind revisions, and the
// revisions and readiness. The kind tree also counts each kind range's
// keys, so a read of a sparse kind (API keys, clients, sessions, TOTP,
// passkeys, federation links, attributes, default roles) that the account
// holds none of answers without searching the large tree (in a tree of a
// million keys a search is a cache miss per level); and each snapshot
// notes at publication whether any failure count, consecutive-failure
// streak or journaled import exists, so the sign-in path asks nothing of
// the tree for them while there is none. Point reads (one key: a user's
// record, the last sign-in, an account) go to a hash index of the latest
// state first (pointindex.go): a search of the tree for a random key is
// about forty cache misses, 2–3 µs at 100,000 users; the index answers in
// a few. It is shared by all snapshots and answers one only for keys
// whose last change is not newer than the snapshot (deletes leave
// tombstones, purged in bulk with the revision they were purged up to);
// anything else searches the snapshot's tree as before, so a snapshot
// reads the same either way. Store.Read loads the latest snapshot once,
// without a lock, and hands fn a View of it: a slow reader (a check of a
// thousand questions, a deep render) holds up neither the watch nor any
// other request, and its View keeps its revision however long it runs.
// Read-your-writes is unchanged: a read waits, on a channel each snapshot
// closes when it is superseded, until a snapshot has reached the
// revision asked for.
//
// Tracking and guarding: View.Tracking returns a view that folds every
// read into a 64-bit FNV-1a digest (View.Digest): a single-key read folds
// the key and its mod revision (0 when absent); a range walk (Each,
// Names) each key visited with its mod revision and an end marker; Count
// the count, plus each key and mod revision when the range is small
// enough to be walked; Page and FilterPage the names returned with their
// mod revisions and the count (the same for a Coll and for its range).
// Callers fold what they derive from reads with View.Mix. Only etcd's own
// data goes in — never the cache's revision, KindRev, AccountsRev or a
// relist's revision, which differ between instances — so two instances at
// the same etcd state give the same digest for the same reads: a
// per-document ETag. Untracked views pay one nil check per read. Txn.View is the transaction's guarded view:
// a tracking view whose reads also become compare guards of the write
// (a key read: Expect, same mod revision, absent stays absent; a range
// read: ExpectNoNew plus Expect on each key visited). etcd compares
// cannot see deletions in a range that was not walked key by key (a
// large Count, the keys before a Page's offset, FilterPage matches not
// returned): those reads are guarded against additions and changes only.
//
// Checks: WithCheck puts a precondition on a request's context. Every
// Store.Update under that context runs the checks, in the order added,
// on every attempt and before build, with the transaction's guarded
// view: what a check reads guards the write, so the check holds on the
// revision the write commits on (a concurrent change to it fails the
// guards, and the write is rebuilt and checked again on the new state).
// A check's error aborts the write and is returned unchanged.
//
// Expiring writes and uncached ranges: Txn.PutWithTTL puts a key with an
// etcd lease, so etcd deletes it after the TTL. Leases are shared per
// expiry bucket (a sixteenth of the TTL, between a second and an hour),
// so a burst of tokens does not grant one lease each; a key lives at
// least its TTL and at most one bucket more; a lease etcd no longer knows
// (after a restore) is granted afresh and the write retried, as for
// audit entries. The ranges that grow with traffic rather than with the
// directory — AuditRange and TokenRange — are declared uncached
// (isUncached): the cache neither lists nor applies them, though their
// revisions still advance its revision (so a writer waiting for one is
// released), and views never show them (so a key there cannot be
// guarded through a view: reads of it go to etcd). Tokens (CreateToken, GetToken,
// DeleteToken, TakeToken) reads and writes TokenRange in etcd directly;
// each token stores its expiry with its value, so it reads as gone on
// time even while etcd still holds it (a shared or extended lease).
//
// Records are encoded compactly: a version byte followed by
// length-prefixed fields (see record.go).
//
// This package knows nothing of HTTP or XML; it must not import resources,
// authz or authn.
package storage
