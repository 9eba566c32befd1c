#!/usr/bin/env bash
# System packages the project benefits from but cannot install with pip.
#
# bubblewrap (bwrap) gives the candidate sandbox no network and a read-only, allowlisted view of
# the filesystem. Without it the sandbox still runs (rlimits, own session, empty environment,
# private directory, its own uid when started as root) and says so once at startup.
#
# This script never fails the setup: a missing package is a warning, not an error.
set -u

warn() { printf 'setup_system: WARNING: %s\n' "$*" >&2; }

if command -v bwrap >/dev/null 2>&1; then
    echo "setup_system: bubblewrap present ($(bwrap --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup_system: installing bubblewrap with apt-get"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } >/dev/null 2>&1 \
        && command -v bwrap >/dev/null 2>&1; then
        echo "setup_system: bubblewrap installed ($(bwrap --version 2>/dev/null))"
        exit 0
    fi
    warn "apt-get could not install bubblewrap; the sandbox will run without it (weaker isolation)."
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    warn "bubblewrap (bwrap) is not installed and this is not root. The sandbox will run without it"
    warn "(no network or filesystem isolation). Install it with: sudo apt-get install bubblewrap"
else
    warn "bubblewrap (bwrap) is not installed and apt-get is unavailable. The sandbox will run"
    warn "without it (no network or filesystem isolation). Install bubblewrap with your package manager."
fi
exit 0
