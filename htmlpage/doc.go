// Package htmlpage holds what gatehouse's server-rendered pages share —
// the OAuth sign-in page (oauth), the self-service pages (selfservice)
// and the browser console (console): the Content-Security-Policy source
// that allows an inline style by its hash, reading a page's embedded
// files, and the security headers every page answer carries (nosniff,
// no framing, no caching, a referrer policy). Each page package keeps
// its own templates and policy; this package keeps them saying the same
// thing the same way.
package htmlpage
