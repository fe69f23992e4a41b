package samlsp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseResponse feeds outside input to the ACS as the SAMLResponse form
// value. Nothing it makes may be accepted (no input carries a valid IdP
// signature for a pending request), nothing may panic, and every refusal
// is ErrInvalidResponse. Seeds: testdata/fuzz/FuzzParseResponse and a live
// samlidp response.
func FuzzParseResponse(f *testing.F) {
	idp := newTestIdP(f)
	sp, _ := newSP(f, idp, "plain", nil)
	idp.register(f, sp, false)
	browser := newBrowser(f)
	idp.login(f, browser)
	form, _ := signIn(f, idp, sp, browser, "")
	f.Add(form.values.Get("SAMLResponse"))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, samlResponse string) {
		body := url.Values{"SAMLResponse": {samlResponse}}.Encode()
		r := httptest.NewRequest(http.MethodPost, sp.acsURL.String(), strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// The request ID is not the one the live seed answers.
		id, err := sp.ParseResponse(ctx, r, []string{"id-fuzz"})
		if err == nil {
			t.Fatalf("accepted: %+v", id)
		}
		if !errors.Is(err, ErrInvalidResponse) {
			t.Fatalf("err = %v, want ErrInvalidResponse", err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add("PHgvPg==")
	f.Add("PHgv\r\nPg==")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := decodeResponse(s)
		if err == nil && (len(raw) == 0 || len(raw) > MaxResponseBytes) {
			t.Fatalf("decoded %d bytes without error", len(raw))
		}
	})
}
