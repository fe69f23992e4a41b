package api

import (
	"context"

	"gatehouse/authn"
)

// noCredentials claims no credentials: every protected request is 401.
type noCredentials struct{}

func (noCredentials) Authenticate(context.Context, authn.Credentials) (authn.Result, error) {
	return authn.Result{Status: authn.NotMine}, nil
}
