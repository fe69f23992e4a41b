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

// parseQuery reads depth, page-size, current-page and filter. A repeated
// or unknown-valued parameter is a 400; depth above the cap is served at
// the cap.
func parseQuery(raw string, l Limits) (query, *Problem) {
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
