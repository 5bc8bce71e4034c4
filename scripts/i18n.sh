#!/usr/bin/env bash
# Refresh the translation catalogues: extract message ids from the code, merge them into
# the Italian catalogue, and compile it. Run after changing any user-facing text, then
# translate the new or fuzzy entries in registry/locale/it/LC_MESSAGES/centrale.po and run
# this again. tests/test_i18n.py fails while a message has no Italian translation.
set -euo pipefail
cd "$(dirname "$0")/.."
LOC=registry/locale
PO=$LOC/it/LC_MESSAGES/centrale.po
uv run pybabel extract --no-location --sort-output --project=centrale --charset=utf-8 \
    -k _ -k N_ -k ngettext:1,2 -o "$LOC/centrale.pot" 2>/dev/null \
    console cameras ptz registry footage screens >/dev/null
if [[ -f "$PO" ]]; then
    uv run pybabel update --no-fuzzy-matching --ignore-obsolete -l it -D centrale \
        -i "$LOC/centrale.pot" -d "$LOC" >/dev/null
else
    uv run pybabel init -l it -D centrale -i "$LOC/centrale.pot" -d "$LOC" >/dev/null
fi
uv run pybabel compile --use-fuzzy -l it -D centrale -d "$LOC" >/dev/null 2>&1 || true
uv run pybabel compile -l it -D centrale -d "$LOC" --statistics
