package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/google/uuid"

	"crmbridge/bridge/upstream"
	"crmbridge/bridge/upstream/internal/memqueue"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

const benchEntries = 10000

// BenchmarkPush pushes 10,000 contact creates to the Go test server, and to
// the CAP server when CRMBRIDGE_CAP_URL is set, at batch sizes 1, 100 and
// 1000, and reports entries per second. Run with -benchtime=1x.
func BenchmarkPush(b *testing.B) {
	targets := []string{"fake"}
	if os.Getenv("CRMBRIDGE_CAP_URL") != "" {
		targets = append(targets, "cap")
	}
	for _, target := range targets {
		for _, batch := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", target, batch), func(b *testing.B) {
				var c *upstream.Client
				var srv *fakeserver.Server
				if target == "cap" {
					c = capClient(b, batch, &http.Client{})
				} else {
					e := newEnv(b, fakeserver.Dataverse, func(c *upstream.Config, _ *fakeserver.Server) { c.BatchSize = batch })
					c, srv = e.client, e.srv
				}
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					q := memqueue.New()
					for j := 0; j < benchEntries; j++ {
						q.Add(crm.Contact, uuid.NewString(), upstream.OpCreate, map[string]string{
							"firstname": "Jeff", "lastname": fmt.Sprintf("Skilling %d", j),
							"emailaddress1": fmt.Sprintf("jeff%d@enron.example", j), "jobtitle": "CEO"}, nil)
					}
					b.StartTimer()
					st, err := c.Push(context.Background(), q, upstream.PushOptions{})
					if err != nil || st.Confirmed != benchEntries {
						b.Fatalf("push: %v, %+v", err, st)
					}
				}
				b.ReportMetric(float64(benchEntries*b.N)/b.Elapsed().Seconds(), "entries/s")
				if srv != nil && len(srv.Violations()) > 0 {
					b.Fatalf("violations: %v", srv.Violations()[:1])
				}
			})
		}
	}
}
