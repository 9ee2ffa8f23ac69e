#!/usr/bin/env bash
# Make sure the C build of Merkle batches (streams/_batchhash.c) can be compiled: a C compiler,
# OpenSSL headers and the headers of the Python that builds the venv. Run by `make` before
# `pip install`. Missing pieces are installed with apt-get when run as root (as Redis is);
# otherwise it says what to install and the install goes on: Bilat then builds the same
# Merkle trees in pure Python, about 6x slower.
set -uo pipefail
python=${1:-python3}
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
[ -f /usr/include/openssl/sha.h ] || missing+=(libssl-dev)
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
[ -n "$include" ] && [ -f "$include/Python.h" ] || missing+=(python3-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the C build's dependencies: ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; then
        exit 0
    fi
fi
echo "note: ${missing[*]} missing: Merkle batches will be built in pure Python (same trees," \
     "about 6x slower); install them (apt-get install -y ${missing[*]}) and run make again"
exit 0
