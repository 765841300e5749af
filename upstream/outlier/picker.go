package outlier

import (
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// endpoint is the failure record of one SubConn (one upstream address).
// Its fields are guarded by the balancer's mu.
type endpoint struct {
	// done records a call's final status under the balancer's current
	// config; built once so that picks do not allocate a closure.
	done func(balancer.DoneInfo)

	consecutive  int
	ejections    int
	ejectedUntil time.Time
}

func newEndpoint(b *outlierBalancer) *endpoint {
	e := &endpoint{}
	e.done = func(di balancer.DoneInfo) {
		if c := b.cfg.Load(); c != nil {
			b.record(e, di.Err, c)
		}
	}
	return e
}

// record counts a call's outcome against e, and ejects e after a run of
// failures while fewer than the configured share of addresses are ejected.
func (b *outlierBalancer) record(e *endpoint, err error, cfg *lbConfig) {
	code := status.Code(err)
	if code == codes.Canceled {
		return // the caller gave up: nothing learned about the upstream
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !cfg.failures[code] {
		e.consecutive = 0
		if !now.Before(e.ejectedUntil) {
			e.ejections = 0
		}
		return
	}
	e.consecutive++
	if e.consecutive < cfg.ConsecutiveFailures || now.Before(e.ejectedUntil) {
		return
	}
	// As grpc-go's outlier detection: eject only while the ejected share
	// is below the cap, so one address always may be.
	if b.ejectedLocked(now)*100 >= cfg.MaxEjectionPercent*len(b.endpoints) {
		return
	}
	e.consecutive = 0
	e.ejections++
	d := min(time.Duration(e.ejections)*cfg.base, cfg.maxEject)
	e.ejectedUntil = now.Add(d)
	if ejections != nil {
		ejections.Record(b.cc.MetricsRecorder(), 1)
	}
}

// picker asks the child's picker, passing over ejected addresses, and
// feeds each call's final status back to its address's record.
type picker struct {
	child balancer.Picker
	b     *outlierBalancer
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	cfg := p.b.cfg.Load()
	now := time.Now()
	var tries int
	for {
		res, err := p.child.Pick(info)
		if err != nil {
			return res, err
		}
		ep, ejected, n := p.b.pickable(res.SubConn, now)
		if ep == nil || cfg == nil {
			return res, nil
		}
		if !ejected {
			if done := res.Done; done != nil {
				res.Done = func(di balancer.DoneInfo) {
					ep.done(di)
					done(di)
				}
			} else {
				res.Done = ep.done // round_robin and pick_first set no Done
			}
			return res, nil
		}
		if res.Done != nil {
			res.Done(balancer.DoneInfo{})
		}
		// The child rotates over its ready addresses: once it has offered
		// as many as there are, every one of them is ejected.
		if tries++; tries >= n {
			return balancer.PickResult{}, status.Error(codes.Unavailable, "every address of the upstream is ejected after consecutive failures")
		}
	}
}
