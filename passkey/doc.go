// Package passkey is gatehouse's WebAuthn relying party (issue 11, SPEC
// §3c): it runs the registration and sign-in ceremonies with
// github.com/go-webauthn/webauthn over the passkeys storage keeps
// (storage.Passkey, its index and each user's handle). It owns no routes:
// resources serves the registration JSON under /auth/v2/me/passkeys, and
// the sign-in page (oauth) and the self-service page call the ceremonies
// here. It never renders a page or a document.
//
// # Relying party
//
// The RP ID, name and origins come from auth.passkeys.*; an empty RP ID
// is the host of the OAuth issuer and empty origins are the issuer's
// origin (Config.Resolve). WebAuthn refuses an IP address as an RP ID, so
// an instance whose issuer is http://127.0.0.1:… and that sets no rp-id
// has no relying party: New fails, instance logs why, and the passkey
// routes answer 404.
//
// # Users
//
// A user's WebAuthn user handle is 32 random bytes drawn at the user's
// first registration and stored (storage.EnsurePasskeyHandle): never the
// user name, so a renamed or re-created user is a different WebAuthn
// user, and a handle reveals nothing. The user's name shown by the
// authenticator is "account\user", its display name the full name when
// set.
//
// # Ceremonies are single use
//
// Begin* returns the options JSON the browser API takes
// ({"publicKey": …}) and stores the ceremony's webauthn.SessionData as a
// token (storage.CreateToken) under its challenge, for CeremonyTTL, with
// the account and user it was begun for and an optional binding (the
// sign-in page's ticket). Finish* reads the challenge from the
// response's clientDataJSON and takes the token with storage.TakeToken, a
// get-and-delete in one etcd transaction: of two finishes of one
// ceremony, on any instances, exactly one gets it; the other is refused
// as an unknown ceremony. A token is consumed even when the response
// then fails verification: a ceremony is tried once. Tokens carry their
// expiry, so an expired ceremony is refused even while etcd still holds
// its key.
//
// # Registration
//
// Registration asks for a discoverable credential (resident key
// required), user verification preferred and no attestation (passkeys
// are accepted from any authenticator; the AAGUID is kept for display),
// and excludes the user's existing credentials. The credential is stored
// with its ID, COSE public key, sign count, AAGUID, transports, flags,
// a name the user gives (1–64 characters; "passkey" when none) and the
// creation time, guarded on the user's handle still being the one the
// ceremony used and the credential ID being unregistered (a credential
// belongs to one user only, across accounts).
//
// # Sign-in
//
// Two kinds. Discoverable (BeginLogin/FinishLogin with no user): no
// allowed credentials, user verification REQUIRED; the response's
// credential ID finds its owner through the index, whose stored handle
// must equal the response's user handle; this is a full sign-in instead
// of the password. Second factor (with the user the password step
// named): the user's credentials are allowed, user verification
// preferred; it completes a pending sign-in. Either way the user must
// exist and be enabled, and the sign-in is recorded on the passkey (last
// use, counter, flags).
//
// Sign counters: go-webauthn compares the response's counter with the
// stored one and raises CloneWarning when it did not advance (and is not
// zero on both sides). A clone warning refuses the sign-in (ErrRefused)
// and writes nothing; storage.UsePasskey checks the same again inside
// its guarded write, so two racing sign-ins on two instances cannot both
// move the counter to the same value. A counterless authenticator
// (always zero) is accepted.
//
// # Second factor and pages
//
// Step is a passkey as a method ("passkey") of the second-factor step
// (totp.StepName) of authn.PasswordFlow: a user who has a passkey needs
// it (or another method, TOTP) after the password; its answer is the
// assertion JSON. The sign-in page (oauth) and the self-service page
// (selfservice) run the browser side with Script (passkey.js): plain
// JavaScript, no framework, which fetches the options with the page's
// form fields (its CSRF token), calls navigator.credentials.create or
// .get, and submits the page's form with the response as JSON; the pages
// serve it from their own origin and allow it by CSP 'self'. Package
// passkeytest is a software authenticator for tests.
//
// Errors: ErrRefused wraps everything the client got wrong (malformed
// JSON, unknown or used ceremony, failed verification, unknown
// credential, disabled user, counter); callers answer 400 or a refused
// sign-in. Other errors are the store's.
package passkey
