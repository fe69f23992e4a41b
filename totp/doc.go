// Package totp holds gatehouse's second-factor primitives (issue 11,
// SPEC §3c): TOTP enrolment, sealing a TOTP secret at rest, verifying a
// TOTP code once per time step, and backup codes. It is a library only:
// no routes, no storage layout; the caller keeps the sealed secret and the
// backup-code hashes and supplies the server keys (Store.ServerKey).
//
// # TOTP parameters
//
// The authenticator-app defaults that every app understands: HMAC-SHA-1,
// 6 digits, a 30 s time step (RFC 6238), and a 160-bit secret drawn from
// crypto/rand (the RFC 4226 recommended length), shown as unpadded
// base32. NewEnrolment returns the secret, its otpauth:// URI and a
// 200×200 PNG QR code of the URI, built with github.com/pquerna/otp.
//
// # Sealing
//
// The secret must be usable to verify codes, so it cannot be hashed: Seal
// encrypts it with AES-256-GCM under a 32-byte server key (the caller's
// Store.ServerKey(SecretKeyName)), stored as base64url of
// nonce ‖ ciphertext, the same construction as
// storage.SealProviderSecret. It is written here rather than reused
// because the additional data differs: it is "totp" ‖ 0 ‖ account ‖ 0 ‖
// user, so a sealed secret copied to another user (or account) does not
// open, and the "totp" label keeps it from ever opening as a provider
// secret (or a provider secret as a TOTP secret) even under one key.
//
// # Verification and replay
//
// Verify accepts the code of the current time step and of one step on
// either side (clock skew), comparing every candidate in constant time.
// A code is accepted at most once per user and time step, across
// instances: the matched step is claimed through a ReplayGuard under a
// key that is a SHA-256 of account, user and step (never the code or the
// secret), held for as long as that step's code could still be accepted
// plus one step of margin. TokenGuard adapts a storage.Tokens-like
// CreateToken (create-only, ErrNameTaken when present) into a guard. A
// replayed code is refused like a wrong code (false, nil); only a failure
// of the guard itself is an error.
//
// # Backup codes
//
// NewBackupCodes draws (by default 10) 10-character codes from a 32-symbol alphabet
// (Crockford's: digits and lower-case letters without i, l, o, u), 50
// bits each, shown as "abcde-fghij". Input is normalised before matching:
// case, spaces and dashes are ignored, and i/l read as 1, o as 0.
// They are stored as HMAC-SHA-256 under a server key
// (BackupKeyName), not argon2id: 50 random bits are beyond any offline
// guessing a slow hash would defend against, and a keyed hash also needs
// the server key, so a copy of etcd alone reveals nothing; a fast hash
// lets MatchBackupCode compare against every stored hash in constant
// time. Sign-in throttling bounds online guessing.
//
// # Enrolment and sign-in over the store
//
// Enroller is the one implementation of enrolment over storage (start:
// a new sealed pending secret, shown once; confirm: the code is checked
// like a sign-in code, claiming its time step, then the secret is
// enabled in a write guarded on that very sealed secret), used by the
// XML API (resources, /auth/v2/me/totp) and the self-service page
// (selfservice, /auth/v2/me/totp/enrolment) alike. Its record writes
// run on the request's context (they carry the request's audit entry);
// server keys and time-step claims on a detached one.
//
// Step is the sign-in step: authn step "second factor" (StepName), method
// "totp" (MethodName; authn.StepMethod). Other second factors (passkeys)
// are further methods of the same step: a user passes it with any one
// method the user has. The sign-in page asks for it on a step of its
// own after the password (authn.PasswordFlow.Begin and Continue), the
// password grant reads the field "totp", HTTP Basic cannot answer it.
//
// Secrets and codes never appear in errors or logs from this package.
package totp
