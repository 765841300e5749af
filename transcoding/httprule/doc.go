// Package httprule compiles google.api.http path templates and matches
// request paths against a set of them. It is the routing half of REST to
// gRPC transcoding: the transcoder asks a Router which binding, and which
// path variable values, an HTTP request maps to.
//
// # Grammar
//
// Parse accepts the grammar of google/api/http.proto, with the extensions
// grpc-gateway's generator and runtime accept, so the contracts people
// already serve with grpc-gateway (Google's published APIs among them)
// load as they are:
//
//	Template  = "/" [ Segments ] [ Verb ] ;
//	Segments  = Segment { "/" Segment } ;
//	Segment   = "*" | "**" | LITERAL | Variable ;
//	Variable  = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb      = ":" LITERAL ;
//
// with these rules on top:
//
//   - {var} means {var=*}. Variables do not nest, each field is bound once
//     (nor a field and one of its sub-fields), a variable is a whole
//     segment.
//   - "**" may appear once per template, anywhere: last
//     ("/v1/{name=operations/**}"), followed by more segments or variables
//     ("/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
//     "/v1/{name=projects/*/keyRings/*/cryptoKeys/**}/protectedResourcesSummary")
//     or first in a variable ("/v1test2/{name=**/botSessions/*}").
//   - The verb is read from the last segment. After a variable, "*" or
//     "**", it is everything after the first ':' ("/v1/{uuid}:custom:custom"
//     has the verb "custom:custom"); after a literal, the text after its
//     last ':' ("/v1/a:b:c" is the literal "a:b" with the verb "c"). A ':'
//     inside a variable never starts a verb ("/v1/{name=a:b}").
//   - LITERAL is RFC 3986 path characters: unreserved, sub-delims, ':', '@'
//     and "%XX" escapes, except '*' (write "%2A"), compared in canonical
//     form (escaped unreserved characters decoded, hex upper-cased).
//   - The bare root "/" is a template with no segments.
//
// Template.String is a canonical form; Template.Shape erases the variable
// names so that "/v1/{a}" and "/v1/{b=*}", which match the same paths, can be
// detected as conflicting routes.
//
// # Matching
//
// A Builder collects Routes (method, template, caller value, source) and
// builds an immutable Router. Router.Match walks a trie keyed by literal
// segments with wildcard edges, so its cost grows with the number of path
// segments rather than the number of routes. The trie is laid out in flat
// tables (each request segment is looked up once, then every step is one
// probe) so that a table of Google's 15,000 routes, which no longer fits
// in the processor's caches, costs few cache misses per segment (figures
// in docs/benchmarks.md). Router.MatchInto takes a buffer for the
// variables, and then allocates nothing unless a value needs
// percent-decoding. The rules (Router has the details):
//
//   - Precedence between overlapping templates: at each segment, left to
//     right, a literal beats "*", which beats "**"; the most specific route
//     for the request's method and verb wins, whatever the order routes
//     were added in. "/v1/shelves/special" beats "/v1/{name=shelves/*}",
//     which beats "/v1/{name=shelves/**}".
//   - "**" takes every segment but those the rest of its template needs,
//     possibly none. With one "**" per template and a fixed number k of
//     segments after it, there is exactly one way to split the path: "**"
//     takes all but the last k segments, which must match the rest. No
//     backtracking happens inside "**", so a match costs at most the
//     segments times the few branches of the trie, never exponential time.
//     "/v1/projects/p/databases/d/documents/a/b/c" against the Firestore
//     template above binds parent "projects/p/databases/d/documents/a/b"
//     and collection_id "c". When two "**" templates start at the same
//     place, the one with more segments after "**" is tried first, then
//     the one with a literal where the other has "*", left to right.
//   - Verbs: the text after a ':' of the last segment is tried as a verb
//     when some route has that verb, the longest first, then the segment is
//     tried whole with no verb. "/v1/shelves/a:b" matches
//     "/v1/{name=shelves/*}" with name "a:b" unless some route at that
//     place has the verb "b". An escaped ':' ("%3A") is data, never a verb
//     separator.
//   - Identical templates (same method, same Shape): the route added later
//     wins and Builder.Add reports a *ConflictError naming both. That is
//     grpc-gateway's rule: its ServeMux tries the handler registered last
//     first, so a later registration shadows an earlier one.
//   - Trailing and doubled slashes never match: "/v1/shelves/" is not
//     "/v1/shelves".
//   - Percent-encoding: literals compare in canonical form; a single-segment
//     variable is fully decoded; a multi-segment variable keeps reserved
//     characters such as "%2F" encoded, per the spec's reserved expansion
//     rules. An invalid escape gives MalformedPath, which callers report as
//     400.
//   - 404 (NotFound) and 405 (MethodNotAllowed, with the allowed methods)
//     are distinct results.
package httprule
