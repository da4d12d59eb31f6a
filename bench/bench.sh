#!/usr/bin/env bash
# Raises the open-file limit (50,000 connections need more than the default) and runs the bench.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# The bench imports libs/testing/src/isolated-env.ts through Node's type stripping; the repository is not
# an ES module package, which Node would otherwise warn about on every import.
cd "$(dirname "$0")/.." && exec node_modules/.bin/node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON bench/run.mjs "$@"
