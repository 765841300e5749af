package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sluice-dev/sluice/interceptors/authn"
)

// tokenCommand mints a JWT for the embedded demo, signed with the demo key
// compiled into the binary. It exists for the tour only: a gateway with a
// real configuration never trusts that key.
func tokenCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token", stderr)
	subject := fs.String("subject", "demo-user", "`subject` (sub claim) of the token")
	var scopes stringList
	fs.Var(&scopes, "scope", "`scope` to grant; repeatable (default library.write)")
	ttl := fs.Duration("ttl", time.Hour, "`lifetime` of the token")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(scopes) == 0 {
		scopes = stringList{demoWriteScope}
	}
	if *ttl <= 0 {
		fmt.Fprintln(stderr, "sluice token: --ttl must be positive")
		return 2
	}
	tok, err := authn.MintDemoToken(*subject, scopes, *ttl, nil)
	if err != nil {
		fmt.Fprintf(stderr, "sluice token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
