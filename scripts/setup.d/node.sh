#!/usr/bin/env bash
# Set-up for the Node binding (scripts/test-node.sh): node and npm (Node 20, part of this
# project's machine), the Node-API headers node-gyp builds against offline
# (npm_config_nodedir=/usr needs /usr/include/node/node_api.h), and python3, make and a
# C/C++ compiler for node-gyp. Idempotent; prints nothing when everything is present.
set -euo pipefail

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup.d/node.sh: node and npm (Node 20) are required and not installed" >&2
    exit 1
fi

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
if [ ! -f /usr/include/node/node_api.h ]; then
    # NodeSource's nodejs package ships the headers; Debian's own splits them into
    # libnode-dev. Only the latter can be installed alongside.
    if dpkg-query -W -f='${Maintainer}' nodejs 2>/dev/null | grep -qi nodesource; then
        echo "setup.d/node.sh: /usr/include/node/node_api.h is missing although NodeSource's nodejs is installed; reinstall nodejs" >&2
        exit 1
    fi
    missing+=(libnode-dev)
fi

[ "${#missing[@]}" -eq 0 ] && exit 0

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.d/node.sh: must run as root to install: $*" >&2
        exit 1
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in "${missing[@]}"; do
    echo "setup.sh: installing $pkg (apt)"
done
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.d/node.sh: apt-get update failed" >&2
    exit 1
fi
if ! as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.d/node.sh: apt-get install ${missing[*]} failed" >&2
    exit 1
fi
if [ ! -f /usr/include/node/node_api.h ]; then
    echo "setup.d/node.sh: /usr/include/node/node_api.h is still missing" >&2
    exit 1
fi
