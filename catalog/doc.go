// Package catalog is the permission catalogue of the modules gatehouse
// answers for: which permissions each module understands and what they
// mean, served in /auth/v2/permissions and used to flag assignments of
// permissions nothing implies (known="false"). Three catalogues ship
// embedded in the binary — print.yaml (print management, with each entry's
// name in the print module's own API kept as `seed`, e.g. ReleaseJob →
// print:jobs:release), filtering.yaml (web filtering) and reporting.yaml
// (reporting server) — and further modules are added by configuration with
// files in the same format, read by Load or LoadFiles, one module per file:
// a mapping with `module` and a list `permissions` of entries with
// `permission` (module:resource:action — the shipped files use lower-case
// hyphenated names — concrete, without "*" or ",", first part equal to the
// module),
// `description` (one line) and optional `seed`, for example
//
//	module: scan
//	permissions:
//	  - permission: scan:jobs:release
//	    seed: ReleaseScan
//	    description: Deliver a finished scan to its destination.
//
// every error naming the file and line, and a permission defined twice
// (in one file, across files, or already shipped) naming both places; the
// module "auth" is reserved for gatehouse's own route permissions, which the
// caller generates and passes to New together with Shipped's items and the
// loaded files. A Catalog is immutable and sorted by permission; Known(p)
// reports whether p is valid and some catalogued permission implies p or is
// implied by p (authz.Implies either way), so "*", "print" and "print:*" are
// known, "print:jobs:read,release" is known, a typo or an unknown module is
// not; it is indexed by module and second part and allocates nothing. The
// package only reads files it is given and its embedded data: it has no
// storage, no HTTP and no logging, and its only global state is the shipped
// catalogue, parsed once on first use and never changed.
package catalog
