#!/usr/bin/env bash
# The project's test command. Numeric code is slow in debug builds, so the tests run on a release build
# compiled with testing enabled. Extra arguments go to `swift test`, e.g. `--filter GGUFFileTests`.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --build-tests
exec swift test -c release -Xswiftc -enable-testing --skip-build "$@"
