#!/usr/bin/env bash
# fetch.sh copies the Swagger UI build the admin port's API explorer (/docs)
# serves into server/explorer/dist, embedded in the binary with go:embed,
# from the npm package swagger-ui-dist pinned (with integrity hashes) in
# package.json and package-lock.json here.
#
# Only what the page loads is copied (the bundle and its stylesheet, about
# 2 MB, no source maps), with the package's licence and notice. The copies
# are committed so that a plain `go build` needs no npm; `make generate`
# runs this script and CI fails on any diff, so they always match the
# pinned version. Nothing is fetched from a CDN at run time.
#
# The script is idempotent: running it twice leaves the tree unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
dest="${root}/server/explorer/dist"

(cd "${here}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

src="${here}/node_modules/swagger-ui-dist"
rm -rf "${dest}"
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  install -D -m 0644 "${src}/${f}" "${dest}/${f}"
done
# The stylesheet names its source map; the map is not shipped, so browsers'
# developer tools would ask for a file that is not there.
sed -i -e '/sourceMappingURL=/d' "${dest}/swagger-ui.css"
