package resources

import (
	"errors"
	"net/http"

	"gatehouse/storage"
)

// POST /accounts/{a}/providers/{pv}/sync starts a directory sync of an
// ldap provider (SPEC §8, §8a) through the Options.SyncProvider seam
// (instance sets it to ldapsignin's Syncer; this package does not know
// LDAP).
//
// Decisions:
//   - The request takes no body. It answers 202 Accepted with the
//     provider document (its <sync> already running) and Location the
//     provider's href: the client polls GET of the provider for progress.
//   - 409 while a sync of the provider runs, on any instance; 404 for a
//     missing provider; 400 for a saml provider (only directories sync);
//     503 when this server has no sync (the seam is not set).
//   - The running status is written in the request's transaction, so
//     the audit entry of the POST is stored exactly when a sync starts.
//   - Permission auth:providers:sync:create (SPEC §5's form: a POST
//     creates a sync run), apart from auth:providers:update: a sync
//     creates and disables users (as the account's rules say), which an
//     operator may be allowed without being allowed to edit the
//     directory's settings.
func postProviderSync(c *call) error {
	a, err := c.name("a")
	if err != nil {
		return err
	}
	pv, err := c.name("pv")
	if err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	var typ string
	found, err := c.precheck(func(v storage.View) bool {
		p, ok := v.Provider(a, pv)
		typ = p.Type
		return ok
	})
	if err != nil {
		return err
	}
	switch {
	case !found:
		return problem(http.StatusNotFound, "provider %q not found in account %q", pv, a)
	case typ != storage.ProviderLDAP:
		return problem(http.StatusBadRequest, "provider %q is of type %q: only ldap providers sync", pv, typ)
	case c.s.SyncProvider == nil:
		return problem(http.StatusServiceUnavailable, "this server does not run directory syncs")
	}
	if err := c.s.SyncProvider(c.r.Context(), a, pv); err != nil {
		if errors.Is(err, storage.ErrNameTaken) {
			return problem(http.StatusConflict, "a sync of provider %q is already running; follow it with GET of the provider", pv)
		}
		return err
	}
	href := path("accounts", a, "providers", pv)
	return c.show(http.StatusAccepted, c.s.Store.Rev(), href, func(v *nb) (Node, error) {
		return v.providerNode(a, pv), nil
	})
}
