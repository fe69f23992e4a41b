package test

// A real browser on the sign-in page (issue 9 "a browser test … signs in
// on the page and completes a PKCE flow, with a screenshot saved as a
// test artifact"): headless chromium driven by chromedp opens the
// authorization URL x/oauth2 builds (PKCE S256), types the user name and
// password, submits, and is redirected to a loopback client served by the
// test, which catches the code; the code is exchanged with the verifier
// and the token reads /auth/v2. Chromium is required: without it the test
// fails, saying how to install it (.ci/run does).

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

// obChromium is the path of a chromium or chrome executable; the test
// fails when there is none.
func obChromium(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no browser for the sign-in page test: none of %s is on PATH; install chromium "+
		"(Debian/Ubuntu: apt-get install chromium; .ci/run installs it)", strings.Join(names, ", "))
	return ""
}

// obArtifacts is the directory test artifacts go to: $GATEHOUSE_ARTIFACTS
// if set, else test/artifacts in the repository (ignored by git).
func obArtifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_ARTIFACTS")
	if dir == "" {
		dir = "artifacts" // the test runs in the package directory, test/
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the artifact directory: %v", err)
	}
	return dir
}

// obCatcher is the OAuth client's redirect endpoint on loopback: it hands
// each redirect's query to the test.
func obCatcher(t *testing.T) (redirectURI string, got <-chan url.Values) {
	t.Helper()
	ch := make(chan url.Values, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		select {
		case ch <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html><title>client</title><p id=done>The client has its answer.</p>")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/cb", ch
}

// obBrowser is a tab of headless chromium at chromium, without the
// sandbox (CI runs as root), with a window of w×h, bounded to a minute;
// it is closed when the test ends.
func obBrowser(t *testing.T, chromium string, w, h int) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(w, h))
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

func TestOAuthBrowserSignIn(t *testing.T) {
	chromium := obChromium(t)
	s := harness.Start(t)
	azCreateAccount(t, s, "ocf", "system")
	azAdmin(t, s, "PUT", ocBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "ocf", "una", clPass, "reader", "auth:*")

	// A public first-party client (system\admin may flag it so) whose
	// redirect URI is the catcher.
	redirect, got := obCatcher(t)
	body := "<client><first-party>true</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		clList("scopes", "scope", "auth:users:read") + clList("uris", "uri", redirect) + "</client>"
	r := s.Admin("POST", ocUser+"/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	if id == "" {
		t.Fatalf("no client id:\n%s", r.Body)
	}
	cfg := &oauth2.Config{ClientID: id, RedirectURL: redirect, Scopes: []string{"auth:users:read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier))

	ctx := obBrowser(t, chromium, 900, 700)

	// The sign-in page.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(authURL))
	if err != nil {
		t.Fatalf("chromium (%s) opening the authorization URL: %v", chromium, err)
	}
	if resp.Status != 200 {
		t.Fatalf("the authorization URL answered chromium %d, want 200 (the sign-in page)", resp.Status)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), `ocf\una`),
		chromedp.SendKeys(chromedp.ID("password"), clPass),
	); err != nil {
		t.Fatalf("filling the sign-in form in chromium: %v", err)
	}
	if typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("username"))); err != nil || typed != `ocf\una` {
		t.Fatalf("the user name field holds %q after typing %q (%v)", typed, `ocf\una`, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of the sign-in page: %v", err)
	}
	shot := filepath.Join(obArtifacts(t), "oauth-signin-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("saving the screenshot: %v", err)
	}
	t.Logf("screenshot of the sign-in page: %s", shot)

	// Submit; answer consent if the page asks (a first-party client
	// should not be asked).
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("submitting the sign-in form in chromium: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("chromium's location after signing in: %v", err)
	}
	if !strings.HasPrefix(loc, redirect) {
		allow, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`button[value="allow"]`), chromedp.AtLeast(0)))
		if err != nil || len(allow) == 0 {
			page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("after signing in chromium is at %s, not redirected to the client %s; the page says:\n%s", loc, redirect, page)
		}
		t.Log("the page asked for consent; allowing")
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="allow"]`))); err != nil {
			t.Fatalf("allowing on the consent page: %v", err)
		}
	}

	// The redirect reached the client.
	var q url.Values
	select {
	case q = <-got:
	case <-ctx.Done():
		t.Fatalf("the client at %s got no redirect: %v", redirect, ctx.Err())
	}
	if q.Get("code") == "" || q.Get("state") != ocState {
		t.Fatalf("the client's redirect: %v, want a code and state %s", q, ocState)
	}
	if done, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("done"))); err != nil || !strings.Contains(done, "answer") {
		t.Errorf("chromium does not show the client's page after the redirect: %q %v", done, err)
	}

	// The code, exchanged with the verifier; the token on /auth/v2.
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code chromium brought: %v", err)
	}
	if c := oaClaims(t, tok.AccessToken); c["sub"] != `ocf\una` || c["client_id"] != id {
		t.Errorf("access token claims %v", c)
	}
	oaBearer(s, tok.AccessToken, "GET", ocBase+"/users").Must(t, 200)
	oaBearer(s, tok.AccessToken, "GET", ocBase+"/roles").Must(t, 403) // beyond its scope
}

// browserHeaders makes the tab send h with every request (empty: nothing).
func browserHeaders(t *testing.T, ctx context.Context, h map[string]string) {
	t.Helper()
	hs := network.Headers{}
	for k, v := range h {
		hs[k] = v
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hs}); err != nil {
		t.Fatalf("Network.setExtraHTTPHeaders: %v", err)
	}
}

// browserShot saves a full-page screenshot as artifact name and returns it.
func browserShot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(obArtifacts(t), name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatalf("saving the screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return shot
}
