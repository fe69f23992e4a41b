package authn

import (
	"context"
	"time"
)

// Credentials is what one request presents, taken from the transport by
// the HTTP layer. Authenticators read only the fields of their kind.
type Credentials struct {
	// Basic is set when the request carried HTTP Basic credentials.
	Basic          bool
	Name, Password string
	// Bearer is the token of "Authorization: Bearer", APIKey the value of
	// X-API-Key (an API key may come either way).
	Bearer string
	APIKey string
	// Address is the client's address (after trusted proxies), for
	// throttling and audit.
	Address string
}

// Status is the outcome of one authentication attempt.
type Status int

const (
	// NotMine: the credentials are not of this authenticator's kind; the
	// chain asks the next one.
	NotMine Status = iota
	// Accepted: Result.Principal is signed in.
	Accepted
	// Refused: the credentials are wrong, expired or belong to a disabled
	// or missing user. A normal result, not an error (dex's connectors
	// answer a wrong password the same way).
	Refused
	// Throttled: too many failures for this name or address; the
	// credentials were not even checked. Result.RetryAfter says when to
	// try again.
	Throttled
)

// Result is what an authenticator concludes.
type Result struct {
	Status    Status
	Principal Principal
	// Reason is a fixed phrase for the client and the audit log ("the
	// credentials are not valid", "the API key has expired"); it never
	// holds a secret or says whether a user exists.
	Reason     string
	RetryAfter time.Duration
	// Name is the principal as typed (Basic) or the key id, for the
	// audit log of a refusal; it may name a user that does not exist.
	Name string
	// Verified is set when this attempt ran a full verification (an
	// argon2id run, not a credential-cache hit): a new sign-in to audit.
	Verified bool
}

// Authenticator turns credentials into a principal. An error means the
// attempt could not be decided (storage unreachable), never that the
// credentials are wrong.
type Authenticator interface {
	Authenticate(ctx context.Context, cr Credentials) (Result, error)
}

// Chain asks each authenticator in turn; the first that does not answer
// NotMine decides. instance assembles it (API keys, Basic passwords, and
// later OAuth bearer tokens).
type Chain []Authenticator

// Authenticate runs the chain. A chain where no authenticator claims the
// credentials answers NotMine: the caller presented nothing usable.
func (ch Chain) Authenticate(ctx context.Context, cr Credentials) (Result, error) {
	for _, a := range ch {
		res, err := a.Authenticate(ctx, cr)
		if err != nil || res.Status != NotMine {
			return res, err
		}
	}
	return Result{Status: NotMine}, nil
}

// Counted is an Authenticator that tells Count the method and outcome of
// every attempt it decides (Accepted, Refused or Throttled; NotMine and
// errors are not told): instance wraps each authenticator of the chain
// with the metrics' counter. Count must be cheap and must not block.
type Counted struct {
	Authenticator
	Method string
	Count  func(method string, s Status)
}

// Authenticate runs the wrapped authenticator and counts its result.
func (c Counted) Authenticate(ctx context.Context, cr Credentials) (Result, error) {
	res, err := c.Authenticator.Authenticate(ctx, cr)
	if err == nil && res.Status != NotMine && c.Count != nil {
		c.Count(c.Method, res.Status)
	}
	return res, err
}
