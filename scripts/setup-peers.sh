#!/usr/bin/env bash
# Install what the real camera peers need (tests marked `peers`), idempotently.
#
#   bash scripts/setup-peers.sh        # as root (apt-get), from anywhere
#
# * Debian packages: ffmpeg (ipycam's encoder) and GStreamer's RTSP server with the
#   plugins that ../shared/peers/gst_rtsp_server.py uses, run by Debian's /usr/bin/python3
#   (python3-gi lives there, not in a venv).
# * A SEPARATE virtual environment .peers/venv with ipycam, pinned by the lockfile
#   scripts/peers-requirements.txt (`pip freeze` of a working install). ipycam needs the
#   GUI build `opencv-python`, which would overwrite our `opencv-python-headless` in .venv.
#
# A second run checks and returns in well under a second. Environment:
#   PEERS_PYTHON   interpreter used to create the venv (default: python3.11 on PATH)
#   PEERS_FORCE=1  recreate the venv
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.peers/venv"
LOCK="$ROOT/scripts/peers-requirements.txt"
STAMP="$VENV/.centrale-lock.sha256"

DEB_PACKAGES=(
    python3                          # /usr/bin/python3 for gst_rtsp_server.py
    python3-gi
    gir1.2-gst-rtsp-server-1.0       # GstRtspServer typelib (pulls libgstrtspserver)
    gstreamer1.0-plugins-base        # videotestsrc, videoconvert
    gstreamer1.0-x                   # timeoverlay (the pango plugin lives here)
    fonts-dejavu-core                # a font for timeoverlay
    gstreamer1.0-plugins-good        # rtph264pay, qtdemux, rtsp
    gstreamer1.0-plugins-bad         # h264parse (videoparsersbad) for the /file mount
    gstreamer1.0-plugins-ugly        # x264enc
    gstreamer1.0-libav
    ffmpeg                           # ipycam encodes with the ffmpeg binary
)

log() { printf 'setup-peers: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)"
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    aptlog=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$aptlog" 2>&1; then
        cat "$aptlog"; rm -f "$aptlog"
        log "apt-get failed"
        exit 1
    fi
    rm -f "$aptlog"
fi

# --- ipycam virtual environment ----------------------------------------------------------
want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [[ "${PEERS_FORCE:-0}" == 1 ]]; then
    rm -rf "$VENV"
fi
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] \
    && "$VENV/bin/python" -c 'import ipycam' 2>/dev/null; then
    :   # up to date
else
    if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$VENV"
        mkdir -p "$(dirname "$VENV")"
        py=${PEERS_PYTHON:-$(command -v python3.11 || command -v python3)}
        log "creating $VENV with $py"
        if ! "$py" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            if command -v uv >/dev/null; then
                uv venv -q --seed --python 3.11 "$VENV"
            else
                log "cannot create a venv with $py (apt-get install python3-venv?)"
                exit 1
            fi
        fi
    fi
    log "installing ipycam from $(basename "$LOCK")"
    # the lock is complete (pip freeze): --no-deps keeps pip from resolving anything else
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$LOCK"
    "$VENV/bin/python" -m pip check -q >/dev/null || "$VENV/bin/python" -m pip check
    "$VENV/bin/python" -c 'import ipycam, cv2, numpy'
    echo "$want" >"$STAMP"
fi

# --- sanity: the same checks the test fixtures make ---------------------------------------
command -v ffmpeg >/dev/null || { log "ffmpeg not on PATH"; exit 1; }
/usr/bin/python3 - <<'EOF'
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
need = ["videotestsrc", "timeoverlay", "x264enc", "rtph264pay", "qtdemux", "h264parse"]
lost = [e for e in need if Gst.ElementFactory.find(e) is None]
if lost:
    raise SystemExit(f"setup-peers: GStreamer elements missing: {', '.join(lost)}")
EOF
log "ok ($VENV, ffmpeg, GStreamer RTSP server)"
