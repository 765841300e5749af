package protosource

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Watch polls the files the source reads every interval and calls changed
// with the path of a file that changed (was written, added or removed)
// since the last compilation (or since Watch started, if there was none)
// once the files have stopped changing for one interval, so a burst of
// saves (an editor's, a `git checkout`'s) makes one call. A change that
// goes on for longer than maxBurst intervals is reported anyway. Watch
// returns ctx's error when ctx ends; changed is called from Watch's
// goroutine, one call at a time.
//
// Polling, rather than file-system notifications, sees every file system
// the same way (network mounts, Kubernetes ConfigMaps that swap a
// symbolic link) and costs one stat per file per interval.
//
// Polls never take more than about 5% of a core: on a tree so large that
// one poll takes longer than interval/20, the wait between polls grows to
// 20 times the poll (the 7,243 files of Google's APIs take 80 to 180 ms a
// poll on a loaded 2-core machine, so one every 2 to 4 s).
func (s *Source) Watch(ctx context.Context, interval time.Duration, changed func(path string)) error {
	const pollShare = 20 // wait at least this many times a poll's duration
	start := time.Now()
	s.mu.Lock()
	base := s.seen
	s.mu.Unlock()
	if base == nil {
		base = s.state()
	}
	wait := max(interval, pollShare*time.Since(start))
	t := time.NewTimer(wait)
	defer t.Stop()
	var b burst
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		start := time.Now()
		now := s.state()
		took := time.Since(start)
		if p := b.poll(firstDiff(base, now)); p != "" {
			changed(p)
		}
		base = now
		t.Reset(max(interval, pollShare*took))
	}
}

// maxBurst is how many polls in a row may see changes before the first
// of them is reported anyway.
const maxBurst = 20

// burst coalesces the changes successive polls see: the first change
// starts a burst, which is reported (by the path that started it) at the
// first poll that sees none, or after maxBurst polls with changes.
type burst struct {
	pending string
	polls   int
}

// poll takes what one poll saw changed ("" for nothing) and returns the
// path to report now, or "".
func (b *burst) poll(changed string) string {
	if changed == "" && b.pending == "" {
		return ""
	}
	if changed != "" {
		if b.pending == "" {
			b.pending = changed
		}
		b.polls++
		if b.polls < maxBurst {
			return ""
		}
	}
	p := b.pending
	*b = burst{}
	return p
}

// fileStat is what a poll compares: modification time and size, without
// reading the file.
type fileStat struct {
	modTime time.Time
	size    int64
}

// state stats every file that can change what the source compiles: the
// .proto files and buf configuration under the roots and import paths,
// the files named, and the .proto files under the directories that
// patterns walk.
func (s *Source) state() map[string]fileStat {
	out := map[string]fileStat{}
	walk := func(dir string) {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if hidden(p, dir, d) {
				return filepath.SkipDir
			}
			if d.IsDir() {
				return nil
			}
			if n := d.Name(); strings.HasSuffix(n, ".proto") || n == "buf.yaml" || n == "buf.work.yaml" {
				statInto(out, p)
			}
			return nil
		})
	}
	for _, p := range s.cfg.paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			walk(p)
		} else {
			statInto(out, p)
		}
	}
	for _, d := range s.cfg.importPaths {
		walk(d)
	}
	for _, g := range s.cfg.globs {
		if !hasMeta(g) {
			statInto(out, g)
			continue
		}
		base, _ := globBase(g)
		walk(base)
	}
	return out
}

func statInto(m map[string]fileStat, p string) {
	if fi, err := os.Stat(p); err == nil {
		m[p] = fileStat{modTime: fi.ModTime(), size: fi.Size()}
	}
}

// firstDiff returns the first path, in name order, that differs between
// two states (changed, added or removed), or "".
func firstDiff(a, b map[string]fileStat) string {
	var diffs []string
	for p, st := range a {
		if nb, ok := b[p]; !ok || nb != st {
			diffs = append(diffs, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, p)
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	return diffs[0]
}
