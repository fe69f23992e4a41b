package resources

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"gatehouse/passkey"
	"gatehouse/storage"
)

// Passkeys (SPEC §3c, issue 11): the signed-in user's WebAuthn
// credentials under /auth/v2/me/passkeys. The ceremonies are package
// passkey's (Options.Passkeys, set by instance); this file lists, shows
// and deletes passkeys and serves the registration JSON.
//
// Decisions:
//   - The documents show a passkey's name, creation and last sign-in
//     only: never its credential ID, public key or counter.
//   - POST …/passkeys/registration begins a registration and answers 200
//     with the creation options as the browser API takes them
//     (application/json, {"publicKey": …}); it creates no resource (the
//     ceremony is a short-lived token). PUT …/passkeys/registration takes
//     the browser's response (PublicKeyCredential JSON, with an optional
//     top-level "name") and answers 201 with the new passkey's document
//     and its Location. The ceremony the response answers is found by its
//     challenge and consumed whether or not the response verifies.
//   - Bad JSON, a response that does not verify, an unknown or used
//     ceremony: 400. A credential already registered (to anyone): 409. A
//     body over passkey.MaxResponseBytes: 413. Any Content-Type but
//     application/json: 415.
//   - Without a relying party (no auth.passkeys.rp-id and an issuer on an
//     IP address) the registration routes answer 404 saying so (nothing
//     is down: the feature is not configured); listing and deleting
//     still work.
//   - Permissions auth:me:passkeys:read, :create, :delete, like the
//     other /me collections.

const myPasskeysHref = meHref + "/passkeys"

func myPasskeyHref(id string) string { return myPasskeysHref + "/" + escapeSegment(id) }

// passkeysNode is user u's passkeys.
func (v *nb) passkeysNode(a, u string) *Collection {
	return &Collection{Element: "passkeys", Href: myPasskeysHref, Items: sliceSource{
		names: v.PasskeyIDs(a, u),
		item:  func(id string) Node { return v.passkeyNode(a, u, id) }}}
}

// passkeyNode shows passkey id of user u.
func (v *nb) passkeyNode(a, u, id string) *Entity {
	return &Entity{Element: "passkey", Identifier: id, Href: myPasskeyHref(id),
		Fields: func(f []Field) []Field {
			p, _ := v.Passkey(a, u, id)
			return append(f,
				Field{Name: "name", Text: p.Name, Always: true},
				Field{Name: "created", Text: unixText(p.Created), Always: true},
				Field{Name: "last-used", Text: unixText(p.LastUsed), Always: true},
			)
		}}
}

func passkeyMissing(id string) error {
	return problem(http.StatusNotFound, "passkey %q not found", id)
}

var (
	getMyPasskeys = getMe(func(c *call, v *nb, a, u string) (Node, error) {
		return v.passkeysNode(a, u), nil
	})
	getMyPasskey = getMe(func(c *call, v *nb, a, u string) (Node, error) {
		id := c.vars.Get("pk")
		if err := storage.ValidName(id); err != nil {
			return nil, problem(http.StatusBadRequest, "invalid passkey id in the path: %v", err)
		}
		if _, ok := v.raw.Passkey(a, u, id); !ok {
			return nil, passkeyMissing(id)
		}
		return v.passkeyNode(a, u, id), nil
	})
)

func deleteMyPasskey(c *call) error {
	a, u := c.asMe()
	id := c.vars.Get("pk")
	if err := storage.ValidName(id); err != nil {
		return problem(http.StatusBadRequest, "invalid passkey id in the path: %v", err)
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	if _, err := c.s.Store.DeletePasskey(c.r.Context(), a, u, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return passkeyMissing(id)
		}
		return err
	}
	return c.noContent()
}

// passkeyService is the relying party, 404 when there is none (the
// registration does not exist on this server; not a 503: nothing is
// down, and waiting does not help).
func (c *call) passkeyService() (*passkey.Service, error) {
	if c.s.Passkeys == nil {
		return nil, problem(http.StatusNotFound,
			"passkeys are not available on this server: set auth.passkeys.rp-id (and auth.passkeys.origins) to the host name browsers use")
	}
	return c.s.Passkeys, nil
}

// passkeyError maps a ceremony's error.
func passkeyError(err error) error {
	switch {
	case errors.Is(err, passkey.ErrRefused):
		return problem(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), passkey.ErrRefused.Error()+": "))
	case errors.Is(err, passkey.ErrRegistered):
		return problem(http.StatusConflict, "this passkey is already registered")
	case errors.Is(err, storage.ErrNotFound):
		return unauthorized("the signed-in user no longer exists")
	}
	return err
}

// postMyPasskeyRegistration begins a registration: 200 with the
// creation options JSON.
func postMyPasskeyRegistration(c *call) error {
	a, u := c.asMe()
	svc, err := c.passkeyService()
	if err != nil {
		return err
	}
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	opts, err := svc.BeginRegistration(c.r.Context(), a, u)
	if err != nil {
		return passkeyError(err)
	}
	return c.writeJSON(http.StatusOK, opts)
}

// putMyPasskeyRegistration finishes a registration: 201 with the new
// passkey.
func putMyPasskeyRegistration(c *call) error {
	a, u := c.asMe()
	if _, err := c.precheck(nil); err != nil {
		return err
	}
	body, err := readJSONBody(c.r, passkey.MaxResponseBytes)
	if err != nil {
		return err
	}
	svc, err := c.passkeyService()
	if err != nil {
		return err
	}
	reg, err := svc.FinishRegistration(c.r.Context(), a, u, body)
	if err != nil {
		return passkeyError(err)
	}
	href := myPasskeyHref(reg.ID)
	return c.show(http.StatusCreated, reg.Rev, href, func(v *nb) (Node, error) {
		if !v.HasItem(a, storage.KindUser, u) {
			return nil, unauthorized("the signed-in user no longer exists")
		}
		return v.passkeyNode(a, u, reg.ID), nil
	})
}

// writeJSON answers status with a JSON body that must not be cached.
func (c *call) writeJSON(status int, body []byte) error {
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.status = status
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(body)
	}
	return nil
}

// readJSONBody reads a JSON request body of at most limit bytes: 415
// for another media type or an encoding, 413 over the limit.
func readJSONBody(r *http.Request, limit int64) ([]byte, error) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, problem(http.StatusUnsupportedMediaType, "Content-Encoding %q is not supported; send the body uncompressed", enc)
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return nil, problem(http.StatusUnsupportedMediaType, "Content-Type %q is not supported; send application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, problem(http.StatusUnsupportedMediaType, "charset %q is not supported; send UTF-8", cs)
	}
	if r.ContentLength > limit {
		return nil, problem(http.StatusRequestEntityTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, problem(http.StatusBadRequest, "reading the body failed: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, problem(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes", limit)
	}
	return b, nil
}
