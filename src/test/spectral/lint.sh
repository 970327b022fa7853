#!/usr/bin/env bash
# Lints the OpenAPI document quarkvm serves at /q/openapi (Quarkus writes the same document at build time) with
# Stoplight Spectral's spectral:oas ruleset; any error or warning fails the build. ./mvnw verify runs it.
#   lint.sh <openapi.yaml> <work directory>
set -euo pipefail

document=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "The OpenAPI lint needs Node.js 18 or later and npm on the PATH (Debian: apt-get install nodejs npm)," \
         "or skip it with -Dspectral.skip" >&2
    exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    echo "The OpenAPI lint needs Node.js 18 or later; this is $(node --version)" >&2
    exit 1
fi
if [ ! -f "$document" ]; then
    echo "No OpenAPI document at $document: quarkus.smallrye-openapi.store-schema-directory writes it when the" \
         "application is packaged" >&2
    exit 1
fi

# The pinned Spectral (package-lock.json) is installed in the work directory, again only when the lock file changed;
# npm's cache lets a later install work offline. Install scripts are not run: Spectral needs none.
mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/installed-package-lock.json"; then
    cp "$here/package.json" "$here/package-lock.json" "$work/"
    (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
    cp "$here/package-lock.json" "$work/installed-package-lock.json"
fi

"$work/node_modules/.bin/spectral" lint --ruleset "$here/.spectral.yaml" --fail-severity=warn "$document"
