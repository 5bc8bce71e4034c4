"""Export of a clip (R20-R23, Lum. 6.13; issue 6): the span needed, named by date and place,
in an AES-256 package with its manifest and chain-of-custody sheet.

:meth:`Exporter.export_clip` checks, in this order, and refuses with a clear error before
any footage is read: the ``export`` permission (audited refusal); ``redact`` when the plan
has boxes; the recipient's redaction rule (:func:`footage.redaction.check_recipient`); the
register entry (an ``export`` entry of the same person, naming the camera, whose span holds
the export's, not yet used for a file); the camera (configured); the span (within the
recordings, not longer than ``max_span`` unless the person is a supervisor, who approves
long exports by doing them).

Then it cuts (:mod:`footage.export_cut`): **stream copy** when nothing in the span is masked
or redacted, else **re-encode** with the masks in force at each frame (the PTZ mask-state
timeline; a fixed camera's masks) and the redactions. A PTZ stretch with no recorded state
is blank, as in live view. Everything is written in a private folder inside ``out_dir``
(the control room's export folder), the package is moved to its final name only when
complete, and the folder is removed whatever happens: a cancellation or an error leaves
nothing behind. Last, in one transaction: the register entry gets the package's name and
SHA-256, the package is listed for the removable-media log (R23), and the audit trail gets
``export``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from cameras.masks import NO_MASKS, Blank, BlankReason, MaskDecision, MaskSet, Show
from footage.export_cut import ClipInfo, Timeline, cut_copy, cut_reencode, pick_encoder
from footage.export_cut import segment_params as _params
from footage.export_package import (
    FORMAT,
    check_password,
    custody_sheet,
    sha256_file,
    write_package,
)
from footage.index import FootageIndex
from footage.naming import export_name
from footage.redaction import NO_REDACTION, RecipientKind, RedactionPlan, check_recipient
from registry.audit import AuditTrail
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.register import AccessKind, AccessRegister, RegisterEntry, RegisterError
from registry.roles import Permission
from registry.session import Session, require
from registry.store import Store
from registry.store_export import ExportStore
from registry.store_ptz import PtzStore

EXPORT: Final = "export"
EXPORT_FAILED: Final = "export_failed"
#: Two segments closer than this are contiguous; a wider hole is listed as a gap.
GAP: Final = timedelta(seconds=1)
#: How far the span may reach past the recordings' ends (the last frame's duration).
EDGE: Final = timedelta(seconds=1)


class ExportError(CentraleError):
    title = N_("Export")


class ExportInputError(ExportError):
    """The request cannot be exported as asked (unknown camera, span): fix it and retry."""

    title = N_("Export not possible")


class ExportRefused(ExportError):
    """The person, the register entry or the recipient do not allow this export."""

    title = N_("Export refused")


class ExportCancelled(ExportError):
    title = N_("Export cancelled")


@dataclass(frozen=True)
class ExportCamera:
    """What the export needs to know of a configured camera."""

    id: str
    name: str
    place: str
    ptz: bool = False


@dataclass(frozen=True)
class ExportSettings:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Rome"))
    #: longest span an operator may export without a supervisor (Lum. 6.13: "only the time
    #: needed to identify the event")
    max_span: timedelta = timedelta(minutes=30)
    comune: str = ""
    control_room: str = ""


@dataclass(frozen=True)
class ExportRequest:
    camera: str
    start: datetime
    end: datetime
    recipient: RecipientKind
    redactions: RedactionPlan = NO_REDACTION


@dataclass(frozen=True)
class ExportPlan:
    """What :meth:`Exporter.check` found: segments, masks, method, name."""

    camera: ExportCamera
    segments: tuple[Any, ...]
    timeline: Timeline
    method: str  # "copy" or "reencode"
    name: str
    gaps: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    clip_sha256: str
    package_id: int
    manifest: dict[str, Any]


Progress = Callable[[float], None]


def software_version() -> str:
    try:
        return metadata.version("centrale")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a plain checkout
        return "unknown"


class Exporter:
    """Exports of one data directory. ``cameras``: the configured cameras by id."""

    def __init__(
        self, index: FootageIndex, store: Store, audit: AuditTrail, register: AccessRegister,
        cameras: Mapping[str, ExportCamera], settings: ExportSettings | None = None,
        clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self.index = index
        self.store = store
        self.audit = audit
        self.register = register
        self.cameras = dict(cameras)
        self.settings = settings or ExportSettings()
        self.clock = clock
        self.ptz = PtzStore(store)
        self.exports = ExportStore(store)

    # ---------------------------------------------------------------- checking

    def check(self, request: ExportRequest, session: Session | None = None) -> ExportPlan:
        """Camera, span and recordings; :class:`ExportInputError` naming what is wrong."""
        camera = self.cameras.get(request.camera)
        if camera is None:
            raise ExportInputError(_("camera: there is no configured camera {id} (known: "
                                     "{known})").format(id=request.camera,
                                                        known=", ".join(sorted(self.cameras))))
        start, end = request.start, request.end
        if start.tzinfo is None or end.tzinfo is None:
            raise ExportInputError(_("from/to: the times must carry their time zone"))
        if end <= start:
            raise ExportInputError(_("to: the end of the span must come after its start"))
        limit = self.settings.max_span
        if end - start > limit and (session is None or
                                    not session.allows(Permission.REVIEW_REGISTER)):
            raise ExportInputError(_(
                "to: the span is {minutes} minutes long; more than {max} minutes needs a "
                "supervisor's approval (export only the time needed)").format(
                    minutes=round((end - start).total_seconds() / 60, 1),
                    max=round(limit.total_seconds() / 60, 1)))  # fmt: skip
        segments = tuple(self.index.store.segments(camera=camera.id, since=start, until=end))
        recorded = self.index.store.segments(camera=camera.id)
        if not segments:
            raise ExportInputError(self._outside(camera.id, start, end, recorded))
        first, last = segments[0], segments[-1]
        last_end = last.end_at or last.start_at
        if start < first.start_at - EDGE or end > last_end + EDGE:
            raise ExportInputError(self._outside(camera.id, start, end, recorded))
        gaps = tuple((a.end_at, b.start_at) for a, b in itertools.pairwise(segments)
                     if a.end_at is not None and b.start_at - a.end_at > GAP)  # fmt: skip
        timeline = self._timeline(camera, start, end)
        plain = all(isinstance(d, Show) and not d.masks for d in timeline.decisions)
        if plain and len(timeline.times) and timeline.times[0] > start:
            plain = False  # a PTZ stretch before the first known state is blank
        method = "copy" if plain and not request.redactions.overlaps(start, end) else "reencode"
        if method == "copy" and len({_params(self.index.path_of(s), s.key)
                                     for s in segments}) > 1:  # fmt: skip
            method = "reencode"  # codec parameters changed mid-span: one file needs one set
        name = export_name(start, end, camera.place, camera.id, self.settings.tz)
        return ExportPlan(camera, segments, timeline, method, name, gaps)

    def _outside(self, camera: str, start: datetime, end: datetime,
                 recorded: Sequence[Any]) -> str:  # fmt: skip
        tz = self.settings.tz
        if not recorded:
            return _("from/to: camera {camera} has no recordings").format(camera=camera)
        lo = recorded[0].start_at.astimezone(tz)
        hi = (recorded[-1].end_at or recorded[-1].start_at).astimezone(tz)
        return _("from/to: {start} - {end} is outside the recordings of {camera}, which run "
                 "from {lo} to {hi}").format(
                     start=f"{start.astimezone(tz):%Y-%m-%d %H:%M:%S}",
                     end=f"{end.astimezone(tz):%Y-%m-%d %H:%M:%S}", camera=camera,
                     lo=f"{lo:%Y-%m-%d %H:%M:%S}", hi=f"{hi:%Y-%m-%d %H:%M:%S}")  # fmt: skip

    def _timeline(self, camera: ExportCamera, start: datetime, end: datetime) -> Timeline:
        if not camera.ptz:
            text = self.ptz.fixed_masks(camera.id)
            masks = MaskSet.loads(text, f"camera {camera.id}") if text else NO_MASKS
            return Timeline((start,), (Show(masks),))
        rows = []
        before = self.ptz.mask_state_at(camera.id, start)
        if before is not None:
            rows.append(before)
        rows += [r for r in self.ptz.mask_states(camera.id, since=start, until=end)
                 if before is None or r.id != before.id]  # fmt: skip
        times: list[datetime] = []
        decisions: list[MaskDecision] = []
        for r in rows:
            times.append(max(r.at, start))
            if r.shown:
                decisions.append(Show(MaskSet.loads(r.masks, f"mask state {r.id}")))
            else:
                try:
                    reason = BlankReason(r.state)
                except ValueError:
                    reason = BlankReason.UNKNOWN
                decisions.append(Blank(reason))
        return Timeline(tuple(times), tuple(decisions))

    def _entry(self, session: Session, entry_id: int, request: ExportRequest) -> RegisterEntry:
        try:
            entry = self.register.entry(session, entry_id)
        except RegisterError as exc:
            raise ExportRefused(_("register entry: {error}").format(error=exc.message)) from exc
        problems = []
        if entry.kind is not AccessKind.EXPORT:
            problems.append(_("entry {id} is not an export").format(id=entry_id))
        if entry.username != session.username:
            problems.append(_("entry {id} was signed by {who}, not by {me}").format(
                id=entry_id, who=entry.username, me=session.username))
        if request.camera not in entry.cameras:
            problems.append(_("entry {id} does not name camera {camera}").format(
                id=entry_id, camera=request.camera))
        if request.start < entry.span_from or request.end > entry.span_to:
            problems.append(_("the span exported is not within the span of entry {id}")
                            .format(id=entry_id))
        if entry.file_name is not None:
            problems.append(_("entry {id} already has its exported file {name}").format(
                id=entry_id, name=entry.file_name))
        if problems:
            raise ExportRefused(_("register entry: {problems}").format(
                problems="; ".join(problems)))
        return entry

    # ---------------------------------------------------------------- exporting

    def export_clip(
        self, session: Session, request: ExportRequest, *, register_entry_id: int,
        password: str, out_dir: Path, progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> ExportResult:  # fmt: skip
        """Check, cut, package, register; see the module docstring."""
        target = f"camera/{request.camera}"
        require(session, Permission.EXPORT, self.audit, target)
        if request.redactions:
            require(session, Permission.REDACT, self.audit, target)
        check_recipient(request.recipient, request.redactions)
        entry = self._entry(session, register_entry_id, request)
        plan = self.check(request, session)
        check_password(password)
        out_dir = Path(out_dir)
        if not out_dir.is_dir():
            raise ExportInputError(_("out: the folder {dir} does not exist").format(dir=out_dir))
        report = progress or (lambda _f: None)
        stop = cancel or threading.Event()
        work = Path(tempfile.mkdtemp(prefix=".centrale-export-", dir=out_dir))
        try:
            final = self._free_name(out_dir, plan.name)
            clip = work / "clip.mp4"
            info, encoder = self._cut(plan, request, clip, report, stop)
            clip_sha = sha256_file(clip)
            manifest = self._manifest(session, request, entry, plan, info, encoder,
                                      final.stem + ".mp4", clip_sha, clip.stat().st_size)
            package = work / "package.zip"

            def packing(fraction: float) -> None:
                if stop.is_set():
                    raise ExportCancelled(_("the export was cancelled: nothing was written"))
                report(0.9 + 0.1 * fraction)

            write_package(package, password, clip, final.stem + ".mp4", manifest,
                          custody_sheet(manifest, self.settings.tz), check=packing)
            if stop.is_set():
                raise ExportCancelled(_("the export was cancelled: nothing was written"))
            sha = sha256_file(package)
            os.link(package, final)  # never replaces a file that appeared meanwhile
            try:
                _fsync_dir(out_dir)
                package_id = self._record(session, request, entry, plan, final, sha, clip_sha,
                                          manifest)
            except BaseException:
                with contextlib.suppress(OSError):
                    final.unlink()
                raise
        except BaseException as exc:
            if not isinstance(exc, ExportCancelled | KeyboardInterrupt):
                with contextlib.suppress(Exception):
                    self.audit.append(session.username, EXPORT_FAILED, target, {
                        "register_entry": str(register_entry_id), "error": str(exc)[:300]})
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report(1.0)
        return ExportResult(final, sha, clip_sha, package_id, manifest)

    def _cut(self, plan: ExportPlan, request: ExportRequest, clip: Path, report: Progress,
             stop: threading.Event) -> tuple[ClipInfo, str]:  # fmt: skip
        start, end = request.start, request.end
        total = (end - start).total_seconds()

        def step(at: datetime) -> None:
            if stop.is_set():
                raise ExportCancelled(_("the export was cancelled: nothing was written"))
            report(0.9 * min(1.0, max(0.0, (at - start).total_seconds() / total)))

        try:
            if plan.method == "copy":
                info = cut_copy(plan.segments, self.index.path_of, start, end, clip, step)
                return info, f"stream copy ({info.codec})"
            encoder = pick_encoder()
            info = cut_reencode(plan.segments, self.index.path_of, start, end, clip, step,
                                plan.timeline, request.redactions, encoder)
        except LookupError as exc:
            raise ExportInputError(_("from/to: no recorded picture in the span")) from exc
        options = " ".join(f"{k}={v}" for k, v in encoder[1].items())
        return info, f"{encoder[0]} {options}".strip()

    def _free_name(self, out_dir: Path, name: str) -> Path:
        path = out_dir / f"{name}.zip"
        n = 2
        while path.exists():
            path = out_dir / f"{name}-{n}.zip"
            n += 1
        return path

    def _manifest(self, session: Session, request: ExportRequest, entry: RegisterEntry,
                  plan: ExportPlan, info: ClipInfo, encoder: str, clip_name: str,
                  clip_sha: str, size: int) -> dict[str, Any]:  # fmt: skip
        cam = plan.camera
        states = []
        times = plan.timeline.times
        for i, (at, decision) in enumerate(zip(times, plan.timeline.decisions, strict=True)):
            until = times[i + 1] if i + 1 < len(times) else request.end
            states.append({
                "from": at.isoformat(), "to": until.isoformat(),
                "decision": "show" if isinstance(decision, Show) else "blank",
                "reason": "" if isinstance(decision, Show) else str(decision.reason),
                "masks": decision.masks.to_json() if isinstance(decision, Show) else [],
            })  # fmt: skip
        if not times or times[0] > request.start:
            states.insert(0, {"from": request.start.isoformat(),
                              "to": (times[0] if times else request.end).isoformat(),
                              "decision": "blank", "reason": str(BlankReason.UNKNOWN),
                              "masks": []})  # fmt: skip
        return {
            "format": FORMAT,
            "software": {"name": "Centrale", "version": software_version()},
            "comune": self.settings.comune, "control_room": self.settings.control_room,
            "clip": {"file": clip_name, "sha256": clip_sha, "bytes": size,
                     "frames": info.frames, "width": info.width, "height": info.height,
                     "codec": info.codec},
            "camera": {"id": cam.id, "name": cam.name, "place": cam.place,
                       "kind": "ptz" if cam.ptz else "fixed"},
            "span": {"requested_from": request.start.isoformat(),
                     "requested_to": request.end.isoformat(),
                     "clip_from": info.start.isoformat(), "clip_to": info.end.isoformat(),
                     "timezone": str(self.settings.tz),
                     "gaps": [[a.isoformat(), b.isoformat()] for a, b in plan.gaps]},
            "method": plan.method,
            "encoder": encoder,
            "privacy_masks": states,
            "redactions": request.redactions.to_json(),
            "recipient": {"kind": str(request.recipient),
                          "legal_title": request.recipient.legal_title,
                          "name": entry.recipient or ""},
            "operator": {"username": session.username, "full_name": session.full_name,
                         "role": session.role.name},
            "register_entry": {"id": entry.id, "purpose": entry.purpose_title,
                               "purpose_text": entry.purpose_text,
                               "observations": entry.observations},
            "source_segments": [{"id": s.id, "sha256": s.sha256} for s in plan.segments],
            "created_at": self.clock().isoformat(),
        }  # fmt: skip

    def _record(self, session: Session, request: ExportRequest, entry: RegisterEntry,
                plan: ExportPlan, final: Path, sha: str, clip_sha: str,
                manifest: Mapping[str, Any]) -> int:  # fmt: skip
        with self.store.transaction():
            self.register.attach_file(entry.id, final.name, sha)
            package_id = self.exports.add(
                register_entry_id=entry.id, file_name=final.name,
                folder=str(final.parent.absolute()), sha256=sha, clip_sha256=clip_sha,
                size=final.stat().st_size, camera=plan.camera.id, span_from=request.start,
                span_to=request.end, recipient_kind=str(request.recipient),
                recipient=entry.recipient or "", created_by=session.username,
                created_at=self.clock(),
            )  # fmt: skip
            self.audit.append(session.username, EXPORT, f"camera/{plan.camera.id}", {
                "register_entry": str(entry.id), "package": str(package_id),
                "file_name": final.name, "sha256": sha, "clip_sha256": clip_sha,
                "from": request.start.isoformat(), "to": request.end.isoformat(),
                "method": plan.method, "encoder": str(manifest["encoder"]),
                "recipient": str(request.recipient),
                "redaction_boxes": str(len(request.redactions.boxes)),
            })  # fmt: skip
        return package_id


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
