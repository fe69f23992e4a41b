package authn

// Method says how a principal signed in.
type Method string

// The sign-in methods gatehouse knows. LDAP and SAML add theirs when they
// arrive.
const (
	MethodPassword Method = "password" // HTTP Basic or the sign-in page: a local password, then any further step
	MethodAPIKey   Method = "api-key"  // an API key (X-API-Key or Bearer gh_…)
	MethodOAuth    Method = "oauth"    // an OAuth access token (Bearer JWT) issued by /oauth2/token
)

// Principal is an authenticated caller: the local user it acts as, how it
// signed in, and the scopes that cut its power.
//
// Scopes, when not nil, are permission patterns: a decision passes only
// when the user's own permissions grant it AND one of the scopes implies
// it (an API key's permission list, later an OAuth token's scopes). A nil
// Scopes means the principal carries the user's whole power; an empty,
// non-nil one carries none.
type Principal struct {
	Account, User string
	Method        Method
	Scopes        []string
	// KeyID is the public id (prefix) of the API key the principal signed
	// in with; "" for other methods.
	KeyID string
	// ClientID is the OAuth client whose access token the principal
	// presented (MethodOAuth); "" for other methods.
	ClientID string
	// PasswordExpired is set when the user's password has expired: the
	// HTTP layer admits such a principal only to change its password.
	PasswordExpired bool
}

// Name is the principal's account\user form.
func (p Principal) Name() string { return p.Account + `\` + p.User }

// Actor is how the audit log names the principal: "api-key:<id>" for an
// API key (the id is public; the secret never is), "client:<id>" for an
// OAuth access token, account\user otherwise.
func (p Principal) Actor() string {
	if p.Method == MethodAPIKey && p.KeyID != "" {
		return "api-key:" + p.KeyID
	}
	if p.Method == MethodOAuth && p.ClientID != "" {
		return "client:" + p.ClientID
	}
	return p.Name()
}

// Scoped reports whether the principal's power is cut by scopes.
func (p Principal) Scoped() bool { return p.Scopes != nil }
