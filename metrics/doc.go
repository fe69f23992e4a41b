// Package metrics holds gatehouse's Prometheus collectors beyond the
// per-route request metrics of package api, so that the packages where
// events happen need not import Prometheus: instance builds one Metrics
// on the server's registry and hands each package a plain function of
// its own (an option or a hook field), which a Metrics method fills.
//
// What is counted where:
//   - gatehouse_signins_total{method,outcome}: every authentication the
//     API pipeline's chain decides (methods basic, api-key, bearer:
//     authn.Counted around each authenticator, so a request with valid
//     credentials counts as a successful sign-in even when the credential
//     cache answered), and the sign-ins of the pages (password, passkey,
//     saml, the password grant as password-grant, the directory password
//     check as ldap), counted from their audit entries by Recorder, which
//     wraps the audit queue: what the dashboard shows is what the audit
//     log holds (so, like the audit log, a page or grant sign-in answered
//     from the credential cache, not a new verification, is not
//     counted). Outcomes: success, failure, throttled. The oauth package
//     has no metrics of its own to wire: the recorder is already on
//     every request (api.Server's Audit).
//   - gatehouse_throttled_total: attempts the authn.Throttle refused
//     (any reason); gatehouse_locked_out_total the part of them refused
//     because the user name's failure count is at its limit (a lockout,
//     rather than a noisy address); gatehouse_users_disabled_total the
//     permanent lockouts. A separate counter rather than a label keeps
//     the pinned gatehouse_throttled_total a plain total.
//   - gatehouse_check_decisions_total{decision}: each answer of
//     POST /auth/v2/check, granted or denied.
//   - gatehouse_tokens_total{grant,outcome}: each answer of the token
//     endpoint, outcome issued, refused or throttled; the grant is one of
//     a fixed set (others are "other"), so no client can grow the label.
//   - gatehouse_cache_revision_lag, gatehouse_etcd_request_duration_seconds:
//     read from the store (storage/metrics.go) at scrape time, and timed
//     by the store's gRPC interceptor.
//   - gatehouse_directory_sync_*: progress and last success of each LDAP
//     provider's sync (ldapsignin.Syncer's Observe hook).
//
// The hot path stays cheap: every label combination that a request can
// produce is resolved (WithLabelValues) once when Metrics is built and
// looked up in a read-only map afterwards, so counting allocates nothing.
package metrics
