#!/usr/bin/env bash
# System packages the project benefits from but cannot install with pip.
#
# bubblewrap (bwrap) gives the candidate sandbox no network and a read-only, allowlisted view of
# the filesystem. Without it the sandbox still runs (rlimits, own session, empty environment,
# private directory, its own uid when started as root) and says so once at startup.
#
# chromium (Debian's) is the browser the dashboard's tests drive through Playwright; no browser
# is ever downloaded. Without it those tests are skipped, saying why.
#
# This script never fails the setup: a missing package is a warning, not an error.
set -u

warn() { printf 'setup_system: WARNING: %s\n' "$*" >&2; }

APT_UPDATED=0

# ensure COMMAND PACKAGE WHAT-IT-IS-FOR: install PACKAGE with apt-get when COMMAND is missing.
ensure() {
    local command=$1 package=$2 purpose=$3
    if command -v "$command" >/dev/null 2>&1; then
        echo "setup_system: $package present ($("$command" --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup_system: installing $package with apt-get"
        if [ "$APT_UPDATED" -eq 0 ]; then
            apt-get update -qq >/dev/null 2>&1 && APT_UPDATED=1
        fi
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" \
                >/dev/null 2>&1 && command -v "$command" >/dev/null 2>&1; then
            echo "setup_system: $package installed ($("$command" --version 2>/dev/null | head -n 1))"
            return 0
        fi
        warn "apt-get could not install $package; $purpose"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        warn "$package is not installed and this is not root; $purpose"
        warn "Install it with: sudo apt-get install $package"
    else
        warn "$package is not installed and apt-get is unavailable; $purpose"
    fi
    return 0
}

ensure bwrap bubblewrap \
    "the sandbox will run without it (no network or filesystem isolation)."
ensure chromium chromium \
    "the dashboard's browser tests will be skipped (they need a real Chromium)."
exit 0
