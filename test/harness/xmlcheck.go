package harness

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse/schema"
)

// Every XML document a test receives through Do, and every XML body it
// sends that the server accepts (2xx), is collected for its test and
// validated against the API's XML Schema (package schema) when the test
// ends: one xmllint run per test, not per document. A document that does
// not validate fails the test with xmllint's message and the document.
// Refused bodies are not checked (tests send malformed ones on purpose),
// nor documents in a foreign namespace (SAML metadata, the schema files
// themselves): the schema describes gatehouse's own documents and
// problem documents only.

// problemNS is the namespace of problem documents.
const problemNS = "urn:ietf:rfc:7807"

// maxPerRun bounds the files one xmllint run takes (argument length).
const maxPerRun = 2000

// xmlDocs are the documents one test collected.
type xmlDocs struct {
	mu   sync.Mutex
	seen map[[32]byte]bool
	docs []xmlDoc
}

type xmlDoc struct {
	what string // e.g. "response to GET /auth/v2/accounts (200)"
	body []byte
}

var (
	collectorsMu sync.Mutex
	collectors   = map[testing.TB]*xmlDocs{}
)

// xmlCollector is t's collector, created (with its validation at the
// end of t) by the first server t starts.
func xmlCollector(t testing.TB) *xmlDocs {
	collectorsMu.Lock()
	defer collectorsMu.Unlock()
	if c := collectors[t]; c != nil {
		return c
	}
	c := &xmlDocs{seen: map[[32]byte]bool{}}
	collectors[t] = c
	t.Cleanup(func() {
		collectorsMu.Lock()
		delete(collectors, t)
		collectorsMu.Unlock()
		c.validate(t)
	})
	return c
}

// add collects one document, once per distinct content.
func (c *xmlDocs) add(what string, body []byte) {
	if c == nil || len(bytes.TrimSpace(body)) == 0 {
		return
	}
	sum := sha256.Sum256(body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[sum] {
		return
	}
	c.seen[sum] = true
	c.docs = append(c.docs, xmlDoc{what: what, body: bytes.Clone(body)})
}

// isXML reports whether a Content-Type names an XML media type.
func isXML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
}

// ownNamespace reports whether a document's root is one the schema
// describes (no namespace, or problem documents); a document that did
// not parse (nil root) counts, so xmllint reports it.
func ownNamespace(r *Response) bool {
	root := r.Root()
	if root == nil {
		return true
	}
	ns := root.NamespaceURI()
	return ns == "" || ns == problemNS
}

// validate runs xmllint over every collected document.
func (c *xmlDocs) validate(t testing.TB) {
	c.mu.Lock()
	docs := c.docs
	c.docs = nil
	c.mu.Unlock()
	if len(docs) == 0 {
		return
	}
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Errorf("validating %d XML documents: xmllint not found: install libxml2-utils (apt-get install libxml2-utils)", len(docs))
		return
	}
	dir, err := os.MkdirTemp("", "gatehouse-xml-")
	if err != nil {
		t.Errorf("validating XML documents: %v", err)
		return
	}
	defer os.RemoveAll(dir)
	xsd, err := schema.WriteDir(dir)
	if err != nil {
		t.Errorf("validating XML documents: writing the schema: %v", err)
		return
	}
	files := make([]string, len(docs))
	for i, d := range docs {
		files[i] = filepath.Join(dir, fmt.Sprintf("doc%05d.xml", i))
		if err := os.WriteFile(files[i], d.body, 0o600); err != nil {
			t.Errorf("validating XML documents: %v", err)
			return
		}
	}
	for start := 0; start < len(files); start += maxPerRun {
		end := min(start+maxPerRun, len(files))
		args := append([]string{"--noout", "--nonet", "--schema", xsd}, files[start:end]...)
		out, err := exec.Command(lint, args...).CombinedOutput()
		if err == nil {
			continue
		}
		reported := false
		for i := start; i < end; i++ {
			if msg := messagesFor(string(out), files[i]); msg != "" {
				reported = true
				t.Errorf("XML document does not validate against the schema (%s):\n%s\ndocument:\n%s",
					docs[i].what, strings.ReplaceAll(msg, dir+string(filepath.Separator), ""), clip(docs[i].body))
			}
		}
		if !reported {
			t.Errorf("xmllint failed: %v\n%s", err, out)
		}
	}
}

// messagesFor picks xmllint's lines about file (all but "validates").
func messagesFor(out, file string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, file+":") && !strings.HasPrefix(line, file+" ") {
			continue
		}
		if line == file+" validates" {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// clip shortens a long document for a failure message.
func clip(b []byte) string {
	const limit = 8 << 10
	if len(b) <= limit {
		return string(b)
	}
	return string(b[:limit]) + fmt.Sprintf("\n… (%d more bytes)", len(b)-limit)
}
