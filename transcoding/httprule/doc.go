// Package httprule compiles google.api.http path templates and matches
// request paths against a set of them. It is the routing half of REST to
// gRPC transcoding: the transcoder asks a Router which binding, and which
// path variable values, an HTTP request maps to.
//
// Parse validates a template fully against the grammar in
// google/api/http.proto and returns a Template with its segments, its
// variables (field path and the segments they span) and its custom verb.
// Template.String is a canonical form; Template.Shape erases the variable
// names so that "/v1/{a}" and "/v1/{b=*}", which match the same paths, can be
// detected as conflicting routes.
//
// A Builder collects Routes (method, template, caller value, source),
// rejecting a route that has the same method and shape as an earlier one
// with a *ConflictError naming both sources, and builds an immutable Router.
// Router.Match walks a trie keyed by literal segments with wildcard edges, so
// its cost grows with the number of path segments rather than the number of
// routes.
//
// Matching rules, in brief (Router has the details):
//   - Precedence: at each segment, left to right, a literal beats "*", which
//     beats "**"; the most specific route for the request's method wins.
//   - A custom verb is the text after the last ':' of the last segment; it is
//     tried first as a verb, then as part of the segment.
//   - Trailing and doubled slashes never match: "/v1/shelves/" is not
//     "/v1/shelves".
//   - Percent-encoding: literals compare in canonical form (escaped
//     unreserved characters decoded); a single-segment variable is fully
//     decoded; a multi-segment variable keeps reserved characters such as
//     "%2F" encoded, per the spec's reserved expansion rules. An invalid
//     escape gives MalformedPath, which callers report as 400.
//   - 404 (NotFound) and 405 (MethodNotAllowed, with the allowed methods)
//     are distinct results.
package httprule
