package resources

// Route is one row of the route table: method, path pattern (under
// /auth/v2), the permission a caller needs, and the handler. Server.Routes
// mounts them on the api registry, from which the router, the
// authorization check, the README's table and the auth: catalogue come.
type Route struct {
	Method     string
	Path       string
	Permission string
	Summary    string
	handle     func(*call) error
}

func routes() []*Route {
	const (
		acc   = "/accounts/{a}"
		role  = acc + "/roles/{r}"
		group = acc + "/groups/{g}"
		user  = acc + "/users/{u}"
	)
	rt := func(method, path, perm, summary string, h func(*call) error) *Route {
		return &Route{Method: method, Path: path, Permission: perm, Summary: summary, handle: h}
	}
	return []*Route{
		rt("GET", "", "auth:me:read", "the root document: links to the entry points the caller may follow (GET / and /auth/v2/ redirect here)", getRoot),
		rt("GET", "/permissions", "auth:permissions:read", "list every known permission: the auth: set and each module's catalogue", getCatalog),
		rt("GET", "/permissions/{p}", "auth:permissions:read", "describe one catalogued permission", getCatalogItem),
		rt("GET", "/accounts", "auth:accounts:read", "list the accounts the caller can see", getAccounts),
		rt("POST", "/accounts", "auth:accounts:create", "create an account", postAccount),
		rt("GET", "/accounts/rules", "auth:rules:read", "list root federation rules", getRootRules),
		rt("POST", "/accounts/rules", "auth:rules:create", "create a root federation rule (system principals only)", postRule),
		rt("GET", "/accounts/rules/{r}", "auth:rules:read", "show a root federation rule (system principals only)", getRule),
		rt("PUT", "/accounts/rules/{r}", "auth:rules:update", "create (also needs auth:rules:create) or update a root federation rule (system principals only)", putRule),
		rt("DELETE", "/accounts/rules/{r}", "auth:rules:delete", "delete a root federation rule (system principals only)", deleteRule),
		rt("GET", acc, "auth:accounts:read", "show an account", getAccount),
		rt("PUT", acc, "auth:accounts:update", "create (also needs auth:accounts:create) or update an account", putAccount),
		rt("DELETE", acc, "auth:accounts:delete", "delete an account and its whole subtree", deleteAccount),

		rt("GET", acc+"/permissions", "auth:accounts:permissions:read", "list the account's ceiling", getPermissionSet(ceilingSet)),
		rt("PUT", acc+"/permissions", "auth:accounts:permissions:update", "replace the account's ceiling", putPermissionSet(ceilingSet)),
		rt("DELETE", acc+"/permissions", "auth:accounts:permissions:delete", "empty the account's ceiling", deletePermissionSet(ceilingSet)),
		rt("GET", acc+"/permissions/{p}", "auth:accounts:permissions:read", "show one ceiling permission", getPermission(ceilingSet)),
		rt("PUT", acc+"/permissions/{p}", "auth:accounts:permissions:update", "add a ceiling permission", putPermission(ceilingSet)),
		rt("DELETE", acc+"/permissions/{p}", "auth:accounts:permissions:delete", "remove a ceiling permission", deletePermission(ceilingSet)),

		rt("GET", acc+"/export", "auth:accounts:export:read", "export an account subtree as one <export> document, secrets only as stored hashes; omitted names what it cannot carry (system principals only)", getExport),
		rt("POST", "/import", "auth:accounts:import:create", "import an <export> document in one transaction, or above etcd's limit in journaled batches that the same document resumes; 409 when a name exists (system principals only)", postImport),

		rt("GET", acc+"/default-roles", "auth:accounts:default-roles:read", "list the account's default roles: every user created in it gets them", getDefaultRoles),
		rt("GET", acc+"/default-roles/{r}", "auth:accounts:default-roles:read", "show one of the account's default roles", getDefaultRole),
		rt("PUT", acc+"/default-roles/{r}", "auth:accounts:default-roles:update", "make a role a default role (the caller must be able to grant it)", putDefaultRole),
		rt("DELETE", acc+"/default-roles/{r}", "auth:accounts:default-roles:delete", "stop giving a role to new users (users who have it keep it)", deleteDefaultRole),

		rt("GET", acc+"/rules", "auth:rules:read", "list the account's federation rules", getAccountRules),
		rt("POST", acc+"/rules", "auth:rules:create", "create an account federation rule (grants only what the caller may grant)", postRule),
		rt("GET", acc+"/rules/{r}", "auth:rules:read", "show an account federation rule", getRule),
		rt("PUT", acc+"/rules/{r}", "auth:rules:update", "create (also needs auth:rules:create) or update an account federation rule", putRule),
		rt("DELETE", acc+"/rules/{r}", "auth:rules:delete", "delete an account federation rule", deleteRule),

		rt("GET", acc+"/providers", "auth:providers:read", "list the account's identity providers (LDAP directories, SAML IdPs)", getProviders),
		rt("POST", acc+"/providers", "auth:providers:create", "create an identity provider", postProvider),
		rt("GET", acc+"/providers/{pv}", "auth:providers:read", "show an identity provider (bind-password never shown) and its sync status", getProvider),
		rt("PUT", acc+"/providers/{pv}", "auth:providers:update", "create (also needs auth:providers:create) or update an identity provider", putProvider),
		rt("DELETE", acc+"/providers/{pv}", "auth:providers:delete", "delete an identity provider", deleteProvider),
		rt("POST", acc+"/providers/{pv}/sync", "auth:providers:sync:create", "start a directory sync of an ldap provider (202; 409 while one runs); its progress shows in the provider's <sync>", postProviderSync),

		rt("GET", acc+"/roles", "auth:roles:read", "list roles", getItems(roleKind)),
		rt("POST", acc+"/roles", "auth:roles:create", "create a role", postItem(roleKind)),
		rt("GET", role, "auth:roles:read", "show a role", getItem(roleKind)),
		rt("PUT", role, "auth:roles:update", "create (also needs auth:roles:create) or update a role", putItem(roleKind)),
		rt("DELETE", role, "auth:roles:delete", "delete a role and every assignment of it", deleteItem(roleKind)),
		rt("GET", role+"/permissions", "auth:roles:permissions:read", "list a role's permissions", getPermissionSet(rolePermSet)),
		rt("PUT", role+"/permissions", "auth:roles:permissions:update", "replace a role's permissions", putPermissionSet(rolePermSet)),
		rt("DELETE", role+"/permissions", "auth:roles:permissions:delete", "remove all of a role's permissions", deletePermissionSet(rolePermSet)),
		rt("GET", role+"/permissions/{p}", "auth:roles:permissions:read", "show one role permission", getPermission(rolePermSet)),
		rt("PUT", role+"/permissions/{p}", "auth:roles:permissions:update", "add a role permission", putPermission(rolePermSet)),
		rt("DELETE", role+"/permissions/{p}", "auth:roles:permissions:delete", "remove a role permission", deletePermission(rolePermSet)),

		rt("GET", acc+"/groups", "auth:groups:read", "list groups", getItems(groupKind)),
		rt("POST", acc+"/groups", "auth:groups:create", "create a group", postItem(groupKind)),
		rt("GET", group, "auth:groups:read", "show a group", getItem(groupKind)),
		rt("PUT", group, "auth:groups:update", "create (also needs auth:groups:create) or update a group", putItem(groupKind)),
		rt("DELETE", group, "auth:groups:delete", "delete a group and its memberships", deleteItem(groupKind)),
		rt("GET", group+"/roles", "auth:groups:roles:read", "list a group's roles", getMembers(groupRoles)),
		rt("POST", group+"/roles", "auth:groups:roles:create", "give a group a role", postMember(groupRoles)),
		rt("PUT", group+"/roles", "auth:groups:roles:update", "replace a group's roles", putMembers(groupRoles)),
		rt("DELETE", group+"/roles", "auth:groups:roles:delete", "remove all of a group's roles", deleteMembers(groupRoles)),
		rt("GET", group+"/roles/{r}", "auth:groups:roles:read", "show a role of a group", getMember(groupRoles)),
		rt("PUT", group+"/roles/{r}", "auth:groups:roles:update", "give a group a role", putMember(groupRoles)),
		rt("DELETE", group+"/roles/{r}", "auth:groups:roles:delete", "take a role from a group", deleteMember(groupRoles)),
		rt("GET", group+"/users", "auth:groups:users:read", "list a group's members", getMembers(groupUsers)),
		rt("POST", group+"/users", "auth:groups:users:create", "add a member to a group", postMember(groupUsers)),
		rt("PUT", group+"/users", "auth:groups:users:update", "replace a group's members", putMembers(groupUsers)),
		rt("DELETE", group+"/users", "auth:groups:users:delete", "remove all members of a group", deleteMembers(groupUsers)),
		rt("GET", group+"/users/{u}", "auth:groups:users:read", "show a member of a group", getMember(groupUsers)),
		rt("PUT", group+"/users/{u}", "auth:groups:users:update", "add a member to a group", putMember(groupUsers)),
		rt("DELETE", group+"/users/{u}", "auth:groups:users:delete", "remove a member from a group", deleteMember(groupUsers)),

		rt("GET", acc+"/users", "auth:users:read", "list users", getItems(userKind)),
		rt("POST", acc+"/users", "auth:users:create", "create a user", postItem(userKind)),
		rt("GET", user, "auth:users:read", "show a user", getItem(userKind)),
		rt("PUT", user, "auth:users:update", "create (also needs auth:users:create) or update a user", putItem(userKind)),
		rt("DELETE", user, "auth:users:delete", "delete a user with its attributes and memberships", deleteItem(userKind)),
		rt("PUT", user+"/password", "auth:users:password:update", "set a user's password", putPassword),
		rt("DELETE", user+"/password", "auth:users:password:delete", "remove a user's password", deletePassword),
		rt("GET", user+"/attributes", "auth:users:attributes:read", "list a user's attributes", getAttributes),
		rt("POST", user+"/attributes", "auth:users:attributes:create", "add an attribute", postAttribute),
		rt("PUT", user+"/attributes", "auth:users:attributes:update", "replace all attributes", putAttributes),
		rt("DELETE", user+"/attributes", "auth:users:attributes:delete", "remove all attributes", deleteAttributes),
		rt("GET", user+"/attributes/{n}", "auth:users:attributes:read", "show an attribute", getAttribute),
		rt("PUT", user+"/attributes/{n}", "auth:users:attributes:update", "create or update an attribute", putAttribute),
		rt("DELETE", user+"/attributes/{n}", "auth:users:attributes:delete", "remove an attribute", deleteAttribute),
		rt("GET", user+"/roles", "auth:users:roles:read", "list a user's roles", getMembers(userRoles)),
		rt("POST", user+"/roles", "auth:users:roles:create", "give a user a role", postMember(userRoles)),
		rt("PUT", user+"/roles", "auth:users:roles:update", "replace a user's roles", putMembers(userRoles)),
		rt("DELETE", user+"/roles", "auth:users:roles:delete", "remove all of a user's roles", deleteMembers(userRoles)),
		rt("GET", user+"/roles/{r}", "auth:users:roles:read", "show a role of a user", getMember(userRoles)),
		rt("PUT", user+"/roles/{r}", "auth:users:roles:update", "give a user a role", putMember(userRoles)),
		rt("DELETE", user+"/roles/{r}", "auth:users:roles:delete", "take a role from a user", deleteMember(userRoles)),
		rt("GET", user+"/groups", "auth:users:groups:read", "list a user's groups", getMembers(userGroups)),
		rt("POST", user+"/groups", "auth:users:groups:create", "add a user to a group", postMember(userGroups)),
		rt("PUT", user+"/groups", "auth:users:groups:update", "replace a user's groups", putMembers(userGroups)),
		rt("DELETE", user+"/groups", "auth:users:groups:delete", "remove a user from all groups", deleteMembers(userGroups)),
		rt("GET", user+"/groups/{g}", "auth:users:groups:read", "show a group of a user", getMember(userGroups)),
		rt("PUT", user+"/groups/{g}", "auth:users:groups:update", "add a user to a group", putMember(userGroups)),
		rt("DELETE", user+"/groups/{g}", "auth:users:groups:delete", "remove a user from a group", deleteMember(userGroups)),
		rt("GET", user+"/permissions", "auth:users:permissions:read", "list a user's effective permissions", getEffective),
		rt("GET", user+"/permissions/{p}", "auth:users:permissions:read", "ask whether a user holds a permission, and what grants it", getEffectiveOne),
		rt("GET", user+"/clients", "auth:users:clients:read", "list a user's OAuth clients", getClients),
		rt("POST", user+"/clients", "auth:users:clients:create", "create an OAuth client (the 201 answer alone shows its secret), or update the one the body's client-id names (also needs auth:users:clients:update)", postClient),
		rt("DELETE", user+"/clients", "auth:users:clients:delete", "delete all of a user's OAuth clients", deleteClients),
		rt("GET", user+"/clients/{c}", "auth:users:clients:read", "show an OAuth client (never its secret)", getClient),
		rt("PUT", user+"/clients/{c}", "auth:users:clients:update", "change an OAuth client's description, uris, grant types, scopes or first-party flag", putClient),
		rt("DELETE", user+"/clients/{c}", "auth:users:clients:delete", "delete an OAuth client", deleteClient),
		rt("GET", user+"/clients/{c}/uris", "auth:users:clients:read", "list an OAuth client's redirect URIs", getClientURIs),
		rt("GET", user+"/clients/{c}/grant-types", "auth:users:clients:read", "list an OAuth client's grant types", getClientGrantTypes),
		rt("GET", user+"/clients/{c}/scopes", "auth:users:clients:read", "list an OAuth client's scopes", getClientScopes),
		rt("GET", user+"/federated", "auth:users:federated:read", "list the federated principals linked to a user", getUserFederated),

		rt("GET", "/federated", "auth:federated:read", "list the federated principal types", getFederations),
		rt("GET", "/federated/{type}", "auth:federated:read", "show a federated principal type", getFederation),
		rt("GET", "/federated/{type}/principals", "auth:federated:read", "list the federated principals of a type the caller can see", getPrincipals),
		rt("GET", "/federated/{type}/principals/{principal}", "auth:federated:read", "show a federated principal", getPrincipal),
		rt("GET", "/federated/{type}/principals/{principal}/attributes", "auth:federated:read", "list a federated principal's attributes", getPrincipalAttributes),
		rt("GET", "/federated/{type}/principals/{principal}/attributes/{n}", "auth:federated:read", "show one attribute of a federated principal", getPrincipalAttribute),
		rt("GET", "/federated/{type}/principals/{principal}/users", "auth:federated:read", "list the local user a federated principal is linked to", getPrincipalUsers),

		rt("GET", "/me", "auth:me:read", "show the signed-in user", getMeUser),
		rt("GET", "/me/attributes", "auth:me:attributes:read", "list one's own attributes", getMyAttributes),
		rt("PUT", "/me/attributes", "auth:me:attributes:update", "replace all of one's own attributes", putMyAttributes),
		rt("GET", "/me/attributes/{n}", "auth:me:attributes:read", "show one of one's own attributes", getMyAttribute),
		rt("PUT", "/me/attributes/{n}", "auth:me:attributes:update", "create or update one of one's own attributes", putMyAttribute),
		rt("DELETE", "/me/attributes/{n}", "auth:me:attributes:update", "remove one of one's own attributes", deleteMyAttribute),
		rt("GET", "/me/roles", "auth:me:roles:read", "list one's own roles", getMyMembers(userRoles)),
		rt("GET", "/me/roles/{r}", "auth:me:roles:read", "show one of one's own roles", getMyMember(userRoles)),
		rt("GET", "/me/groups", "auth:me:groups:read", "list one's own groups", getMyMembers(userGroups)),
		rt("GET", "/me/groups/{g}", "auth:me:groups:read", "show one of one's own groups", getMyMember(userGroups)),
		rt("GET", "/me/permissions", "auth:me:permissions:read", "list one's own effective permissions", getMyPermissions),
		rt("GET", "/me/permissions/{p}", "auth:me:permissions:read", "ask whether one holds a permission, and what grants it", getMyPermission),
		rt("PUT", "/me/password", "auth:me:password:create", "change one's own password (needs the old one; allowed with an expired password)", putMyPassword),

		rt("GET", "/backup", "auth:backup:read", "stream an etcd snapshot of the whole store, application/octet-stream (system principals only)", getBackup),
		rt("POST", "/check", "auth:check:read", "answer a batch of up to 1,000 permission questions, in order", postCheck),

		rt("GET", "/audit", "auth:audit:read", "page the audit log, filtered by actor, account, action, outcome, since and until", getAudit),
		rt("GET", "/audit/{id}", "auth:audit:read", "show one audit entry", getAuditEntry),

		rt("GET", user+"/api-keys", "auth:users:api-keys:read", "list a user's API keys", getAPIKeys),
		rt("POST", user+"/api-keys", "auth:users:api-keys:create", "create an API key for a user; the 201 answer alone shows its secret", postAPIKey),
		rt("GET", user+"/api-keys/{k}", "auth:users:api-keys:read", "show an API key (never its secret)", getAPIKey),
		rt("PUT", user+"/api-keys/{k}", "auth:users:api-keys:update", "change an API key's name, description, expiry or permissions", putAPIKey),
		rt("DELETE", user+"/api-keys/{k}", "auth:users:api-keys:delete", "delete an API key; it is refused at once", deleteAPIKey),
		rt("GET", user+"/api-keys/{k}/permissions", "auth:users:api-keys:read", "list an API key's permissions", getAPIKeyPermissions),
		rt("GET", user+"/api-keys/{k}/permissions/{p}", "auth:users:api-keys:read", "show one of an API key's permissions", getAPIKeyPermission),
		rt("GET", "/me/api-keys", "auth:me:api-keys:read", "list one's own API keys", getMyAPIKeys),
		rt("POST", "/me/api-keys", "auth:me:api-keys:create", "create an API key for oneself; the 201 answer alone shows its secret", postMyAPIKey),
		rt("GET", "/me/api-keys/{k}", "auth:me:api-keys:read", "show one of one's own API keys (never its secret)", getMyAPIKey),
		rt("DELETE", "/me/api-keys/{k}", "auth:me:api-keys:delete", "delete one of one's own API keys", deleteMyAPIKey),
		rt("GET", "/me/api-keys/{k}/permissions", "auth:me:api-keys:read", "list the permissions of one of one's own API keys", getMyAPIKeyPermissions),
		rt("GET", "/me/api-keys/{k}/permissions/{p}", "auth:me:api-keys:read", "show one permission of one of one's own API keys", getMyAPIKeyPermission),

		rt("GET", user+"/sessions", "auth:users:sessions:read", "list a user's live sign-in sessions (OAuth code and password grants)", getSessions),
		rt("GET", user+"/sessions/{s}", "auth:users:sessions:read", "show a sign-in session", getSession),
		rt("DELETE", user+"/sessions/{s}", "auth:users:sessions:delete", "revoke a sign-in session: its refresh and access tokens stop working", deleteSession),
		rt("GET", "/me/sessions", "auth:me:sessions:read", "list one's own live sign-in sessions", getMySessions),
		rt("GET", "/me/sessions/{s}", "auth:me:sessions:read", "show one of one's own sign-in sessions", getMySession),
		rt("DELETE", "/me/sessions/{s}", "auth:me:sessions:delete", "revoke one of one's own sign-in sessions", deleteMySession),

		rt("GET", "/me/totp", "auth:me:totp:read", "show whether one's own TOTP second factor is enabled", getMyTOTP),
		rt("POST", "/me/totp", "auth:me:totp:create", "start a TOTP enrolment; the 201 answer alone shows its secret, URI and QR link", postMyTOTP),
		rt("PUT", "/me/totp", "auth:me:totp:update", "confirm the pending TOTP enrolment with a <code> (wrong code: 400)", putMyTOTP),
		rt("GET", "/me/totp/qr", "auth:me:totp:read", "the QR code (image/png) of the pending TOTP enrolment", getMyTOTPQR),
		rt("GET", "/me/backup-codes", "auth:me:backup-codes:read", "show how many of one's own backup codes remain", getMyBackupCodes),
		rt("POST", "/me/backup-codes", "auth:me:backup-codes:create", "draw a new set of backup codes, replacing the old; the 201 answer alone shows them", postMyBackupCodes),
		rt("GET", user+"/totp", "auth:users:totp:read", "show whether a user's TOTP second factor is enabled", getUserTOTP),
		rt("DELETE", user+"/totp", "auth:users:totp:delete", "reset a user's second factor (TOTP and backup codes)", deleteUserTOTP),
		rt("DELETE", user+"/lockout", "auth:users:lockout:delete", "clear a user's sign-in lockout (its shared failure count) on every instance", deleteUserLockout),

		rt("GET", "/me/passkeys", "auth:me:passkeys:read", "list one's own passkeys", getMyPasskeys),
		rt("GET", "/me/passkeys/{pk}", "auth:me:passkeys:read", "show one of one's own passkeys", getMyPasskey),
		rt("DELETE", "/me/passkeys/{pk}", "auth:me:passkeys:delete", "delete one of one's own passkeys", deleteMyPasskey),
		rt("POST", "/me/passkeys/registration", "auth:me:passkeys:create", "begin registering a passkey: the creation options as the browser API takes them (application/json)", postMyPasskeyRegistration),
		rt("PUT", "/me/passkeys/registration", "auth:me:passkeys:create", "finish registering a passkey with the browser's response (application/json, optional \"name\"); 201 with the new passkey", putMyPasskeyRegistration),
	}
}
