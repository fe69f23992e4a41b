package resources

import (
	"net/url"
	"strconv"
	"strings"
)

// query is the parsed console query: depth, paging and filter.
type query struct {
	Depth       int
	PageSize    int
	CurrentPage int
	Filter      string
	// paged is true when the client asked for a page explicitly.
	paged bool
}

// Limits bound what a query may ask for.
type Limits struct {
	MaxDepth        int
	DefaultPageSize int
	MaxPageSize     int
}

// queryParams are the parameters every /auth/v2 route takes.
var queryParams = []string{"depth", "page-size", "current-page", "filter"}

// routeParams are the further parameters some routes take (by route
// path): the audit collection's filters.
var routeParams = map[string][]string{
	"/audit": {"actor", "account", "action", "outcome", "since", "until"},
}

// parseQuery reads depth, page-size, current-page and filter; extra are
// the further parameters the route takes (routeParams), left to its
// handler. A repeated, unknown or unknown-valued parameter is a 400
// naming it (a typo such as pagesize=5 must not quietly answer the whole
// first page); depth above the cap is served at the cap.
func parseQuery(raw string, l Limits, extra ...string) (query, *Problem) {
	q := query{Depth: 1, PageSize: l.DefaultPageSize, CurrentPage: 1}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, problem(400, "the query string is malformed: %v", err)
	}
	for name, vs := range vals {
		if len(vs) > 1 {
			return q, problem(400, "query parameter %q is given %d times; give it once", name, len(vs))
		}
		v := vs[0]
		switch name {
		case "depth":
			n, perr := parseInt(name, v, 0)
			if perr != nil {
				return q, perr
			}
			q.Depth = min(n, l.MaxDepth)
		case "page-size":
			n, perr := parseInt(name, v, 1)
			if perr != nil {
				return q, perr
			}
			if n > l.MaxPageSize {
				return q, problem(400, "query parameter page-size=%d is over the maximum of %d", n, l.MaxPageSize)
			}
			q.PageSize, q.paged = n, true
		case "current-page":
			n, perr := parseInt(name, v, 1)
			if perr != nil {
				return q, perr
			}
			q.CurrentPage, q.paged = n, true
		case "filter":
			q.Filter = v
		default:
			if !contains(extra, name) {
				return q, unknownParameter(name, extra)
			}
		}
	}
	return q, nil
}

func parseInt(name, v string, minimum int) (int, *Problem) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || v != strings.TrimSpace(v) {
		return 0, problem(400, "query parameter %s=%q is not an integer", name, v)
	}
	if int(n) < minimum {
		return 0, problem(400, "query parameter %s=%d must be at least %d", name, n, minimum)
	}
	return int(n), nil
}

// pageHref is href with this query's paging for page n.
func (q query) pageHref(href string, n int, depthGiven bool) string {
	v := url.Values{}
	v.Set("page-size", strconv.Itoa(q.PageSize))
	v.Set("current-page", strconv.Itoa(n))
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if depthGiven {
		v.Set("depth", strconv.Itoa(q.Depth))
	}
	sep := "?"
	if strings.Contains(href, "?") {
		sep = "&" // the audit collection's href carries its filters
	}
	return href + sep + v.Encode()
}

// unknownParameter is the 400 for query parameter name, which the route
// does not take; it lists those it does.
func unknownParameter(name string, extra []string) *Problem {
	known := append(append([]string(nil), queryParams...), extra...)
	return problem(400, "unknown query parameter %q; this resource takes %s", name, strings.Join(known, ", "))
}
