package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

// TestProblemsAgreeWithConstructors: a value the configuration file gets
// wrong and the same value given to the interceptor's constructor by a
// direct caller are judged by one check and worded alike, the file's
// problem being the constructor's with the YAML path in front.
func TestProblemsAgreeWithConstructors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		edit      func(*config.Config)
		path      string
		construct func() error
	}{
		{
			name: "deadline default over max",
			edit: func(c *config.Config) {
				c.Policy.Deadline.Default, c.Policy.Deadline.Max = config.Duration(2*time.Minute), config.Duration(time.Minute)
			},
			path: "policy.deadline.default",
			construct: func() error {
				_, err := deadline.New(deadline.WithLimits(deadline.Limits{Default: 2 * time.Minute, Max: time.Minute}))
				return err
			},
		},
		{
			name: "deadline rule offset over max",
			edit: func(c *config.Config) {
				c.Policy.Deadline.Rules = []config.DeadlineRule{{Methods: []string{"*"}, Max: config.Duration(time.Second), Offset: config.Duration(2 * time.Second)}}
			},
			path: "policy.deadline.rules[0].offset",
			construct: func() error {
				_, err := deadline.New(deadline.WithRules(deadline.Rule{Methods: []string{"*"}, Limits: deadline.Limits{Max: time.Second, Offset: 2 * time.Second}}))
				return err
			},
		},
		{
			name: "rate limit burst",
			edit: func(c *config.Config) {
				c.RateLimits.Limits = []config.RateLimit{{Name: "l", Methods: []string{"*"}, Key: "global", Rate: 5, Burst: -1}}
			},
			path: "rate_limits.limits[0].burst",
			construct: func() error {
				_, err := ratelimit.New(ratelimit.WithLimit(ratelimit.Limit{Name: "l", Methods: []string{"*"}, Rate: 5, Burst: -1}))
				return err
			},
		},
		{
			name: "rate limit period",
			edit: func(c *config.Config) {
				c.RateLimits.Limits = []config.RateLimit{{Name: "l", Methods: []string{"*"}, Key: "global", Rate: 5, Period: config.Duration(time.Microsecond)}}
			},
			path: "rate_limits.limits[0].period",
			construct: func() error {
				_, err := ratelimit.New(ratelimit.WithLimit(ratelimit.Limit{Name: "l", Methods: []string{"*"}, Rate: 5, Period: time.Microsecond}))
				return err
			},
		},
		{
			name: "authz scopes without authentication",
			edit: func(c *config.Config) {
				c.Policy.Authz.Rules = []config.AuthzRule{{Methods: []string{"*"}, Access: config.Access(authz.Anonymous), Scopes: []string{"read"}}}
			},
			path: "policy.authz.rules[0].scopes",
			construct: func() error {
				_, err := authz.New(authz.WithRules(authz.Rule{Methods: []string{"*"}, Access: authz.Anonymous, Scopes: []string{"read"}}))
				return err
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			c.edit(&cfg)
			var errs *config.Errors
			if err := cfg.Validate(); !errors.As(err, &errs) {
				t.Fatalf("Validate = %v, want problems", err)
			}
			var problem string
			for _, e := range *errs {
				if e.Path == c.path {
					problem = e.Msg
				}
			}
			if problem == "" {
				t.Fatalf("no problem at %s in:\n%v", c.path, errs)
			}
			err := c.construct()
			if err == nil {
				t.Fatal("the constructor accepted what the file may not hold")
			}
			field := c.path[strings.LastIndex(c.path, ".")+1:]
			if !strings.Contains(err.Error(), field+": "+problem) {
				t.Errorf("constructor: %v\nwant it to contain %q (the file's problem at %s)", err, field+": "+problem, c.path)
			}
		})
	}
}
