package test

// The API browsable in a browser (issue 12, item 3; SPEC §3c "HTML"):
// headless chromium driven by chromedp opens /auth/v2, is sent to the
// OAuth sign-in page of the built-in console client, signs in, and walks
// the API as pages — the root, an account, a new user created with the
// page's form, a role given to it, its effective permission, three pages
// of a collection of 121 users, and the user deleted — saving a
// screenshot of each page (test/artifacts/console-*.png) and logging how
// long each page took in the browser (measured, not asserted). The
// forms' writes go through the XML handlers; one without the session's
// CSRF token is refused.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"gatehouse/test/harness"
)

const (
	cbAccount = "cwb"
	cbBase    = azV2 + "/accounts/" + cbAccount
	cbUser    = "webuser"
	cbPass    = "console-password-1"
)

// cbBrowser drives one tab through the console.
type cbBrowser struct {
	t      *testing.T
	ctx    context.Context
	origin string
	dir    string
	times  []string
}

// at waits until the tab shows a loaded page at path (after a link, a
// redirect or the script's navigation; a path with a query matches as a
// prefix, one without exactly, whatever the query) and checks it is no
// problem page unless problem is set.
func (b *cbBrowser) at(path string, problem bool) {
	b.t.Helper()
	var loc string
	took, ok := harness.Poll(30*time.Second, func() bool {
		l, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.pathname + location.search : ""`))
		if err != nil {
			return false // a navigation in progress
		}
		loc = l
		if strings.Contains(path, "?") {
			return strings.HasPrefix(l, path)
		}
		return strings.SplitN(l, "?", 2)[0] == path
	})
	b.t.Logf("at %s (waited %s)", loc, took)
	if !ok {
		text, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("the browser is at %q, want %s; the page says:\n%s", loc, path, text)
	}
	probs, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.ID("page-problem"), chromedp.AtLeast(0)))
	if err != nil {
		b.t.Fatalf("reading the page at %s: %v", path, err)
	}
	if !problem && len(probs) > 0 {
		text, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("%s shows a problem:\n%s", loc, text)
	}
}

// shot saves a screenshot of the page as console-name.png and notes how
// long the page took: from the navigation's start to its load event, and
// the server's part (request sent to first byte).
func (b *cbBrowser) shot(name string) {
	b.t.Helper()
	timing, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](`(function(){var n=performance.getEntriesByType("navigation")[0];`+
		`return [n.loadEventEnd-n.startTime, n.responseStart-n.requestStart];})()`))
	if err == nil && len(timing) == 2 {
		path, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname + location.search`))
		if len(path) > 80 {
			path = path[:80] + "…"
		}
		b.times = append(b.times, fmt.Sprintf("%-22s %6.1f ms load, %6.1f ms server  %s", name, timing[0], timing[1], path))
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot of %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "console-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatalf("saving the screenshot: %v", err)
	}
}

// cookies are the browser's cookies for url, by name.
func (b *cbBrowser) cookies(url string) map[string]*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	})
	if err != nil {
		b.t.Fatalf("reading the browser's cookies: %v", err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// follow clicks the link to href on the page and waits for its page.
func (b *cbBrowser) follow(href string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`a[href="`+href+`"]`))); err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("no link to %s on the page: %v; the page says:\n%s", href, err, text)
	}
	b.at(strings.SplitN(href, "?", 2)[0], false)
}

// submit fills the form's textarea with body (none: as it is) and sends it.
func (b *cbBrowser) submit(form, body string) {
	b.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.ID(form))}
	if body != "" {
		steps = append(steps, chromedp.SetValue(chromedp.ID(form+"-body"), body))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(`#`+form+` button[type="submit"]`)))
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("sending form %s: %v", form, err)
	}
}

func TestConsoleBrowser(t *testing.T) {
	chromium := obChromium(t)
	s := harness.Start(t)
	azCreateAccount(t, s, cbAccount, "system")
	azAdmin(t, s, "PUT", cbBase+"/permissions", azPermsBody("*"), 204)
	azAdmin(t, s, "POST", cbBase+"/roles", "<role><name>reader</name></role>", 201)
	azAdmin(t, s, "PUT", cbBase+"/roles/reader/permissions", azPermsBody("auth:users:read", "print:jobs:read"), 204)
	// The collection to page through: 120 users, made through the XML API.
	for i := 1; i <= 120; i++ {
		azAdmin(t, s, "POST", cbBase+"/users", fmt.Sprintf("<user><name>user-%03d</name></user>", i), 201)
	}

	// Without a session, a browser's GET is sent to the sign-in; an API
	// client's is 401 as before.
	req, _ := http.NewRequest("GET", s.URL()+azV2+"/accounts", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.HasPrefix(loc, azV2+"/console/signin?return=") {
		t.Fatalf("a browser's GET without a session: %d Location %q, want 303 to the console's sign-in", resp.StatusCode, loc)
	}
	s.Do(harness.Request{Method: "GET", Path: azV2 + "/accounts"}).Must(t, 401)

	ctx := obBrowser(t, chromium, 1100, 800)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b := &cbBrowser{t: t, ctx: ctx, origin: s.URL(), dir: obArtifacts(t)}

	// Sign in: /auth/v2 → the console's sign-in → the OAuth sign-in page.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+azV2),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), `system\admin`),
		chromedp.SendKeys(chromedp.ID("password"), harness.AdminPassword)); err != nil {
		t.Fatalf("chromium (%s) on the sign-in page: %v", chromium, err)
	}
	b.shot("signin")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("submitting the sign-in form: %v", err)
	}

	// The root document as a page, links as links.
	b.at(azV2, false)
	who, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("principal")))
	if who != `system\admin` {
		t.Errorf("the page says signed in as %q", who)
	}
	b.shot("root")
	// The session: the access token for /auth/v2, the refresh token only
	// for the console's routes; HttpOnly, SameSite=Lax (not Secure: the
	// test's issuer is http).
	jar := b.cookies(s.URL() + "/auth/v2/console/signin")
	access, refresh := jar["gatehouse-console"], jar["gatehouse-console-refresh"]
	if access == nil || refresh == nil || !access.HTTPOnly || !refresh.HTTPOnly || access.SameSite != network.CookieSameSiteLax ||
		refresh.SameSite != network.CookieSameSiteLax || access.Path != "/auth/v2" || refresh.Path != "/auth/v2/console" {
		t.Fatalf("session cookies: access %+v refresh %+v", access, refresh)
	}
	if _, leaked := b.cookies(s.URL() + cbBase)["gatehouse-console-refresh"]; leaked {
		t.Errorf("the refresh cookie is sent to API pages")
	}

	// Follow to the account.
	b.follow(azV2 + "/accounts")
	b.shot("accounts")
	b.follow(cbBase)
	b.shot("account")

	// Create a user with the collection's form: the XML POST, 201, and
	// the script goes to the new user's page.
	b.follow(cbBase + "/users")
	b.submit("create", "<user><name>"+cbUser+"</name><password>"+cbPass+"</password><full-name>Web User</full-name></user>")
	b.at(cbBase+"/users/"+cbUser, false)
	title, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("title")))
	if !strings.Contains(title, cbUser) {
		t.Errorf("the new user's page is titled %q", title)
	}
	b.shot("user-created")
	s.Admin("GET", cbBase+"/users/"+cbUser, "").Must(t, 200)

	// Update it with the page's edit form (the document as a PUT body).
	edit, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("update-body")))
	if err != nil || !strings.Contains(edit, "<full-name>Web User</full-name>") {
		t.Fatalf("the edit form holds %q (%v)", edit, err)
	}
	b.submit("update", strings.Replace(edit, "<full-name>Web User</full-name>", "<full-name>Web User Two</full-name>", 1))
	harness.WaitFor(t, 30*time.Second, "the page showing the updated user", func() bool {
		doc, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("document")))
		return err == nil && strings.Contains(doc, "Web User Two")
	})
	b.at(cbBase+"/users/"+cbUser, false)
	if r := s.Admin("GET", cbBase+"/users/"+cbUser, ""); !strings.Contains(r.Body, "<full-name>Web User Two</full-name>") {
		t.Fatalf("the user after the edit form:\n%s", r.Body)
	}
	b.shot("user-updated")

	// Give it a role on its roles collection.
	b.follow(cbBase + "/users/" + cbUser + "/roles")
	b.submit("create", `<role identifier="reader"/>`)
	b.at(cbBase+"/users/"+cbUser+"/roles/reader", false)
	b.shot("role-given")
	if r := s.Admin("GET", cbBase+"/users/"+cbUser+"/roles", ""); !strings.Contains(r.Body, `identifier="reader"`) {
		t.Fatalf("the user's roles after the form:\n%s", r.Body)
	}

	// Its effective permission, granted by the role.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+cbBase+"/users/"+cbUser)); err != nil {
		t.Fatal(err)
	}
	b.at(cbBase+"/users/"+cbUser, false)
	b.follow(cbBase + "/users/" + cbUser + "/permissions")
	b.shot("permissions")
	b.follow(cbBase + "/users/" + cbUser + "/permissions/print:jobs:read")
	doc, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("document")))
	if !strings.Contains(doc, "granted-by") || !strings.Contains(doc, "/roles/reader") {
		t.Errorf("the effective permission's page does not say what grants it:\n%s", doc)
	}
	b.shot("permission")

	// Page through the 121 users: three pages of 50.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+cbBase+"/users")); err != nil {
		t.Fatal(err)
	}
	b.at(cbBase+"/users", false)
	for page := 1; page <= 3; page++ {
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("page")))
		if got != fmt.Sprint(page) {
			t.Fatalf("the users page shows page %q, want %d", got, page)
		}
		count, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("count")))
		if !strings.HasPrefix(count, "121 in all") {
			t.Errorf("the users page says %q", count)
		}
		b.shot(fmt.Sprintf("users-page-%d", page))
		if page < 3 {
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("next"))); err != nil {
				t.Fatalf("no next link on page %d: %v", page, err)
			}
			b.at(cbBase+"/users?", false)
			harness.WaitFor(t, 30*time.Second, "the next page", func() bool {
				got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("page")))
				return err == nil && got == fmt.Sprint(page+1)
			})
		}
	}
	if n, _ := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID("next"), chromedp.AtLeast(0))); len(n) != 0 {
		t.Errorf("the last page links a next page")
	}
	// The filter box sets the filter parameter.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("filter"), "user-11?"),
		chromedp.Click(chromedp.CSS(`form.filter button`))); err != nil {
		t.Fatal(err)
	}
	b.at(cbBase+"/users?filter=", false)
	if count, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("count"))); !strings.HasPrefix(count, "10 in all") {
		t.Errorf("filter user-11? shows %q, want 10 users", count)
	}
	b.shot("users-filtered")

	// A write with the session cookie but without the CSRF token is
	// refused; the page's form sends it.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("`+cbBase+`/users/`+cbUser+`", {method: "DELETE"}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("DELETE with the session cookie and no CSRF token: %d %v, want 403", status, err)
	}

	// Delete the user with its page's button; the script goes back to
	// the collection.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+cbBase+"/users/"+cbUser)); err != nil {
		t.Fatal(err)
	}
	b.at(cbBase+"/users/"+cbUser, false)
	b.submit("delete", "")
	b.at(cbBase+"/users", false)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, cbUser) {
		t.Errorf("after the delete the browser is at %s", loc)
	}
	b.shot("user-deleted")
	s.Admin("GET", cbBase+"/users/"+cbUser, "").Must(t, 404)

	// A problem is shown as a page.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+cbBase+"/users/"+cbUser)); err != nil {
		t.Fatal(err)
	}
	b.at(cbBase+"/users/"+cbUser, true)
	if detail, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("detail"))); !strings.Contains(detail, cbUser) {
		t.Errorf("the 404 page's detail: %q", detail)
	}
	b.shot("problem")

	// The access token gone (as when it expires): the next page renews
	// the session from the refresh cookie, without the sign-in page.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: "gatehouse-console", URL: s.URL() + azV2})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	if _, there := b.cookies(s.URL() + cbBase)["gatehouse-console"]; there {
		t.Fatal("the access token cookie is still there")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+cbBase)); err != nil {
		t.Fatal(err)
	}
	b.at(cbBase, false)
	if renewed := b.cookies(s.URL() + cbBase)["gatehouse-console"]; renewed == nil || renewed.Value == access.Value {
		t.Errorf("the session was not renewed with a new access token")
	}

	// Sign out: the tokens are revoked and the cookies cleared, so the
	// next page asks for the password again.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("signing out: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/oauth2/authorize") {
		t.Errorf("after signing out and opening /auth/v2 the browser is at %s, want the sign-in page", loc)
	}

	t.Logf("page times in chromium on this machine (navigation start to load event; server: request to first byte):\n%s",
		strings.Join(b.times, "\n"))
}

// TestConsolePages: the pages without a browser (HTTP Basic works for
// pages as for XML): the same document with links as links, forms only
// for what the reader may change, a strict CSP, problems as pages, and
// XML unchanged for API clients.
func TestConsolePages(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "cpg", "system")
	azAdmin(t, s, "PUT", azV2+"/accounts/cpg/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "cpg", "rita", cbPass, "reader", "auth:users:read", "auth:accounts:read")
	html := http.Header{"Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}
	page := func(user, pass, path string, want int) *harness.Response {
		t.Helper()
		r := s.Do(harness.Request{Method: "GET", Path: path, User: user, Pass: pass, Header: html}).Must(t, want)
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("GET %s as a browser: Content-Type %q", path, ct)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		return r
	}
	users := azV2 + "/accounts/cpg/users"
	admin := page(`system\admin`, harness.AdminPassword, users, 200)
	reader := page(`cpg\rita`, cbPass, users, 200)
	for who, r := range map[string]*harness.Response{"admin": admin, "reader": reader} {
		if !strings.Contains(r.Body, `<a href="`+users+`/rita">rita</a>`) {
			t.Errorf("%s's users page does not link rita:\n%s", who, r.Body)
		}
	}
	if !strings.Contains(admin.Body, `id="create"`) {
		t.Errorf("the admin's users page has no create form")
	}
	if strings.Contains(reader.Body, `id="create"`) || strings.Contains(reader.Body, `id="delete"`) {
		t.Errorf("a reader's users page offers writes:\n%s", reader.Body)
	}
	if r := page(`cpg\rita`, cbPass, users+"/rita", 200); strings.Contains(r.Body, `id="update"`) || strings.Contains(r.Body, `id="delete"`) {
		t.Errorf("a reader's user page offers writes")
	}
	if r := page(`system\admin`, harness.AdminPassword, users+"/rita", 200); !strings.Contains(r.Body, `id="update"`) || !strings.Contains(r.Body, `id="delete"`) {
		t.Errorf("the admin's user page lacks the update and delete forms")
	}
	// Problems as pages: 404, 403, 400.
	if r := page(`system\admin`, harness.AdminPassword, users+"/nobody", 404); !strings.Contains(r.Body, "nobody") {
		t.Errorf("the 404 page does not say what is missing:\n%s", r.Body)
	}
	page(`cpg\rita`, cbPass, azV2+"/accounts/cpg/roles", 403)
	page(`system\admin`, harness.AdminPassword, users+"?depth=-1", 400)
	// API clients still get XML, and 401 without credentials.
	if r := s.Admin("GET", users, "").Must(t, 200); !strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml") || r.Header.Get("ETag") == "" {
		t.Errorf("XML answer: %v", r.Header)
	}
	s.Do(harness.Request{Method: "GET", Path: users, Header: http.Header{"Accept": {"application/xml"}}}).Must(t, 401)
}
