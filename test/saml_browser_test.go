package test

// A real browser signs in with SAML from the sign-in page (issue 10):
// headless chromium opens the authorization URL x/oauth2 builds (PKCE
// S256, the account named), presses the SAML provider's button, signs in
// at the in-process samlidp, whose page posts the response to the ACS by
// script; the ACS resolves the just-in-time user and the browser comes
// back to /oauth2/authorize and is redirected with a code to a loopback
// client served by the test. The code is exchanged with the verifier and
// the token reads /auth/v2. A screenshot of the sign-in page with the
// provider's button is saved as a test artifact. Chromium is required
// (.ci/run installs it).

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

func TestSAMLBrowserSignIn(t *testing.T) {
	chromium := obChromium(t)
	s := harness.Start(t)
	idp := smNewIdP(t)
	// Unsigned AuthnRequests here: samlidp's login form posts the
	// request back to itself, which its replay cache refuses for a
	// signed one (the other SAML tests sign requests, the default).
	smSetup(t, s, idp, "<sign-requests>false</sign-requests>")

	redirect, got := obCatcher(t)
	body := "<client><first-party>true</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code") +
		clList("scopes", "scope", "auth:users:read") + clList("uris", "uri", redirect) + "</client>"
	r := s.Admin("POST", smBase+"/users/owner/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	cfg := &oauth2.Config{ClientID: id, RedirectURL: redirect, Scopes: []string{"auth:users:read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	authURL := smAuthURL(cfg, verifier)

	ctx := obBrowser(t, chromium, 900, 800)

	// The sign-in page with the provider's button.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(authURL))
	if err != nil {
		t.Fatalf("chromium (%s) opening the authorization URL: %v", chromium, err)
	}
	if resp.Status != 200 {
		t.Fatalf("the authorization URL answered chromium %d, want 200", resp.Status)
	}
	button := `button[name="external"][value="` + smKey + `"]`
	label, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(button)))
	if err != nil || !strings.Contains(label, "Test IdP") {
		t.Fatalf("the sign-in page's SAML button: %q %v", label, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of the sign-in page: %v", err)
	}
	shot := filepath.Join(obArtifacts(t), "saml-signin-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("saving the screenshot: %v", err)
	}
	t.Logf("screenshot of the sign-in page with the SAML button: %s", shot)

	// The button leads to the IdP's login form.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		t.Fatalf("pressing the SAML button: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, idp.url+"/") {
		t.Fatalf("after the SAML button chromium is at %q (%v), want the IdP %s", loc, err, idp.url)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), smUser),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), smPassword),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	); err != nil {
		t.Fatalf("signing in at the IdP in chromium: %v", err)
	}

	// The IdP's page posts the response to the ACS; the run ends at the
	// client (first-party: no consent).
	var code string
	select {
	case q := <-got:
		if q.Get("state") != ocState || q.Get("code") == "" {
			t.Fatalf("the client's redirect: %v", q)
		}
		code = q.Get("code")
	case <-ctx.Done():
		page, _ := chromedp.Run(context.Background(), chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("the client got no redirect: %v; the page says:\n%s", ctx.Err(), page)
	}
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code chromium brought: %v", err)
	}
	if c := oaClaims(t, tok.AccessToken); c["sub"] != smAccount+`\`+smUser || c["client_id"] != id {
		t.Errorf("access token claims %v", c)
	}
	oaBearer(s, tok.AccessToken, "GET", smBase+"/users").Must(t, 200)
	oaBearer(s, tok.AccessToken, "GET", smBase+"/roles").Must(t, 403)
}
