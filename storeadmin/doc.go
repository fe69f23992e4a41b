// Package storeadmin holds the operations the gatehouse command runs on a
// store without going through the HTTP API: a consistent backup of the
// etcd keyspace, the restore of such a backup into a new embedded data
// directory, setting a user's password and clearing a user's lockout.
//
// Decisions:
//   - Open reaches the store the serve settings name: the external etcd
//     endpoints, or the embedded etcd in storage.data-dir, started here
//     on the configured ports exactly as serve starts it. A running
//     server holds the embedded store's database lock, so Open refuses a
//     data directory in use (it tries the same lock, without waiting)
//     and one that holds no store yet (it would otherwise create an
//     empty one). With the server running on an embedded store, take a
//     backup over HTTP (GET /auth/v2/backup) or stop the server first.
//   - Backup is etcd's own snapshot (the Maintenance API): a
//     point-in-time copy of the whole keyspace of one member, with etcd's
//     integrity hash appended. Before the snapshot Backup reads the
//     cluster's revision with a linearizable read, and refuses a
//     snapshot older than that, so a backup holds every write
//     acknowledged before it started even when the member that answers
//     is a lagging follower. The file is written beside its final name
//     and renamed into place once synced; FILE.sha256 holds its SHA-256
//     in sha256sum's format, and the result reports the revision.
//   - Restore is etcd's own restore (etcdutl's snapshot manager), with
//     the member name and cluster token the embedded store starts with;
//     it writes only into a new or empty directory, and verifies
//     FILE.sha256 when that file is present (etcd checks its own hash in
//     any case).
//   - SetPassword and Unlock make the same guarded writes as the API's
//     PUT …/users/{u}/password and DELETE …/users/{u}/lockout, with the
//     same password policy (length, common passwords, the user's own
//     names, history inside the guarded update), each with its audit
//     entry in the write's transaction. The entry's actor is the fixed
//     name "cli" (Actor), which no account\user name can be, and its
//     address is "local": the command line has no principal of its own.
//   - Export and import of an account subtree are the API's own
//     (resources.ExportXML, resources.ImportXML over storage's
//     ExportSubtree and ImportResumable); package resources imports this
//     one (for the backup route), so the command calls them directly and
//     takes only the audit entry from here: WithImportAudit gives an
//     import the entry POST /auth/v2/import writes, with actor "cli".
package storeadmin
