"""Data manifests: what a dataset is, where it comes from, and the checksum of every file.

A manifest is a YAML file (format documented in ``data_manifests/README.md``)::

    manifest_version: 1
    name: eegmmidb-s001
    description: ...
    license: ODC-By-1.0
    citation: ["Schalk G. et al. ...", "Goldberger A. et al. ..."]
    source: {url: https://physionet.org/content/eegmmidb/1.0.0/, download: "..."}
    task: motor imagery / movement, left vs right fist ...
    label_mapping: {T1: left, T2: right}
    root: ../../shared/data/eegmmidb   # default data root, relative to this file
    files:
      - {path: S001/S001R04.edf, size: 2596896, sha256: 3d16..., subject: "001",
         session: "", run: "04"}

:func:`create_manifest` writes one for a folder; :func:`verify_manifest` checks every file
and reports what is missing or changed. Manifests never read EDF headers, so they carry
no patient identity.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

import yaml

from eegsnn.errors import ChecksumError, ConfigError, DataError
from eegsnn.io.files import (
    atomic_write_text,
    parse_recording_ids,
    read_yaml_mapping,
    sha256_file,
)

__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "ManifestFile",
    "VerifyReport",
    "create_manifest",
    "is_manifest_path",
    "load_manifest",
    "save_manifest",
    "verify_manifest",
]

MANIFEST_VERSION = 1
# libyaml's loader is ~10x faster on long file lists (the full EEGMMIDB has 3058 entries).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOP_KEYS = ("manifest_version", "name", "description", "license", "citation", "source",
             "task", "label_mapping", "root", "layout", "notes", "files")
_FILE_KEYS = ("path", "size", "sha256", "subject", "session", "run", "label")


def is_manifest_path(source: Any) -> TypeGuard[str | os.PathLike]:
    """Whether ``source`` (a data source: a path, a list, an MNE object...) names a data
    manifest: one path ending in ``.yaml`` or ``.yml``."""
    return (isinstance(source, (str, os.PathLike))
            and Path(source).suffix.lower() in (".yaml", ".yml"))


@dataclass
class ManifestFile:
    """One file of a dataset: path relative to the root, size in bytes, sha256, ids."""

    path: str
    size: int | None = None
    sha256: str | None = None
    subject: str = ""
    session: str = ""
    run: str = ""
    label: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256,
                             "subject": self.subject, "session": self.session, "run": self.run}
        if self.label is not None:
            d["label"] = self.label
        return d


@dataclass
class Manifest:
    """A dataset description (see the module docstring for the fields)."""

    name: str
    files: list[ManifestFile] = field(default_factory=list)
    description: str = ""
    license: str = ""
    citation: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    label_mapping: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    layout: str = ""
    notes: str = ""
    manifest_path: Path | None = None

    def default_root(self) -> Path:
        """``root`` resolved against the manifest's folder (or that folder if unset)."""
        base = self.manifest_path.parent if self.manifest_path else Path.cwd()
        return Path(os.path.normpath(base / self.root)) if self.root else base

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, "name": self.name}
        for key in ("description", "license", "citation", "source", "task", "label_mapping",
                    "root", "layout", "notes"):
            value = getattr(self, key)
            if value not in (None, "", [], {}):
                d[key] = value
        d["files"] = [f.as_dict() for f in self.files]
        return d


def _check_relpath(rel: str, where: str) -> str:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "\\" in rel:
        raise ConfigError(f"{where}: file path {rel!r} must be relative, with '/' and no '..'")
    return p.as_posix()


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate a manifest YAML file.

    Raises:
        DataError: the file cannot be read or is not YAML.
        ConfigError: naming the manifest and the field that is wrong.
    """
    path = Path(path)
    data = read_yaml_mapping(path, "manifest", _LOADER)
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise ConfigError(f"{path}: manifest_version must be {MANIFEST_VERSION}, got {version!r}")
    unknown = set(data) - set(_TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    if not data.get("name"):
        raise ConfigError(f"{path}: manifest needs a 'name'")
    files = []
    seen = set()
    for i, entry in enumerate(data.get("files") or []):
        where = f"{path}: files[{i}]"
        if not isinstance(entry, Mapping) or "path" not in entry:
            raise ConfigError(f"{where} must be a mapping with a 'path'")
        rel = _check_relpath(str(entry["path"]), where)
        unknown = set(entry) - set(_FILE_KEYS)
        if unknown:  # a typo ("sha:") would otherwise silently turn off checking
            raise ConfigError(f"{where} ({rel}): unknown key(s) "
                              f"{', '.join(sorted(map(str, unknown)))}; known keys: "
                              f"{', '.join(_FILE_KEYS)}")
        if rel in seen:
            raise ConfigError(f"{where}: {rel} listed twice")
        seen.add(rel)
        sha = entry.get("sha256")
        if sha is not None:
            sha = str(sha).lower()
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise ConfigError(f"{where}: sha256 of {rel} is not 64 hex digits")
        size = entry.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or size < 0):
            raise ConfigError(f"{where}: size of {rel} must be a non-negative integer")
        files.append(ManifestFile(
            path=rel, size=size, sha256=sha, subject=str(entry.get("subject") or ""),
            session=str(entry.get("session") or ""), run=str(entry.get("run") or ""),
            label=None if entry.get("label") is None else str(entry["label"]),
        ))
    citation = data.get("citation") or []
    if isinstance(citation, str):
        citation = [citation]
    return Manifest(
        name=str(data["name"]), files=files, description=str(data.get("description") or ""),
        license=str(data.get("license") or ""), citation=[str(c) for c in citation],
        source=dict(data.get("source") or {}), task=str(data.get("task") or ""),
        label_mapping=dict(data.get("label_mapping") or {}), root=data.get("root"),
        layout=str(data.get("layout") or ""), notes=str(data.get("notes") or ""),
        manifest_path=path,
    )


def save_manifest(manifest: Manifest, path: str | os.PathLike) -> Path:
    """Write ``manifest`` as YAML to ``path`` atomically; returns the path."""
    path = Path(path)
    data = manifest.as_dict()
    files = data.pop("files")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    # One flow-style line per file keeps long file lists readable and diffable.
    lines = [yaml.safe_dump(f, default_flow_style=True, sort_keys=False, width=10_000).strip()
             for f in files]
    text += ("files:\n" + "".join(f"- {line}\n" for line in lines)) if lines else "files: []\n"
    atomic_write_text(path, "# eegsnn data manifest (format: data_manifests/README.md)\n" + text)
    manifest.manifest_path = path
    return path


def create_manifest(
    folder: str | os.PathLike,
    *,
    name: str | None = None,
    include: Iterable[str] = ("*",),
    exclude: Iterable[str] = (),
    label_from_folder: bool = False,
    id_pattern: str | None = None,
    leave_out: str | None = None,
    **fields: Any,
) -> Manifest:
    """Describe every (non-hidden) file under ``folder``: relative path, size, sha256, ids.

    Args:
        folder: the dataset root.
        name: dataset name (default: the folder name).
        include / exclude: glob patterns matched against the POSIX relative path
            (``fnmatch``; ``*`` matches across ``/``).
        label_from_folder: set each file's ``label`` to its parent folder's name (Bonn).
        id_pattern: regular expression for subject/session/run (see
            :func:`eegsnn.io.files.parse_recording_ids`).
        leave_out: one relative path that is not listed (the manifest itself, when it is
            written into ``folder``).
        **fields: other manifest fields (``license``, ``citation``, ``source``, ``task``,
            ``label_mapping``, ``description``, ``layout``, ``notes``, ``root``).

    Raises:
        DataError: ``folder`` does not exist or is not a folder, no file passes the
            filters, or a listed path is a broken symbolic link.
    """
    import fnmatch

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: is a file, not a folder" if folder.exists()
                        else f"{folder}: folder does not exist")
    unknown = set(fields) - set(_TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown manifest field(s) {', '.join(sorted(unknown))}")
    include, exclude = list(include), list(exclude)
    entries = []
    n_files = n_included = 0
    for p in sorted(folder.rglob("*")):
        broken = p.is_symlink() and not p.exists()
        if not (broken or p.is_file()):
            continue
        rel = p.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or rel == leave_out:
            continue
        n_files += 1
        if not any(fnmatch.fnmatch(rel, pat) for pat in include):
            continue
        n_included += 1
        if any(fnmatch.fnmatch(rel, pat) for pat in exclude):
            continue
        if broken:
            raise DataError(f"{p}: broken symbolic link (its target {os.readlink(p)} does not "
                            "exist); fix or remove it, or leave it out with --exclude")
        ids = parse_recording_ids(rel, id_pattern, fallback_to_stem=False)
        entries.append(ManifestFile(
            path=rel, size=p.stat().st_size, sha256=sha256_file(p), **ids,
            label=(p.parent.name if label_from_folder and p.parent != folder else None),
        ))
    if not entries:
        def quoted(patterns: list[str]) -> str:
            return " ".join(repr(pat) for pat in patterns)
        why = ("it holds no (non-hidden) files"
               + (" but the manifest being written" if leave_out else "") if not n_files else
               f"none of its {n_files} file(s) matches --include {quoted(include)}"
               if not n_included else
               f"all {n_included} file(s) matching --include {quoted(include)} are left out "
               f"by --exclude {quoted(exclude)}")
        raise DataError(f"{folder}: no files to list in a manifest: {why}")
    if isinstance(fields.get("citation"), str):
        fields["citation"] = [fields["citation"]]
    return Manifest(name=name or folder.resolve().name, files=entries, **fields)


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_manifest`.

    Attributes:
        root: the data root checked.
        ok: paths whose size and sha256 match.
        missing: paths not found under the root.
        changed: ``(path, problem)`` for files whose size or sha256 differ.
        unchecked: paths present but without a recorded sha256.
        skipped: absent paths, with ``allow_missing=True``.
        unreadable: ``(path, problem)`` for files present that cannot be read (no
            permission, an I/O error): every file is still checked.
        manifest: the manifest file checked (or its name), for messages.

    :attr:`passed` means nothing is missing, changed or unreadable; :attr:`verified` also
    needs at least one file whose sha256 was compared and matched.
    """

    root: Path
    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    manifest: str = "manifest"
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No file is missing, changed or unreadable (absent files with ``allow_missing``
        and files without a checksum do not count against it)."""
        return not self.missing and not self.changed and not self.unreadable

    @property
    def verified(self) -> bool:
        """:attr:`passed`, and at least one file's sha256 was checked and matched."""
        return self.passed and bool(self.ok)

    def lines(self) -> list[str]:
        """Human-readable report, one line per problem plus a summary."""
        out = [f"missing: {p}" for p in self.missing]
        out += [f"changed: {p} ({why})" for p, why in self.changed]
        out += [f"unreadable: {p} ({why})" for p, why in self.unreadable]
        if self.unchecked:
            out.append(f"no checksum recorded for {len(self.unchecked)} file(s) "
                       f"(e.g. {self.unchecked[0]}); run 'eegsnn manifest create' to fill them")
        skipped = f", {len(self.skipped)} absent (allowed)" if self.skipped else ""
        unreadable = f", {len(self.unreadable)} unreadable" if self.unreadable else ""
        out.append(f"{len(self.ok)} ok, {len(self.missing)} missing, {len(self.changed)} "
                   f"changed{unreadable}, {len(self.unchecked)} unchecked{skipped} "
                   f"(root {self.root})")
        return out

    def raise_for_problems(self, *, require_checked: bool = False) -> None:
        """Raise :class:`ChecksumError` (changed files) or :class:`DataError` (missing or
        unreadable).

        With ``require_checked``, also raise :class:`DataError` when no file's sha256 was
        checked (an empty file list, every file absent, or no checksums recorded): what
        ``eegsnn manifest verify`` requires before it reports success.
        """
        if self.changed:
            p, why = self.changed[0]
            more = f" and {len(self.changed) - 1} more" if len(self.changed) > 1 else ""
            raise ChecksumError(f"{self.root / p}: {why}{more}")
        if self.missing:
            more = f" and {len(self.missing) - 1} more" if len(self.missing) > 1 else ""
            raise DataError(f"{self.root / self.missing[0]}: file listed in the manifest is "
                            f"missing{more}")
        if self.unreadable:
            p, why = self.unreadable[0]
            more = f" and {len(self.unreadable) - 1} more" if len(self.unreadable) > 1 else ""
            raise DataError(f"{self.root / p}: {why}{more}")
        if require_checked and not self.ok:
            raise DataError(self._nothing_checked())

    def _nothing_checked(self) -> str:
        if not self.unchecked and not self.skipped:
            return f"{self.manifest}: lists no files; nothing to verify"
        if not self.unchecked:
            return (f"{self.root}: none of the {len(self.skipped)} files listed in "
                    f"{self.manifest} is present under this data root; check --root")
        absent = f" ({len(self.skipped)} more absent)" if self.skipped else ""
        return (f"{self.manifest}: no file could be checked: no sha256 recorded for the "
                f"{len(self.unchecked)} file(s) present{absent}; run 'eegsnn manifest create' "
                "to record them")


def _verify_file(report: VerifyReport, p: Path, entry: ManifestFile,
                 allow_missing: bool) -> None:
    """Check one listed file ``p`` and record it in ``report`` (OSError / DataError: it
    cannot be read)."""
    if p.is_dir():
        report.changed.append((entry.path, "is a folder, not a file"))
        return
    if not p.is_file():
        if p.exists():  # a pipe, socket or device: present, but no file to check
            report.changed.append((entry.path, "is not a regular file"))
        else:
            (report.skipped if allow_missing else report.missing).append(entry.path)
        return
    size = p.stat().st_size
    if entry.size is not None and size != entry.size:
        report.changed.append((entry.path, f"size {size} bytes, manifest says {entry.size}"))
        return
    if entry.sha256 is None:
        report.unchecked.append(entry.path)
        return
    digest = sha256_file(p)
    if digest != entry.sha256:
        report.changed.append((entry.path, f"sha256 {digest[:16]}..., manifest says "
                                           f"{entry.sha256[:16]}..."))
    else:
        report.ok.append(entry.path)


def verify_manifest(manifest: Manifest | str | os.PathLike,
                    root: str | os.PathLike | None = None, *,
                    allow_missing: bool = False) -> VerifyReport:
    """Check every file of a manifest under ``root`` (default: the manifest's root).

    Size is compared first (cheap), then the sha256. A listed path that is a folder counts
    as changed. Nothing is raised for problems: inspect the report or call
    :meth:`VerifyReport.raise_for_problems`.

    Args:
        allow_missing: files that are absent are counted in ``skipped`` instead of
            ``missing`` (to check a partial download of a large dataset).
    """
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    root_path = Path(root) if root is not None else manifest.default_root()
    if not root_path.is_dir():
        raise DataError(f"{root_path}: data root of manifest {manifest.name!r} is not a folder "
                        "(pass --root)")
    report = VerifyReport(root=root_path, manifest=str(manifest.manifest_path or
                                                       f"manifest {manifest.name!r}"))
    for entry in manifest.files:
        try:
            _verify_file(report, root_path / entry.path, entry, allow_missing)
        except (OSError, DataError) as exc:  # (no permission, an I/O error: the others are
            cause = exc.__cause__ if isinstance(exc, DataError) else exc  # still checked)
            why = (cause.strerror if isinstance(cause, OSError) and cause.strerror
                   else str(cause or exc))
            report.unreadable.append((entry.path, f"cannot be read ({why})"))
    return report
