package console

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"gatehouse/api"
	"gatehouse/htmlpage"
)

//go:embed templates script.js
var files embed.FS

var (
	style  = htmlpage.MustRead(files, "templates/style.css")
	script = htmlpage.MustRead(files, "script.js")
	// csp: the inline style sheet by its hash, the console's script and
	// its requests from this origin, forms to this origin, nothing else.
	csp = "default-src 'none'; style-src '" + htmlpage.SourceHash(style) + "'; script-src 'self'; connect-src 'self'; " +
		"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	page = template.Must(template.New("page.html").Funcs(template.FuncMap{}).ParseFS(files, "templates/page.html"))
)

func serveScript(req *api.Request) error {
	h := req.W.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(script)))
	req.W.WriteHeader(http.StatusOK)
	if req.R.Method != http.MethodHead {
		_, _ = req.W.Write([]byte(script))
	}
	return nil
}

// node is an element of the document as the page shows it.
type node struct {
	Name  string // the element's name
	Label string // its identifier, else its name
	Href  string
	Attrs []attr
	Text  string
	// Fields are child elements holding a value (no element children;
	// at most a link); Items are the rest (references, collections,
	// nested entities).
	Fields, Items []*node
}

// attr is an attribute shown beside its element; Link when it holds a
// path (granted-by, next …).
type attr struct {
	Name, Value string
	Link        bool
}

// view is what page.html shows.
type view struct {
	Title     string
	Style     template.CSS
	Principal string
	CSRF      string
	Script    string
	SignOut   string
	Path      string // the request's path
	Crumbs    []crumb
	Status    int
	// The document.
	Doc *node
	// Collection controls (Doc has count).
	Collection     bool
	Filter         string
	Hidden         []kv // the query to keep in the filter form
	Prev, Next     string
	Page, Pages    int
	Count          string
	Depths         []depthLink
	Source         string // the XML document
	Edit           string // the document as a PUT body
	Create         string // a POST body to start from
	Put, Post, Del bool
	After          string // where a DELETE leads
	// A problem.
	Problem *problemView
}

type kv struct{ Name, Value string }

type crumb struct{ Label, Href string }

type depthLink struct {
	Depth   int
	Href    string
	Current bool
}

type problemView struct {
	Title, Detail string
	Extensions    []kv
	SignIn        string
}

// Document implements api.Pages: the document doc as a page.
func (c *Console) Document(req *api.Request, status int, doc []byte) error {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		return err
	}
	root := d.Root()
	if root == nil {
		return api.Problemf(http.StatusInternalServerError, "the document has no root element")
	}
	v := c.frame(req.R, status)
	v.Principal = req.Principal.Name()
	v.Doc = convert(root)
	v.Title = v.Doc.Name
	if v.Doc.Label != v.Doc.Name {
		v.Title += " " + v.Doc.Label
	} else if v.Doc.Text != "" && len(v.Doc.Text) <= 200 {
		v.Title += " " + v.Doc.Text
	}
	v.Source = string(doc)
	q := req.R.URL.Query()
	depth := 1
	if s := q.Get("depth"); s != "" {
		depth, _ = strconv.Atoi(s)
	}
	for i := 0; i <= 3; i++ {
		qq := cloneQuery(q)
		qq.Set("depth", strconv.Itoa(i))
		v.Depths = append(v.Depths, depthLink{Depth: i, Href: req.R.URL.Path + "?" + qq.Encode(), Current: i == depth})
	}
	if count := root.SelectAttrValue("count", ""); count != "" {
		v.Collection = true
		v.Doc.Attrs = slices.DeleteFunc(v.Doc.Attrs, func(a attr) bool { return a.Name == "count" })
		v.Count = count
		v.Filter = q.Get("filter")
		for _, k := range []string{"depth", "page-size"} {
			if x := q.Get(k); x != "" {
				v.Hidden = append(v.Hidden, kv{k, x})
			}
		}
		v.Prev, v.Next = root.SelectAttrValue("previous", ""), root.SelectAttrValue("next", "")
		n, _ := strconv.Atoi(count)
		size, _ := strconv.Atoi(root.SelectAttrValue("page-size", ""))
		if size > 0 {
			v.Page, _ = strconv.Atoi(root.SelectAttrValue("current-page", "1"))
			v.Pages = max(1, (n+size-1)/size)
		}
	}
	csrf, err := req.Server.CSRFToken(req.R)
	if err != nil {
		return err
	}
	v.CSRF = csrf
	for _, m := range req.Permitted() {
		switch m {
		case http.MethodPut:
			v.Put = true
			v.Edit = editBody(d)
		case http.MethodPost:
			v.Post = true
			v.Create = createBody(req.Route.Path, root)
		case http.MethodDelete:
			v.Del = true
			v.After = path.Dir(req.R.URL.Path)
		}
	}
	return c.write(req.W, req.R, status, v)
}

// Problem implements api.Pages: the problem as a page (the sign-in
// redirect, 303, with a link to follow).
func (c *Console) Problem(w http.ResponseWriter, r *http.Request, p *api.Problem) {
	for k, vs := range p.Header {
		for _, x := range vs {
			w.Header().Add(k, x)
		}
	}
	v := c.frame(r, p.Status)
	v.Title = strconv.Itoa(p.Status) + " " + http.StatusText(p.Status)
	v.Problem = &problemView{Title: http.StatusText(p.Status), Detail: p.Detail}
	for _, x := range p.Extensions {
		v.Problem.Extensions = append(v.Problem.Extensions, kv{x[0], x[1]})
	}
	if p.Status == http.StatusSeeOther || p.Status == http.StatusUnauthorized {
		v.Problem.SignIn = p.Header.Get("Location")
		if v.Problem.SignIn == "" {
			v.Problem.SignIn = SignInPath + "?" + url.Values{"return": {r.URL.RequestURI()}}.Encode()
		}
	}
	if err := c.write(w, r, p.Status, v); err != nil {
		api.WriteProblem(w, r, p)
	}
}

// frame is the view's parts every page has.
func (c *Console) frame(r *http.Request, status int) *view {
	v := &view{Style: template.CSS(style), Script: ScriptPath, SignOut: SignOutPath, Path: r.URL.Path, Status: status}
	// Crumbs from /auth/v2 down (/auth itself is no page).
	href := ""
	for _, seg := range strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/") {
		if seg == "" {
			continue
		}
		href += "/" + seg
		if href == "/auth" {
			continue
		}
		label, err := url.PathUnescape(seg)
		if err != nil {
			label = seg
		}
		if href == Home {
			label = "auth/v2"
		}
		v.Crumbs = append(v.Crumbs, crumb{label, href})
	}
	return v
}

// write renders v with status and the pages' headers.
func (c *Console) write(w http.ResponseWriter, r *http.Request, status int, v *view) error {
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		c.log().Error("console: rendering a page", "path", r.URL.Path, "err", err)
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	htmlpage.SetHeaders(h, csp, "same-origin")
	h.Del("ETag")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
	return nil
}

// convert is element e as a node.
func convert(e *etree.Element) *node {
	n := &node{Name: e.Tag, Label: e.Tag, Text: strings.TrimSpace(e.Text())}
	for _, a := range e.Attr {
		switch a.Key {
		case "href":
			n.Href = a.Value
		case "identifier":
			n.Label = a.Value
		case "next", "previous", "page-size", "current-page":
			// the page's paging controls
		default:
			n.Attrs = append(n.Attrs, attr{Name: a.Key, Value: a.Value, Link: strings.HasPrefix(a.Value, "/")})
		}
	}
	for _, ch := range e.ChildElements() {
		cn := convert(ch)
		if len(ch.ChildElements()) == 0 && (cn.Href == "" || cn.Text != "") {
			n.Fields = append(n.Fields, cn)
		} else {
			n.Items = append(n.Items, cn)
		}
	}
	return n
}

// editBody is the document as the body of a PUT: the shape GET renders
// (which the decoder takes, ignoring read-only fields), less what only
// links elsewhere — hrefs, counts, references to sub-collections, which
// change through their own resources — and the always-empty password. A
// reference field such as <parent identifier="…"> stays: the decoder
// reads its identifier.
func editBody(d *etree.Document) string {
	c := etree.NewDocument()
	root := d.Root()
	if root == nil {
		return ""
	}
	e := root.Copy()
	c.SetRoot(e)
	e.RemoveAttr("href")
	e.RemoveAttr("count")
	for _, ch := range e.ChildElements() {
		empty := len(ch.ChildElements()) == 0 && strings.TrimSpace(ch.Text()) == ""
		ref := ch.SelectAttr("href") != nil && ch.SelectAttr("identifier") == nil // a sub-collection
		if (ref && empty) || (ch.Tag == "password" && empty) {
			e.RemoveChild(ch)
			continue
		}
		ch.RemoveAttr("href")
	}
	c.Indent(2)
	s, _ := c.WriteToString()
	return strings.TrimSpace(s)
}

// memberships are the collections whose POST adds a reference.
var memberships = []string{"/users/{u}/roles", "/users/{u}/groups", "/groups/{g}/roles", "/groups/{g}/users",
	"/default-roles"}

// createBody is a POST body to start from for the collection at route
// path p with root element root (SPEC §3 "Request bodies, exactly").
func createBody(p string, root *etree.Element) string {
	item := singular(root.Tag)
	for _, m := range memberships {
		if strings.HasSuffix(p, m) {
			return "<" + item + ` identifier=""/>`
		}
	}
	switch root.Tag {
	case "accounts":
		return "<account>\n  <name></name>\n  <description></description>\n</account>"
	case "users":
		return "<user>\n  <name></name>\n  <password></password>\n  <email></email>\n  <full-name></full-name>\n  <enabled>true</enabled>\n</user>"
	case "roles", "groups":
		return "<" + item + ">\n  <name></name>\n  <description></description>\n</" + item + ">"
	case "attributes":
		return "<attribute>\n  <name></name>\n  <value></value>\n</attribute>"
	}
	// Otherwise the shape of an item shown, if any, emptied.
	if chs := root.ChildElements(); len(chs) > 0 {
		ch := chs[0]
		var b strings.Builder
		b.WriteString("<" + ch.Tag + ">\n")
		for _, f := range ch.ChildElements() {
			if f.SelectAttr("href") == nil && !slices.Contains([]string{"created", "last-used", "prefix", "secret"}, f.Tag) {
				b.WriteString("  <" + f.Tag + "></" + f.Tag + ">\n")
			}
		}
		b.WriteString("</" + ch.Tag + ">")
		return b.String()
	}
	return "<" + item + ">\n</" + item + ">"
}

func singular(s string) string {
	switch {
	case s == "default-roles":
		return "role"
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "s"):
		return strings.TrimSuffix(s, "s")
	}
	return s
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}
