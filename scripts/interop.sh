#!/usr/bin/env bash
# Interop with real peers (filled in as the examples land).
set -euo pipefail
echo "interop: nothing yet"
