// Package harness starts gatehouse instances for end-to-end tests and
// speaks HTTP to them. It is the one place tests start gatehouse from.
package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"gatehouse/conf"
	"gatehouse/instance"
	"gatehouse/storage/storagetest"
)

// AdminPassword is the bootstrap admin's password in every test instance.
const AdminPassword = "admin-password-1"

// Server is a running gatehouse under test.
type Server struct {
	*instance.Instance
	t      testing.TB
	Client *http.Client
	Config conf.Config
	// xml collects the test's XML documents for validation (xmlcheck.go).
	xml *xmlDocs
}

// Config returns the test configuration: loopback on a free port, data
// in a temporary directory, the known admin password, quiet logs.
func Config(t testing.TB) conf.Config {
	cfg := conf.Defaults()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Storage.DataDir = t.TempDir()
	cfg.Admin.Password = AdminPassword
	return cfg
}

// Start runs gatehouse on its own embedded etcd.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Config(t))
}

// StartOn runs gatehouse on the external etcd at endpoint.
func StartOn(t testing.TB, endpoint string) *Server {
	t.Helper()
	cfg := Config(t)
	cfg.Storage.Etcd.Endpoints = []string{endpoint}
	return StartWith(t, cfg)
}

// StartWith runs gatehouse with cfg; it is stopped when the test ends
// (or earlier with Stop).
func StartWith(t testing.TB, cfg conf.Config) *Server {
	t.Helper()
	s, err := TryStart(t, cfg)
	if err != nil {
		t.Fatalf("start gatehouse: %v", err)
	}
	return s
}

// TryStart is StartWith that returns the start-up error.
func TryStart(t testing.TB, cfg conf.Config, opts ...instance.Option) (*Server, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in, err := instance.Start(ctx, cfg, log, io.Discard, opts...)
	if err != nil {
		return nil, err
	}
	s := &Server{Instance: in, t: t, Config: cfg, xml: xmlCollector(t),
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(in.Close)
	return s, nil
}

// Etcd starts an external etcd for instances to share.
func Etcd(t testing.TB) string { return storagetest.Etcd(t) }

// Response is an HTTP answer with its body read and, for XML, parsed.
type Response struct {
	Status int
	Header http.Header
	Body   string
	Doc    *etree.Document // nil unless the body parsed as XML
}

// Root is the document's root element (nil if none).
func (r *Response) Root() *etree.Element {
	if r.Doc == nil {
		return nil
	}
	return r.Doc.Root()
}

// Request describes one call.
type Request struct {
	Method string
	Path   string // absolute path with query, e.g. /auth/v2/accounts?depth=2
	User   string // account\user; "" sends no credentials
	Pass   string
	Body   string
	// ContentType defaults to application/xml when Body is not empty.
	ContentType string
	Header      http.Header
}

// Do performs req.
func (s *Server) Do(req Request) *Response {
	s.t.Helper()
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hr, err := http.NewRequest(req.Method, s.URL()+req.Path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if req.Body != "" {
		ct := req.ContentType
		if ct == "" {
			ct = "application/xml"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if req.User != "" {
		hr.SetBasicAuth(req.User, req.Pass)
	}
	resp, err := s.Client.Do(hr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading body: %v", req.Method, req.Path, err)
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if len(b) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(b); err == nil {
			out.Doc = doc
		}
	}
	// Collected for validation against the XML Schema when the test ends:
	// XML answers, and XML bodies the server accepted.
	if len(b) > 0 && isXML(resp.Header.Get("Content-Type")) && ownNamespace(out) {
		s.xml.add(fmt.Sprintf("response to %s %s (%d)", req.Method, req.Path, resp.StatusCode), b)
	}
	if req.Body != "" && isXML(hr.Header.Get("Content-Type")) && resp.StatusCode/100 == 2 {
		s.xml.add(fmt.Sprintf("request body of %s %s (accepted with %d)", req.Method, req.Path, resp.StatusCode), []byte(req.Body))
	}
	return out
}

// Admin performs a request as system\admin.
func (s *Server) Admin(method, path, body string) *Response {
	s.t.Helper()
	return s.Do(Request{Method: method, Path: path, User: `system\admin`, Pass: AdminPassword, Body: body})
}

// As performs a request as the given principal.
func (s *Server) As(user, pass, method, path, body string) *Response {
	s.t.Helper()
	return s.Do(Request{Method: method, Path: path, User: user, Pass: pass, Body: body})
}

// Must fails the test unless r has status want, showing the body.
func (r *Response) Must(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body:\n%s", r.Status, want, r.Body)
	}
	return r
}
