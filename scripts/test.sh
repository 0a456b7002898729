#!/usr/bin/env bash
# The test suite as CI runs it: installs the real peers some tests judge with (GNU
# uudecode, Python 3 with aiosmtpd, Postfix's tools, swaks, dnsmasq; Chromium and
# selenium for the console) through
# ../shared/tools/install-peers.sh, then runs `cargo test --workspace` inside a network
# namespace whose only interface is loopback (../shared/tools/netns-run), so no test can
# reach the system resolver or another host. Needs root, as the project's machines give:
# the namespace, and the disk-full tests that mount a small tmpfs in a private mount
# namespace. The PostgreSQL tests (postern-pg; issue 15) run against a throwaway
# PostgreSQL that scripts/pg-dev.sh starts inside the same namespace (POSTERN_PG_URL).
# Extra arguments go to `cargo test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"
"$shared/tools/install-peers.sh"
# The Debian `tnef` tool, which the TNEF decoder's differential test judges against.
command -v tnef >/dev/null || apt-get install -y -qq tnef >/dev/null
# Headless Chromium driven by selenium, for the web console's browser test
# (crates/postern-gateway/tests/console.rs), which must run, not skip, here.
[ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null ||
  apt-get install -y -qq chromium chromium-driver python3-selenium >/dev/null
export POSTERN_REQUIRE_BROWSER=1
cd "$root"
exec "$shared/tools/netns-run" "$root/scripts/pg-dev.sh" run cargo test --workspace "$@"
