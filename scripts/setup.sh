#!/usr/bin/env bash
# Set up Centrale on a fresh machine (Python 3.11 and root, nothing else assumed).
#
#   bash scripts/setup.sh           # the console: uv + Python packages from uv.lock
#   bash scripts/setup.sh --test    # also what the tests need: the real camera peers
#                                   # (Debian ffmpeg, GStreamer RTSP server, ipycam venv)
#
# Idempotent: a second run checks and returns in a second or two.
# The console itself needs no Debian package: PyAV's wheels carry their own FFmpeg.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
UV_VERSION=0.13.9
log() { printf 'setup: %s\n' "$*" >&2; }

# --- uv (the project's package manager), pinned ------------------------------------------
UV=$(command -v uv || true)
if [[ -z "$UV" || "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]]; then
    if [[ -x "$ROOT/.tools/bin/uv" ]] \
        && [[ "$("$ROOT/.tools/bin/uv" --version | cut -d' ' -f2)" == "$UV_VERSION" ]]; then
        UV="$ROOT/.tools/bin/uv"
    else
        log "installing uv $UV_VERSION into .tools/"
        py=$(command -v python3.11 || command -v python3)
        "$py" -m venv "$ROOT/.tools" >/dev/null
        "$ROOT/.tools/bin/python" -m pip install -q --disable-pip-version-check \
            "uv==$UV_VERSION" >&2
        UV="$ROOT/.tools/bin/uv"
    fi
fi

# --- Python packages, exactly as locked ---------------------------------------------------
# Never let uv download an interpreter: Python 3.11 is on the machine.
export UV_PYTHON_DOWNLOADS=never
"$UV" sync --locked --quiet --python "$(command -v python3.11 || command -v python3)"

# --- Debian packages the console uses: DejaVu fonts for the register's PDF (names with
# letters beyond Latin-1; without them the PDF falls back to a core font and transliterates);
# 7-Zip, which the export tests open packages with, as a prosecutor would (issue 6)
APT_PACKAGES=(fonts-dejavu-core p7zip-full)
apt_missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || apt_missing+=("$pkg")
done
if (( ${#apt_missing[@]} )); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing ${apt_missing[*]}"
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
            "${apt_missing[@]}"; } >&2 || log "apt-get failed: ${apt_missing[*]} not installed"
    else
        log "missing Debian packages: ${apt_missing[*]} (run as root, or apt-get install them)"
    fi
fi

# --- test peers ---------------------------------------------------------------------------
if [[ "${1:-}" == "--test" ]]; then
    bash "$ROOT/scripts/setup-peers.sh" >&2
fi
log "ok (.venv ready)"
