// Package schema is the XML Schema (XSD 1.0) of the /auth/v2 API: every
// document the server answers and every request body it takes, served at
// GET /auth/v2/schema.xsd so that consoles and modules can validate what
// they send and receive (the root document links it).
//
// The schema is two files embedded here: gatehouse.xsd, for the
// documents, which have no namespace, and problem.xsd, for problem
// documents (RFC 9457, namespace urn:ietf:rfc:7807), which gatehouse.xsd
// imports by the relative location "problem.xsd" and which is served
// next to it at /auth/v2/problem.xsd, so a validator that fetches
// schema.xsd finds the other one. Both are public and cacheable: they
// change only with the binary, and their ETag is a digest of the bytes.
//
// Design decisions:
//   - One global element per resource element name (account, users,
//     permission …), of a named complex type, referenced wherever it
//     nests: a depth query expands collections and entities to any level,
//     so the types are recursive.
//     Plain values (name, created …) are local elements, which lets the
//     same name mean different things in different places (a user's
//     <account> is the account's name, a root rule's is a reference, a
//     provider sync's <users> is a number).
//   - The same root elements serve answers and request bodies, which leave
//     out href, count, identifier and read-only fields, so every attribute
//     and every field is optional.
//   - An entity's fields are an xs:all: the server renders them in one
//     fixed order and its body decoder takes them in any order, each at
//     most once, which is exactly what xs:all says. Collections are
//     sequences of their items (the accounts list ends with the root rules
//     collection). A user's or federated principal's <attribute> is a
//     repeated choice of id, name and value, since a federated attribute
//     shows one <value> per value. Where one element name carries both
//     text and fields (<permission> as a permission string or a catalogue
//     item, <password> as the new password or the old and new ones, an
//     account's <parent> as a name in a body or the parent account in an
//     answer) the type is mixed.
//   - Refs that the reader may not follow lose their href (and a
//     granted-by names the role instead of linking it): href is optional
//     everywhere and granted-by any string.
//   - Values the contract pins are typed: booleans are true or false,
//     times are xs:dateTime (empty where a time may be missing), counts
//     and paging attributes non-negative integers, names follow the name
//     rule of SPEC §3b, audit actions and outcomes, check decisions,
//     provider types and password-policy rules are enumerations.
//
// The end-to-end tests (test/harness) validate every XML document they
// receive, and every XML body the server accepted, against these files
// with xmllint; the package's own test validates the samples in testdata.
package schema
