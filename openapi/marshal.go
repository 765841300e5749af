package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// Marshal writes doc as indented JSON with every object's keys sorted, so
// the same contracts always give the same bytes (golden files, caching,
// diffs between versions).
func Marshal(doc *openapi3.T) ([]byte, error) {
	if doc == nil {
		return nil, fmt.Errorf("openapi: nil document")
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: marshal: %w", err)
	}
	// Round trip through generic values: encoding/json sorts map keys,
	// whatever order the library's own marshallers chose.
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("openapi: marshal: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("openapi: marshal: %w", err)
	}
	return buf.Bytes(), nil
}
