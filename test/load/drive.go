package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one kind of request driven in a closed loop. It is plain
// data: the parent process builds it and sends it, as JSON, to the client
// process, which builds the requests from it.
type scenario struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // host:port
	// Path is the request path (with query); with RandomUser it is the
	// prefix before a random seeded user's name, followed by Suffix.
	Path       string `json:"path"`
	RandomUser bool   `json:"randomUser,omitempty"`
	Suffix     string `json:"suffix,omitempty"`
	N          int    `json:"n,omitempty"` // users to pick from
	// Questions > 0 makes the request a POST /auth/v2/check-style body of
	// that many questions about random users.
	Questions int `json:"questions,omitempty"`
	// Body, when set, makes every request a POST of this fixed body (an
	// OAuth form), sent with ContentType (empty: application/xml, as the
	// check body).
	Body        string `json:"body,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// Chain, when set, names a JSON string field of the response (e.g.
	// refresh_token) whose value replaces ChainMark in the next request's
	// Body on the same connection: a rotated token is used once, as a
	// client does. Seeds are the first values, one per connection.
	Chain string   `json:"chain,omitempty"`
	Seeds []string `json:"seeds,omitempty"`
	// Seq > 0 replaces seqMark in Body with a number below Seq that
	// walks the range without repeats across connections: connection w
	// of c sends w, w+c, w+2c, … (mod Seq), so that Seq requests name Seq
	// different users (the sign-in scenario: no credential cache hits).
	Seq  int    `json:"seq,omitempty"`
	Auth string `json:"auth,omitempty"` // Authorization header value, "" for none
	// OK lists the statuses that count as success (empty: 200 only).
	OK []int `json:"ok,omitempty"`
	// Expect, when set, must occur in the body of a successful response
	// (the client then keeps each body instead of discarding it).
	Expect string `json:"expect,omitempty"`
	note   string // for the table only
	// prepare, when set, is called in the server process right before the
	// scenario runs: e.g. to issue a token that must not expire before
	// its turn comes.
	prepare  func(*scenario) error
	external bool // served by another process than the server: no server figures
	// local, when set, is run in the server process instead of the
	// client process (a measurement that is not an HTTP request, such
	// as the bare argon2id rate).
	local func(warmup, duration time.Duration) driveResult
}

// path appends the request path (with query) for one request.
func (sc *scenario) path(b []byte, r *rand.Rand) []byte {
	b = append(b, sc.Path...)
	if sc.RandomUser {
		b = appendUserName(b, r.IntN(max(1, sc.N)))
		b = append(b, sc.Suffix...)
	}
	return b
}

// body appends the body of a POST (the fixed Body or a check of
// Questions questions), or returns nil for a GET.
func (sc *scenario) body(b []byte, r *rand.Rand) []byte {
	if sc.Body != "" {
		return append(b, sc.Body...)
	}
	if sc.Questions <= 0 {
		return nil
	}
	b = append(b, "<check>"...)
	for range sc.Questions {
		b = append(b, "<question><principal>load\\"...)
		b = appendUserName(b, r.IntN(max(1, sc.N)))
		b = append(b, "</principal><permission>"+readerPerm+"</permission></question>"...)
	}
	return append(b, "</check>"...)
}

// contentType is the Content-Type of the scenario's POST bodies.
func (sc *scenario) contentType() string {
	if sc.ContentType != "" {
		return sc.ContentType
	}
	return "application/xml"
}

func (sc *scenario) ok(status int) bool {
	if len(sc.OK) == 0 {
		return status == 200
	}
	return slices.Contains(sc.OK, status)
}

// result is one scenario's measurement.
type result struct {
	scenario       string
	round          int  // 1 … -repeat
	external       bool // served by a process of its own: the server columns do not apply
	n              int
	conns          int
	requests       int
	errors         int
	elapsed        time.Duration
	p50, p99, p999 time.Duration
	max            time.Duration
	rssKiB         int64
	live           uint64        // Go live heap after a forced GC at the end of the scenario, bytes
	cores          float64       // CPU time the server process used / wall time (of the machine's cores)
	cpuPerReq      time.Duration // CPU time the server process used per request (gatehouse + etcd)
	clientCPU      time.Duration // CPU time the client process used per request
	clientGCs      uint32        // GC cycles of the client process while recording
	gc             gcDelta       // the server process's GC while recording
	load1          float64       // machine load average at the end
	note           string
	firstErr       string
}

func (r result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// driver runs scenarios with a fixed number of connections, reusing its
// latency buffers (preallocated once) across scenarios. It runs in the
// client process.
type driver struct {
	conns   int
	client  string // "raw" or "nethttp"
	timeout time.Duration
	lat     [][]time.Duration // per worker
	merged  []time.Duration
}

func newDriver(conns int, perWorker int, client string, timeout time.Duration) *driver {
	d := &driver{conns: conns, client: client, timeout: timeout}
	d.lat = make([][]time.Duration, conns)
	for i := range d.lat {
		d.lat[i] = make([]time.Duration, 0, perWorker)
	}
	d.merged = make([]time.Duration, 0, conns*perWorker)
	return d
}

// doer performs one request on a keep-alive connection and returns the
// status, having read the whole body. When its scenario has an Expect it
// also returns the response body (valid until the next call), else nil.
type doer interface {
	do(path, body []byte) (int, []byte, error)
	close()
}

// driveResult is what the client process reports for one scenario.
type driveResult struct {
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	Elapsed  time.Duration `json:"elapsed"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	P999     time.Duration `json:"p999"`
	Max      time.Duration `json:"max"`
	CPU      time.Duration `json:"cpu"` // client process CPU while recording
	GCs      uint32        `json:"gcs"` // client process GC cycles while recording
	FirstErr string        `json:"firstErr,omitempty"`
}

// run drives sc for warmup (not recorded) then duration, with d.conns
// workers each looping request → full response → next request. It calls
// recording when the measured window opens and stopped when it closes
// (before the workers have finished their last requests).
func (d *driver) run(sc scenario, warmup, duration time.Duration, recording, stopped func()) driveResult {
	var rec, stop atomic.Bool
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	var tr *http.Transport
	if d.client == "nethttp" {
		tr = &http.Transport{MaxIdleConnsPerHost: d.conns, MaxConnsPerHost: d.conns, DisableCompression: true,
			ResponseHeaderTimeout: d.timeout}
		defer tr.CloseIdleConnections()
	}
	for w := 0; w < d.conns; w++ {
		d.lat[w] = d.lat[w][:0]
		wg.Add(1)
		ready.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, uint64(time.Now().UnixNano())))
			var c doer
			if tr != nil {
				c = newHTTPDoer(tr, &sc)
			} else {
				c = newRawDoer(&sc, d.timeout)
			}
			defer c.close()
			ready.Done()
			lat := d.lat[w]
			buf := make([]byte, 0, 256)
			var body []byte
			expect := []byte(sc.Expect)
			var link string // the chained value this connection sends next
			seq := w
			var seqBuf []byte
			if sc.Chain != "" && w < len(sc.Seeds) {
				link = sc.Seeds[w]
			}
			for !stop.Load() {
				buf = sc.path(buf[:0], rng)
				body = sc.body(body[:0], rng)
				if sc.Chain != "" {
					body = bytes.Replace(body, []byte(chainMark), []byte(link), 1)
				}
				if sc.Seq > 0 {
					seqBuf = appendSeq(seqBuf[:0], seq%sc.Seq)
					body = bytes.Replace(body, []byte(seqMark), seqBuf, 1)
					seq += d.conns
				}
				t0 := time.Now()
				status, resp, err := c.do(buf, body)
				el := time.Since(t0)
				if sc.Chain != "" && err == nil && status == 200 {
					if v, ok := jsonString(resp, sc.Chain); ok {
						link = v
					}
				}
				if !rec.Load() {
					continue
				}
				if err == nil && !sc.ok(status) {
					err = fmt.Errorf("status %d for %s", status, buf)
				}
				if err == nil && len(expect) > 0 && !bytes.Contains(resp, expect) {
					err = fmt.Errorf("status %d for %s without %s in the body: %.200q", status, buf, expect, resp)
				}
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				lat = append(lat, el)
			}
			d.lat[w] = lat
		}(w)
	}
	ready.Wait()
	time.Sleep(warmup)
	gc0 := gcCycles()
	cpu0 := processCPU()
	rec.Store(true)
	start := time.Now()
	if recording != nil {
		recording()
	}
	time.Sleep(duration)
	rec.Store(false)
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	gcs := gcCycles() - gc0
	if stopped != nil {
		stopped()
	}
	stop.Store(true)
	wg.Wait()

	d.merged = d.merged[:0]
	for _, l := range d.lat {
		d.merged = append(d.merged, l...)
	}
	slices.Sort(d.merged)
	res := driveResult{Requests: len(d.merged), Errors: int(errs.Load()), Elapsed: elapsed, CPU: cpu, GCs: uint32(gcs)}
	res.P50 = quantile(d.merged, 0.50)
	res.P99 = quantile(d.merged, 0.99)
	res.P999 = quantile(d.merged, 0.999)
	if len(d.merged) > 0 {
		res.Max = d.merged[len(d.merged)-1]
	}
	if s, ok := firstErr.Load().(string); ok {
		res.FirstErr = s
	}
	return res
}

// chainMark is the placeholder of a chained value in a scenario's Body.
const chainMark = "{chain}"

// seqMark is the placeholder of a sequence number in a scenario's Body.
const seqMark = "{seq}"

// appendSeq appends i as six digits (the suffix of signinName).
func appendSeq(b []byte, i int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(i), 10)
	for k := len(s); k < 6; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// jsonString returns the value of the string field name of the JSON
// object b (a token endpoint answer: no escapes in the values sought).
func jsonString(b []byte, name string) (string, bool) {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(b, key)
	if i < 0 {
		return "", false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// quantile is the nearest-rank q-quantile of sorted s.
func quantile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// rawDoer speaks HTTP/1.1 over one keep-alive TCP connection with
// precomputed headers: the cheapest client Go offers, closest to wrk.
type rawDoer struct {
	addr, auth, ctype string
	timeout           time.Duration
	conn              net.Conn
	br                *bufio.Reader
	wbuf              []byte
	keepBody          bool   // keep each response body in rbuf (the scenario inspects it)
	rbuf              []byte // the last response body, with keepBody
}

func newRawDoer(sc *scenario, timeout time.Duration) *rawDoer {
	return &rawDoer{addr: sc.Addr, auth: sc.Auth, ctype: sc.contentType(), timeout: timeout,
		wbuf: make([]byte, 0, 512), keepBody: sc.Expect != ""}
}

func (c *rawDoer) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawDoer) do(path, body []byte) (int, []byte, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return 0, nil, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 32<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	c.rbuf = c.rbuf[:0]
	status, keep, err := c.roundTrip(path, body)
	if err != nil || !keep {
		c.close()
	}
	if !c.keepBody {
		return status, nil, err
	}
	return status, c.rbuf, err
}

// readBody reads the next n bytes of the response: into rbuf with
// keepBody, else discarded.
func (c *rawDoer) readBody(n int) error {
	if !c.keepBody {
		_, err := c.br.Discard(n)
		return err
	}
	l := len(c.rbuf)
	c.rbuf = slices.Grow(c.rbuf, n)[:l+n]
	_, err := io.ReadFull(c.br, c.rbuf[l:])
	return err
}

var (
	hdrContentLength    = []byte("content-length:")
	hdrTransferEncoding = []byte("transfer-encoding:")
	hdrConnection       = []byte("connection:")
)

func (c *rawDoer) roundTrip(path, body []byte) (status int, keep bool, err error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	b := c.wbuf[:0]
	if body != nil {
		b = append(b, "POST "...)
	} else {
		b = append(b, "GET "...)
	}
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	b = append(b, "\r\nUser-Agent: gatehouse-load\r\nAccept: application/xml\r\n"...)
	if c.auth != "" {
		b = append(b, "Authorization: "...)
		b = append(b, c.auth...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: "...)
		b = append(b, c.ctype...)
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.wbuf = b
	if _, err := c.conn.Write(b); err != nil {
		return 0, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		switch {
		case hasPrefixFold(line, hdrContentLength):
			length, err = strconv.Atoi(string(bytes.TrimSpace(line[len(hdrContentLength):])))
			if err != nil {
				return status, false, fmt.Errorf("bad Content-Length %q", line)
			}
		case hasPrefixFold(line, hdrTransferEncoding):
			chunked = bytes.Contains(bytes.ToLower(line), []byte("chunked"))
		case hasPrefixFold(line, hdrConnection):
			if bytes.Contains(bytes.ToLower(line), []byte("close")) {
				keep = false
			}
		}
	}
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified:
	case chunked:
		for {
			line, err := c.br.ReadSlice('\n')
			if err != nil {
				return status, false, err
			}
			line = bytes.TrimRight(line, "\r\n")
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			size, err := strconv.ParseInt(string(line), 16, 64)
			if err != nil {
				return status, false, fmt.Errorf("bad chunk size %q", line)
			}
			if err := c.readBody(int(size)); err != nil {
				return status, false, err
			}
			if _, err := c.br.Discard(2); err != nil {
				return status, false, err
			}
			if size == 0 {
				break
			}
		}
	case length >= 0:
		if err := c.readBody(length); err != nil {
			return status, false, err
		}
	default:
		if c.keepBody {
			c.rbuf, _ = readAppend(c.rbuf, c.br)
		} else {
			_, _ = io.Copy(io.Discard, c.br)
		}
		keep = false
	}
	return status, keep, nil
}

func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}

// readAppend appends everything r yields to b.
func readAppend(b []byte, r io.Reader) ([]byte, error) {
	for {
		b = slices.Grow(b, 512)
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return b, err
		}
	}
}

// httpDoer uses net/http's client (more client CPU per request).
type httpDoer struct {
	client   *http.Client
	base     string
	auth     string
	ctype    string
	keepBody bool
	rbuf     []byte
}

func newHTTPDoer(tr *http.Transport, sc *scenario) *httpDoer {
	return &httpDoer{client: &http.Client{Transport: tr}, base: "http://" + sc.Addr, auth: sc.Auth,
		ctype: sc.contentType(), keepBody: sc.Expect != ""}
}

func (c *httpDoer) close() {}

func (c *httpDoer) do(path, body []byte) (int, []byte, error) {
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+string(path), rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Accept", "application/xml")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	if c.keepBody {
		c.rbuf, err = readAppend(c.rbuf[:0], resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	if !c.keepBody {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, c.rbuf, err
}

// get performs one request with a fresh raw connection and returns the
// status and body (for probes).
func get(addr, auth, path string, timeout time.Duration) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// post performs one POST of body (Content-Type ctype) with a fresh
// connection and returns the status and the response body (for setup).
func post(addr, auth, path, ctype, body string, timeout time.Duration) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var errNoCount = errors.New("no count attribute on the root element")
