package test

// A real browser on the TOTP pages (issue 11 "a screenshot of the TOTP
// enrolment page with its QR code saved as an artifact, and the QR
// decoded back to the otpauth:// URI in the test"): headless chromium
// opens the self-service enrolment page (HTTP Basic sent as an extra
// header, for the /auth/v2 page only), starts an enrolment, and the QR
// code is read back from the page's screenshot with gozxing and must be
// the otpauth:// URI the page shows; the enrolment is confirmed with a
// code computed from the secret on the page. Then an authorization-code
// sign-in (x/oauth2, PKCE) in the same browser: after the password the
// sign-in page asks for the code; a wrong one is refused with the error
// shown, the right one completes the flow and the code gives tokens.
// Chromium is required (see obChromium).

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/oauth2"

	"gatehouse/test/harness"
)

// tbText is the text of the element with id, "" when there is none.
func tbText(ctx context.Context, id string) string {
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID(id), chromedp.AtLeast(0)))
	if err != nil || len(nodes) == 0 {
		return ""
	}
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	return strings.TrimSpace(s)
}

// tbMain is the page's text, for failure messages.
func tbMain(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	return s
}

// tbQR decodes the QR code in a PNG screenshot.
func tbQR(t *testing.T, shot []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("gozxing bitmap: %v", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code found in the screenshot of the enrolment page: %v", err)
	}
	return res.GetText()
}

// tbWrongCode is a code that is none of secret's codes around now.
func tbWrongCode(t *testing.T, secret string) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222"} {
		used := false
		for d := -2; d <= 3; d++ {
			if tfCode(t, secret, time.Now().Add(time.Duration(d)*30*time.Second)) == c {
				used = true
			}
		}
		if !used {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

func TestTOTPBrowser(t *testing.T) {
	chromium := obChromium(t)
	s := harness.Start(t)
	azCreateAccount(t, s, "tfa", "system")
	azAdmin(t, s, "PUT", tfBase+"/permissions", azPermsBody("*"), 204)
	azUserWithRole(t, s, "tfa", "tess", tfPass, "self", "auth:*")

	redirect, got := obCatcher(t)
	body := "<client><first-party>true</first-party><public>true</public>" +
		clList("grant-types", "grant-type", "authorization_code", "refresh_token") +
		clList("scopes", "scope", "auth:me:read") + clList("uris", "uri", redirect) + "</client>"
	r := s.Admin("POST", tfBase+"/users/tess/clients", body).Must(t, 201)
	id := r.Root().SelectAttrValue("identifier", "")
	cfg := &oauth2.Config{ClientID: id, RedirectURL: redirect, Scopes: []string{"auth:me:read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL() + "/oauth2/authorize", TokenURL: s.URL() + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}

	ctx := obBrowser(t, chromium, 900, 1000)

	// The enrolment page, signed in with HTTP Basic.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(tfUser+":"+tfPass))
	browserHeaders(t, ctx, map[string]string{"Authorization": basic})
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(s.URL()+"/auth/v2/me/totp/enrolment"))
	if err != nil {
		t.Fatalf("chromium (%s) opening the enrolment page: %v", chromium, err)
	}
	if resp.Status != 200 || !strings.Contains(tbText(ctx, "state"), "not set up") {
		t.Fatalf("the enrolment page: %d\n%s", resp.Status, tbMain(ctx))
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#start button`))); err != nil || resp.Status != 200 {
		t.Fatalf("starting the enrolment: %v %v\n%s", resp, err, tbMain(ctx))
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("qr"))); err != nil {
		t.Fatalf("no QR code on the page: %v\n%s", err, tbMain(ctx))
	}
	secret, uri := tbText(ctx, "secret"), tbText(ctx, "uri")
	if secret == "" || !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("the page shows secret %q and URI %q", secret, uri)
	}
	shot := browserShot(t, ctx, "totp-enrolment-page.png")
	if qr := tbQR(t, shot); qr != uri {
		t.Fatalf("the QR code on the page reads\n%s\nthe page's URI is\n%s", qr, uri)
	}

	// Confirm: a wrong code is refused, the code from the secret enables it.
	wrong := tbWrongCode(t, secret)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("code"), wrong)); err != nil {
		t.Fatal(err)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#confirm button`))); err != nil || resp.Status != 400 ||
		!strings.Contains(tbText(ctx, "error"), "not correct") {
		t.Fatalf("confirming with a wrong code: %v %v\n%s", resp, err, tbMain(ctx))
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("code"), tfCode(t, secret, time.Now()))); err != nil {
		t.Fatal(err)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#confirm button`))); err != nil || resp.Status != 200 ||
		tbText(ctx, "confirmed") == "" || !strings.Contains(tbText(ctx, "state"), "enabled") || tbText(ctx, "secret") != "" {
		t.Fatalf("confirming with the right code: %v %v\n%s", resp, err, tbMain(ctx))
	}
	if strings.Contains(tbMain(ctx), secret) {
		t.Fatal("the secret shows after the confirmation")
	}

	// The sign-in page, without the header: password, then the code.
	browserHeaders(t, ctx, nil)
	verifier := oauth2.GenerateVerifier()
	resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(cfg.AuthCodeURL(ocState, oauth2.S256ChallengeOption(verifier))))
	if err != nil || resp.Status != 200 {
		t.Fatalf("opening the authorization URL: %v %v", resp, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), tfUser),
		chromedp.SendKeys(chromedp.ID("password"), tfPass),
	); err != nil {
		t.Fatalf("filling the sign-in form: %v", err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("submitting the password: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("totp"))); err != nil {
		t.Fatalf("the page does not ask for the code after the password: %v\n%s", err, tbMain(ctx))
	}
	browserShot(t, ctx, "totp-signin-page.png")

	// A wrong code: refused, the error shown, the step again.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("totp"), tbWrongCode(t, secret))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#factor-totp button[type="submit"]`))); err != nil {
		t.Fatalf("submitting a wrong code: %v", err)
	}
	if e, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".error"))); !strings.Contains(e, "not correct") {
		t.Fatalf("a wrong code shows %q\n%s", e, tbMain(ctx))
	}
	select {
	case q := <-got:
		t.Fatalf("the client got a redirect after a wrong code: %v", q)
	default:
	}

	// The right code (of the next time step: the confirmation took this
	// one): the client gets its code.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("totp"), tfCode(t, secret, time.Now().Add(30*time.Second)))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#factor-totp button[type="submit"]`))); err != nil {
		t.Fatalf("submitting the right code: %v", err)
	}
	var q map[string][]string
	select {
	case q = <-got:
	case <-ctx.Done():
		t.Fatalf("the client got no redirect after the right code: %v\n%s", ctx.Err(), tbMain(ctx))
	}
	code := ""
	if len(q["code"]) > 0 {
		code = q["code"][0]
	}
	if code == "" || len(q["state"]) == 0 || q["state"][0] != ocState {
		t.Fatalf("the client's redirect: %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	if c := oaClaims(t, tok.AccessToken); c["sub"] != tfUser || c["client_id"] != id {
		t.Errorf("access token claims %v", c)
	}
	tfBearer(s, tok.AccessToken, "GET", azV2+"/me").Must(t, 200)
}
