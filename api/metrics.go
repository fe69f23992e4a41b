package api

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// newRequestMetrics registers the per-route request metrics on reg and
// returns the histogram the endpoints observe:
// gatehouse_http_request_duration_seconds{route,method,status} (route is
// the registered pattern, never the raw path; its status label predates
// the pinned counter's code and is kept for existing queries), and
// gatehouse_http_requests_total{route,method,code}, which is not counted
// on its own: it is read from the histogram's sample counts when
// scraped, so a request costs one observation (on a child the endpoint
// memoises) and no second counter.
func newRequestMetrics(reg prometheus.Registerer) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_http_request_duration_seconds",
		Help:    "Duration of requests by route pattern, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
	}, []string{"route", "method", "status"})
	reg.MustRegister(h, requestCounts{h: h, desc: prometheus.NewDesc("gatehouse_http_requests_total",
		"Requests by route pattern, method and status code.", []string{"route", "method", "code"}, nil)})
	return h
}

// requestCounts is gatehouse_http_requests_total, derived from the
// duration histogram at scrape time.
type requestCounts struct {
	h    *prometheus.HistogramVec
	desc *prometheus.Desc
}

func (c requestCounts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c requestCounts) Collect(ch chan<- prometheus.Metric) {
	ms := make(chan prometheus.Metric, 64)
	go func() {
		c.h.Collect(ms)
		close(ms)
	}()
	for m := range ms {
		var d dto.Metric
		if m.Write(&d) != nil || d.Histogram == nil {
			continue
		}
		var route, method, code string
		for _, l := range d.Label {
			switch l.GetName() {
			case "route":
				route = l.GetValue()
			case "method":
				method = l.GetValue()
			case "status":
				code = l.GetValue()
			}
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue,
			float64(d.Histogram.GetSampleCount()), route, method, code)
	}
}
