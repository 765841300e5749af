package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// UpstreamState is one upstream's connectivity, as
// sluice_upstream_connectivity_state reports it.
type UpstreamState struct {
	Name string
	// State is grpc-go's connectivity state: IDLE, CONNECTING, READY,
	// TRANSIENT_FAILURE or SHUTDOWN.
	State string
}

// connectivityStates are the states sluice_upstream_connectivity_state
// reports, one series each per upstream (1 for the current one), as
// grpc-go names them.
var connectivityStates = [...]string{"IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN"}

var upstreamStateDesc = prometheus.NewDesc(
	"sluice_upstream_connectivity_state",
	"The connectivity of each upstream's connection: 1 for its current state, 0 for the others.",
	[]string{"upstream", "state"}, nil)

// upstreamStates reads the upstreams' connectivity at every scrape.
type upstreamStates struct {
	f func() []UpstreamState
}

func (u *upstreamStates) Describe(ch chan<- *prometheus.Desc) { ch <- upstreamStateDesc }

func (u *upstreamStates) Collect(ch chan<- prometheus.Metric) {
	for _, s := range u.f() {
		cur := strings.ToUpper(s.State)
		for _, st := range connectivityStates {
			v := 0.0
			if st == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(upstreamStateDesc, prometheus.GaugeValue, v, s.Name, st)
		}
	}
}
