"""``centrale export verify FILE``: does a package still hold the clip its manifest describes?

Opens the package with its password, hashes the clip as it is decrypted and compares it
with the manifest's SHA-256 and size; also checks that every file the package should hold is
there. Meant for whoever receives a copy (with Centrale) and for the control room before a
hand-over; without Centrale, ``sha256sum`` of the extracted clip against the chain-of-custody
sheet proves the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from footage.export_package import CUSTODY, MANIFEST, PackageError, hash_member, open_package
from registry.i18n import _


@dataclass(frozen=True)
class Verification:
    path: Path
    manifest: dict[str, Any]
    expected_sha256: str
    actual_sha256: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_package(path: Path, password: str) -> Verification:
    """Check *path*; :class:`PackageError` when it cannot be opened at all (wrong password,
    not a package), a :class:`Verification` with ``problems`` otherwise."""
    zf, manifest = open_package(Path(path), password)
    try:
        clip = manifest.get("clip")
        if not isinstance(clip, dict) or not isinstance(clip.get("file"), str):
            raise PackageError(_("{name} does not name the clip").format(name=MANIFEST))
        expected = str(clip.get("sha256", ""))
        names = set(zf.namelist())
        problems: list[str] = []
        actual = ""
        if clip["file"] not in names:
            problems.append(_("the clip {name} is missing from the package").format(
                name=clip["file"]))
        else:
            try:
                actual, size = hash_member(zf, clip["file"])
            except (RuntimeError, OSError, ValueError) as exc:  # a damaged member
                problems.append(_("the clip cannot be read: {error}").format(error=exc))
            else:
                if actual != expected:
                    problems.append(_("the clip's SHA-256 is {actual}, the manifest says "
                                      "{expected}: the clip was changed").format(
                                          actual=actual, expected=expected))  # fmt: skip
                if size != clip.get("bytes"):
                    problems.append(_("the clip has {size} bytes, the manifest says {bytes}")
                                    .format(size=size, bytes=clip.get("bytes")))
        if CUSTODY not in names:
            problems.append(_("the chain-of-custody sheet is missing"))
        extra = sorted(names - {clip["file"], MANIFEST, CUSTODY})
        if extra:
            problems.append(_("unexpected files in the package: {names}").format(
                names=", ".join(extra)))
        return Verification(Path(path), manifest, expected, actual, problems)
    finally:
        zf.close()


def summary(v: Verification) -> list[str]:
    """The manifest's main facts, one per line, for the terminal."""
    m = v.manifest
    cam, span = m.get("camera", {}), m.get("span", {})
    op, reg = m.get("operator", {}), m.get("register_entry", {})
    return [
        _("Clip: {file} ({frames} frames, {w}x{h}, {codec})").format(
            file=m["clip"].get("file"), frames=m["clip"].get("frames"),
            w=m["clip"].get("width"), h=m["clip"].get("height"), codec=m["clip"].get("codec")),
        _("SHA-256: {sha}").format(sha=v.expected_sha256),
        _("Camera: {id} - {name} - {place}").format(id=cam.get("id"), name=cam.get("name"),
                                                    place=cam.get("place")),
        _("Span: {start} to {end} (clip {cstart} to {cend})").format(
            start=span.get("requested_from"), end=span.get("requested_to"),
            cstart=span.get("clip_from"), cend=span.get("clip_to")),
        _("Method: {method}, {encoder}").format(method=m.get("method"),
                                                encoder=m.get("encoder")),
        _("Redaction boxes: {n}").format(n=len(m.get("redactions", {}).get("boxes", []))),
        _("Operator: {name} ({user}); register entry {id}").format(
            name=op.get("full_name"), user=op.get("username"), id=reg.get("id")),
        _("Made with: {name} {version} at {at}").format(
            name=m.get("software", {}).get("name"), version=m.get("software", {}).get("version"),
            at=m.get("created_at")),
    ]  # fmt: skip
