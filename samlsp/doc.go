// Package samlsp is gatehouse's SAML 2.0 service provider: one value per
// configured SAML provider, built on github.com/crewjam/saml. It publishes
// the SP metadata, starts an SP-initiated sign-in (an AuthnRequest sent with
// the HTTP-Redirect binding) and turns the Response the IdP posts to the
// assertion consumer service (HTTP-POST binding) into an Identity: the
// NameID, the session index, the raw attributes and the attributes named by
// the provider's mapping. It owns the SAML protocol checks and nothing else:
// it knows no HTTP routes (the server mounts /saml/{a}/{p}/metadata and
// /saml/{a}/{p}/acs and passes their URLs in Config), no storage (assertion
// IDs go to a ReplayGuard the federation code implements over etcd), no
// users, principals or rules, and it does not decide where a RelayState may
// send the browser.
//
// Security decisions:
//
//   - A Response is accepted only when the Response or the Assertion carries
//     a valid XML signature made with a signing key from the IdP metadata;
//     an unsigned Response with an unsigned Assertion is refused. Everything
//     the Identity holds is read from what that signature covers (crewjam
//     v0.6.3 parses the signed element from the digested canonical bytes, so
//     comments, a second unsigned assertion or a signed assertion moved to
//     another place are never read). An unsigned Response carrying more than
//     one assertion is refused outright, which is the classic signature
//     wrapping shape.
//   - Only HTTP-POST is accepted at the ACS: a form carrying SAMLart
//     (artifact resolution would make the server call out) or the
//     SimpleSign fields (SigAlg, Signature) is refused, as is a SAMLResponse
//     in the query string, a body over MaxFormBytes or a decoded response
//     over MaxResponseBytes.
//   - Checked by crewjam: issuer (Response and Assertion) against the IdP
//     metadata's entity ID, audience against the SP entity ID, Destination
//     and bearer Recipient against the ACS URL, Status, InResponseTo
//     against the request IDs the caller still waits for, IssueInstant age,
//     SHA-1 signatures (refused), unknown Conditions (refused), the IdP
//     certificate's validity period. On top of that this package checks the
//     time bounds with ClockSkew (2 minutes; crewjam's own global is 3 and
//     is not changed here): NotBefore, Conditions NotOnOrAfter and the bearer
//     SubjectConfirmationData NotOnOrAfter.
//   - After the checks, the assertion ID goes to the ReplayGuard until the
//     latest NotOnOrAfter plus ClockSkew, after which the time checks refuse
//     the assertion anyway. A guard error refuses the sign-in.
//   - IdP-initiated (unsolicited) responses are refused unless
//     Config.AllowIdPInitiated; even then a response that names a request
//     (InResponseTo) must name one of the caller's.
//   - Encrypted assertions are decrypted with the SP key, which the metadata
//     offers for encryption when it is an RSA private key.
//   - Errors: every refusal wraps ErrInvalidResponse (or ErrReplay). The
//     wrapped detail comes from crewjam and is meant for logs; it never
//     includes the response XML, and callers must not show it to the user.
package samlsp
