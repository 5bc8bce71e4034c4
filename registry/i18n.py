"""Translations: English message ids, Italian by default (gettext catalogues).

Every package marks user-facing text with ``_()``; the console chooses the language once at
start-up with :func:`set_language`. The catalogues are in ``registry/locale`` because every
package may import from ``registry`` (the lowest layer) and none may import upwards.

Language choice, first match wins: an explicit choice (``--lang``, the ``CENTRALE_LANG``
variable or ``[site] language`` in config.toml), then ``LC_ALL``/``LC_MESSAGES``/``LANG`` when
they name a supported language, then Italian.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "centrale"
LOCALE_DIR = Path(__file__).with_name("locale")
SUPPORTED = ("it", "en")
DEFAULT = "it"

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def pick_language(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    """Return the language code to use (``"it"`` or ``"en"``)."""
    env = os.environ if environ is None else environ
    candidates = [explicit, env.get("CENTRALE_LANG")]
    candidates += [env.get(k) for k in ("LC_ALL", "LC_MESSAGES", "LANG")]
    for value in candidates:
        if not value:
            continue
        code = value.split(".")[0].split("_")[0].split("-")[0].lower()
        if code in SUPPORTED:
            return code
        if value is explicit or value is candidates[1]:
            choices = ", ".join(SUPPORTED)
            raise ValueError(f"unsupported language {value!r}: choose one of {choices}")
    return DEFAULT


def set_language(code: str) -> None:
    """Install the catalogue for ``code``; English is the identity."""
    global _translation, _language
    if code not in SUPPORTED:
        raise ValueError(f"unsupported language {code!r}")
    _language = code
    if code == "en":
        _translation = gettext.NullTranslations()
    else:
        _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])


def language() -> str:
    return _language


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now.

    For texts made before the language is chosen (class attributes such as error titles
    and key bindings); they are translated where they are shown, with :func:`_`.
    """
    return message


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)
