package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/frame"
)

// retryStream is one call that may be retried. The request side (SendMsg,
// CloseSend) and the response side (Header, RecvMsg, Trailer) run on
// different goroutines, as grpc.ClientStream allows; mu guards what they
// share.
type retryStream struct {
	ctx      context.Context
	r        *retrier
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	mu        sync.Mutex
	cur       *attempt
	attempts  int
	req       []byte // the first request message, replayed on retries
	sent      int    // request messages sent
	closeSent bool
	committed bool // no more retries

	// Response side only.
	decided bool
	pending *frame.Frame // the first response message, held by the commit
	final   error        // the call's error when it ended before any message
}

type attempt struct {
	cs       grpc.ClientStream
	cancel   context.CancelFunc
	timer    *time.Timer
	timedOut atomic.Bool
}

func (a *attempt) stop() {
	if a.timer != nil {
		a.timer.Stop()
	}
}

// newAttempt opens the next attempt. Called with mu held, or before the
// stream is shared.
func (s *retryStream) newAttempt() (*attempt, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	if s.attempts > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, "grpc-previous-rpc-attempts", strconv.Itoa(s.attempts))
	}
	s.attempts++
	a := &attempt{cancel: cancel}
	if d := s.r.policy.PerTryTimeout; d > 0 {
		a.timer = time.AfterFunc(d, func() { a.timedOut.Store(true); cancel() })
	}
	cs, err := s.streamer(ctx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		a.stop()
		cancel()
		return nil, err
	}
	a.cs = cs
	return a, nil
}

func (s *retryStream) SendMsg(m any) error {
	s.mu.Lock()
	s.sent++
	switch f, ok := m.(*frame.Frame); {
	case s.committed:
	case s.sent == 1 && ok:
		s.req = f.Bytes() // before sending: sending hands the buffers over
	default:
		s.commitLocked()
	}
	retryable := !s.committed
	a := s.cur
	s.mu.Unlock()
	err := a.cs.SendMsg(m)
	if err != nil && retryable {
		// The attempt ended; its status reaches the response side, which
		// replays this message on the next attempt if it retries.
		if f, ok := m.(*frame.Frame); ok {
			f.Free()
		}
		return nil
	}
	return err
}

func (s *retryStream) CloseSend() error {
	s.mu.Lock()
	s.closeSent = true
	a := s.cur
	s.mu.Unlock()
	return a.cs.CloseSend()
}

func (s *retryStream) commitLocked() {
	s.committed = true
	s.req = nil
}

// decide runs attempts until one commits: it delivers a response message,
// ends with a status not worth retrying, or retries run out.
func (s *retryStream) decide() {
	if s.decided {
		return
	}
	s.decided = true
	for {
		s.mu.Lock()
		a := s.cur
		s.mu.Unlock()
		f := new(frame.Frame)
		err := a.cs.RecvMsg(f)
		if err == nil {
			s.finish(a, f, nil)
			return
		}
		f.Free()
		if errors.Is(err, io.EOF) {
			s.finish(a, nil, io.EOF)
			return
		}
		delay, ok := s.retryAfter(a, err)
		if !ok {
			s.finish(a, nil, s.attemptError(a, err))
			return
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			s.finish(a, nil, status.FromContextError(s.ctx.Err()).Err())
			return
		}
		s.mu.Lock()
		if s.committed { // a second request message came meanwhile
			s.mu.Unlock()
			s.finish(a, nil, s.attemptError(a, err))
			return
		}
		next, nerr := s.newAttempt()
		if nerr == nil {
			nerr = s.replayLocked(next)
		}
		if nerr != nil {
			s.commitLocked()
			s.mu.Unlock()
			s.finish(a, nil, nerr)
			return
		}
		s.cur = next
		s.mu.Unlock()
		a.stop()
		a.cancel()
	}
}

// replayLocked sends what the client sent so far to a new attempt.
func (s *retryStream) replayLocked(a *attempt) error {
	if s.req != nil {
		if err := a.cs.SendMsg(frame.FromBytes(bytes.Clone(s.req))); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if s.closeSent {
		return a.cs.CloseSend()
	}
	return nil
}

// finish commits the call to attempt a, with its first message f or its
// final error.
func (s *retryStream) finish(a *attempt, f *frame.Frame, err error) {
	s.mu.Lock()
	s.commitLocked()
	s.mu.Unlock()
	a.stop()
	s.pending, s.final = f, err
	if err == nil || errors.Is(err, io.EOF) || !s.r.codes[status.Code(err)] {
		s.r.budget.success()
	}
}

// retryAfter decides whether attempt a, which ended with err, is retried,
// and after how long.
func (s *retryStream) retryAfter(a *attempt, err error) (time.Duration, bool) {
	perTry := a.timedOut.Load() && s.ctx.Err() == nil
	if !perTry && !s.r.codes[status.Code(err)] {
		return 0, false
	}
	if !s.r.budget.failure() || s.ctx.Err() != nil {
		return 0, false
	}
	s.mu.Lock()
	committed, n := s.committed, s.attempts
	s.mu.Unlock()
	if committed || n >= s.r.policy.MaxAttempts {
		return 0, false
	}
	p := s.r.policy
	var delay time.Duration
	if v := a.cs.Trailer().Get("grpc-retry-pushback-ms"); len(v) > 0 {
		ms, perr := strconv.Atoi(v[0])
		if perr != nil || ms < 0 {
			return 0, false // the upstream asks not to be retried
		}
		delay = time.Duration(ms) * time.Millisecond
	} else {
		ceiling := float64(p.InitialBackoff) * math.Pow(p.BackoffMultiplier, float64(n-1))
		ceiling = min(ceiling, float64(p.MaxBackoff))
		delay = time.Duration(rand.Float64() * ceiling)
	}
	if dl, ok := s.ctx.Deadline(); ok && time.Until(dl) <= delay {
		return 0, false // the retry would not start before the caller gives up
	}
	return delay, true
}

func (s *retryStream) attemptError(a *attempt, err error) error {
	if a.timedOut.Load() && s.ctx.Err() == nil {
		return status.Errorf(codes.DeadlineExceeded, "upstream attempt exceeded the per-try timeout of %s", s.r.policy.PerTryTimeout)
	}
	return err
}

func (s *retryStream) Header() (metadata.MD, error) {
	s.decide()
	return s.cur.cs.Header()
}

func (s *retryStream) RecvMsg(m any) error {
	s.decide()
	if f := s.pending; f != nil {
		s.pending = nil
		if dst, ok := m.(*frame.Frame); ok {
			dst.Free()
			*dst = *f
			return nil
		}
		f.Free()
		return status.Errorf(codes.Internal, "retry: cannot deliver a frame into %T", m)
	}
	if s.final != nil {
		return s.final
	}
	return s.cur.cs.RecvMsg(m)
}

func (s *retryStream) Trailer() metadata.MD {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	return a.cs.Trailer()
}

func (s *retryStream) Context() context.Context {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	return a.cs.Context()
}
