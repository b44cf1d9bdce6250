#!/usr/bin/env bash
# Mutation testing of the domain rules and the service (cargo-mutants, whose
# settings and excluded equivalent mutants are in .cargo/mutants.toml): every
# mutant must be caught by the unit tests. About 30 minutes on 2 cores (148
# mutants, each rebuilt and tested), so it runs here, not in scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants@27.1.0
cargo mutants --no-shuffle -o "$TOOLS" "$@"
