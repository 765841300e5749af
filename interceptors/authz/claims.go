package authz

import (
	"fmt"
	"strconv"
	"strings"
)

// ClaimCheck is one parsed claim condition of a Rule.
type ClaimCheck struct {
	Claim string // claim name, possibly a dotted path
	Op    string // "==", "!=" or "contains"
	Value string
}

// String writes c back in the syntax ParseClaimCheck reads.
func (c ClaimCheck) String() string { return c.Claim + " " + c.Op + " " + c.Value }

// ParseClaimCheck parses a claim condition: "CLAIM OP VALUE" where OP is
// "==", "!=" or "contains" and VALUE may be wrapped in double quotes (to
// keep spaces at its ends, say).
func ParseClaimCheck(s string) (ClaimCheck, error) {
	fields := strings.Fields(s)
	if len(fields) < 3 {
		return ClaimCheck{}, fmt.Errorf("claim condition %q: want CLAIM == VALUE, CLAIM != VALUE or CLAIM contains VALUE", s)
	}
	c := ClaimCheck{Claim: fields[0], Op: fields[1]}
	switch c.Op {
	case "==", "!=", "contains":
	default:
		return ClaimCheck{}, fmt.Errorf("claim condition %q: operator %q is not ==, != or contains", s, c.Op)
	}
	// The value is the rest of the text after the operator, spaces kept.
	rest := strings.TrimSpace(s)
	rest = strings.TrimSpace(rest[len(c.Claim):])
	rest = strings.TrimSpace(rest[len(c.Op):])
	if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
		u, err := strconv.Unquote(rest)
		if err != nil {
			return ClaimCheck{}, fmt.Errorf("claim condition %q: bad quoted value: %v", s, err)
		}
		rest = u
	}
	if rest == "" {
		return ClaimCheck{}, fmt.Errorf("claim condition %q: empty value", s)
	}
	c.Value = rest
	return c, nil
}
