#!/usr/bin/env bash
# Raises the open-file limit (50,000 connections need more than the default) and runs the bench.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$(dirname "$0")/.." && exec node_modules/.bin/node bench/run.mjs "$@"
