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
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one kind of request driven in a closed loop.
type scenario struct {
	name string
	addr string // host:port
	// path appends the request path (with query) for one request.
	path func(b []byte, r *rand.Rand) []byte
	auth string // Authorization header value, "" for none
	// body, when set, appends an XML body: the request is then a POST.
	body func(b []byte, r *rand.Rand) []byte
	// ok says whether a status counts as success.
	ok   func(status int) bool
	note string
}

// result is one scenario's measurement.
type result struct {
	scenario  string
	n         int
	conns     int
	requests  int
	errors    int
	elapsed   time.Duration
	p50, p99  time.Duration
	rssKiB    int64
	heap      uint64        // Go heap in use after GC, bytes
	cores     float64       // CPU time this process used / wall time (of the machine's cores)
	cpuPerReq time.Duration // CPU time this process used per request (server + etcd + client)
	load1     float64       // machine load average at the end
	note      string
	firstErr  string
}

func (r result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// driver runs scenarios with a fixed number of connections, reusing its
// latency buffers (preallocated once) across scenarios.
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
// status, having read the whole body.
type doer interface {
	do(path, body []byte) (int, error)
	close()
}

// run drives sc for warmup (not recorded) then duration, with d.conns
// workers each looping request → full response → next request.
func (d *driver) run(sc scenario, warmup, duration time.Duration) result {
	var recording, stop atomic.Bool
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
				c = newHTTPDoer(tr, sc.addr, sc.auth)
			} else {
				c = newRawDoer(sc.addr, sc.auth, d.timeout)
			}
			defer c.close()
			ready.Done()
			lat := d.lat[w]
			buf := make([]byte, 0, 256)
			var body []byte
			for !stop.Load() {
				buf = sc.path(buf[:0], rng)
				if sc.body != nil {
					body = sc.body(body[:0], rng)
				}
				t0 := time.Now()
				status, err := c.do(buf, body)
				el := time.Since(t0)
				if !recording.Load() {
					continue
				}
				if err == nil && !sc.ok(status) {
					err = fmt.Errorf("status %d for %s", status, buf)
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
	cpu0 := processCPU()
	recording.Store(true)
	start := time.Now()
	time.Sleep(duration)
	recording.Store(false)
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	stop.Store(true)
	wg.Wait()

	d.merged = d.merged[:0]
	for _, l := range d.lat {
		d.merged = append(d.merged, l...)
	}
	slices.Sort(d.merged)
	res := result{scenario: sc.name, conns: d.conns, requests: len(d.merged), errors: int(errs.Load()),
		elapsed: elapsed, note: sc.note}
	res.cores = cpu.Seconds() / elapsed.Seconds()
	if n := res.requests + res.errors; n > 0 {
		res.cpuPerReq = cpu / time.Duration(n)
	}
	res.p50 = quantile(d.merged, 0.50)
	res.p99 = quantile(d.merged, 0.99)
	if s, ok := firstErr.Load().(string); ok {
		res.firstErr = s
	}
	return res
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
	addr, auth string
	timeout    time.Duration
	conn       net.Conn
	br         *bufio.Reader
	wbuf       []byte
}

func newRawDoer(addr, auth string, timeout time.Duration) *rawDoer {
	return &rawDoer{addr: addr, auth: auth, timeout: timeout, wbuf: make([]byte, 0, 512)}
}

func (c *rawDoer) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawDoer) do(path, body []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 32<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	status, keep, err := c.roundTrip(path, body)
	if err != nil || !keep {
		c.close()
	}
	return status, err
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
		b = append(b, "Content-Type: application/xml\r\nContent-Length: "...)
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
			if _, err := c.br.Discard(int(size) + 2); err != nil {
				return status, false, err
			}
			if size == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := c.br.Discard(length); err != nil {
			return status, false, err
		}
	default:
		_, _ = io.Copy(io.Discard, c.br)
		keep = false
	}
	return status, keep, nil
}

func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}

// httpDoer uses net/http's client (more client CPU per request).
type httpDoer struct {
	client *http.Client
	base   string
	auth   string
}

func newHTTPDoer(tr *http.Transport, addr, auth string) *httpDoer {
	return &httpDoer{client: &http.Client{Transport: tr}, base: "http://" + addr, auth: auth}
}

func (c *httpDoer) close() {}

func (c *httpDoer) do(path, body []byte) (int, error) {
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+string(path), rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/xml")
	}
	if err != nil {
		return 0, err
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Accept", "application/xml")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
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

var errNoCount = errors.New("no count attribute on the root element")
