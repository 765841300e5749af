#!/usr/bin/env bash
# lint.sh checks sluice's OpenAPI documents with Redocly's linter and its
# recommended rules: the demo's document as `sluice openapi` prints it (the
# demo policy, so security schemes and per-operation security), and every
# golden document under openapi/testdata. Any error fails; warnings are
# printed. The linter is pinned, with integrity hashes, by package.json and
# package-lock.json here.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"

# No telemetry or update checks: CI has no business calling home.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
(cd "${here}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
(cd "${root}" && go run ./cmd/sluice openapi) >"${tmp}/demo.openapi.json"

docs=("${tmp}/demo.openapi.json")
for f in "${root}"/openapi/testdata/*.openapi.json; do
  docs+=("${f}")
done
"${here}/node_modules/.bin/redocly" lint --extends=recommended --format=stylish "${docs[@]}"
