"""File helpers shared by the data layer: checksums, atomic writes, recording ids.

- :func:`sha256_file` hashes a file in 1 MiB blocks.
- :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json` (and
  :func:`atomic_open`, :func:`atomic_path` for writers that stream or take a file name) write to
  a temporary file in the destination folder and ``os.replace`` it into place, so a crash or an
  error never leaves a half-written output behind. :func:`current_umask` gives the mode such a
  file gets.
- :func:`json_default` (NumPy scalars and arrays to JSON) and :func:`dump_yaml` (a config as
  its YAML file holds it), the one JSON/YAML writing convention of every layer.
- :func:`read_yaml_mapping` reads a YAML file that must hold a mapping (configs, manifests),
  with one-line errors naming the file.
- :func:`parse_recording_ids` reads subject / session / run from a file name using the
  naming schemes of the public EEG datasets (EEGMMIDB, BIDS, CHB-MIT, Sleep-EDF).
- :func:`exclusive_lock` keeps two processes from writing one output at the same time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import yaml

from eegsnn.errors import ConfigError, DataError

__all__ = [
    "ID_PATTERNS",
    "ConfigDumper",
    "ConfigLoader",
    "DuplicateKeyError",
    "Lock",
    "LockHeld",
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_npz",
    "atomic_write_text",
    "canonical_path",
    "current_umask",
    "dump_yaml",
    "exclusive_lock",
    "file_in_the_way",
    "holds_cwd",
    "in_the_way",
    "is_temp_name",
    "json_default",
    "load_config_yaml",
    "parse_recording_ids",
    "read_yaml_mapping",
    "remove_temp_files",
    "sha256_file",
    "yaml_error_text",
]

_BLOCK = 1 << 20


def canonical_path(path: str | os.PathLike) -> Path:
    """``path`` absolute, its folders resolved (symbolic links followed, ``..`` removed),
    its own name kept even when it is a link.

    One recording has one such path however it is reached (through a linked working
    directory, a relative or an absolute path), and it keeps the name it is given under: in
    a DataLad / git-annex dataset every file is a link to a hashed object name, which
    would otherwise become the recording's name.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):  # a folder named by "." or "..": resolve it whole
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def file_in_the_way(folder: str | os.PathLike) -> Path | None:
    """The first of ``folder`` and its parents that exists, when it is not a folder, or
    that is a link leading nowhere (an unmounted drive): what keeps ``folder`` from being
    made (``None``: nothing is in the way; :func:`in_the_way` says what it is)."""
    path = Path(folder)
    for candidate in (path, *path.parents):
        if candidate.is_symlink() and not candidate.exists():
            return candidate
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def in_the_way(blocking: Path) -> str:
    """What :func:`file_in_the_way` found, for a message: ``"X is a file, not a folder"``,
    ``"X is a link to Y, which does not exist"`` (``Y`` from the link's own folder),
    ``"X is a link (through L) to Y, which does not exist"`` (a chain of links) or ``"X is
    a link that leads nowhere (a loop of links)"``."""
    if blocking.is_symlink() and not blocking.exists():
        target = Path(blocking.parent, os.readlink(blocking))
        if not target.is_symlink():
            return f"{blocking} is a link to {target}, which does not exist"
        end = Path(os.path.realpath(blocking))  # a chain of links: where it ends
        if end.is_symlink():
            return f"{blocking} is a link that leads nowhere (a loop of links)"
        return f"{blocking} is a link (through {target}) to {end}, which does not exist"
    return f"{blocking} is a file, not a folder"


class LockHeld(ConfigError):
    """:func:`exclusive_lock`: another process holds the lock (``pid``: its process id as
    the lock file records it, ``None`` if unknown)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


@dataclass(frozen=True)
class Lock:
    """What :func:`exclusive_lock` got: ``held`` (the lock is this block's), else ``why``
    no lock could be had."""

    path: Path
    held: bool
    why: str = ""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[Lock]:
    """Hold an exclusive lock on the file ``path`` for the ``with`` block (POSIX ``flock``,
    advisory: it keeps out whoever asks for the same lock). The file is made if missing,
    holds the holder's process id, and is removed on release; a process that dies (even by
    ``kill -9``) releases its lock with it, and the file it leaves is taken over by the
    next holder.

    Yields a :class:`Lock`; ``held`` is false where no lock can be had, with ``why``: a
    platform without ``fcntl``, a folder that cannot be written, a file system without
    ``flock``, or something at ``path`` that is not a lock file (a link, which is never
    followed, a folder, a file holding anything but a process id: never emptied).

    Raises:
        LockHeld: another process (or another ``with`` of this one) holds it.
    """
    path = Path(path)
    fd: int | None = None
    why = ""
    try:
        import fcntl
    except ImportError:  # not POSIX
        fcntl = None  # type: ignore[assignment]
        why = "no fcntl on this platform"
    while fcntl is not None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as exc:  # a link (ELOOP), a folder, no write permission
            why = f"cannot open {path}: {exc.strerror or exc}"
            break
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            fd, why = None, f"{path} is not a regular file"
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid: int | None = None
            for _ in range(20):  # the holder writes its pid just after it locks
                try:
                    pid = int(os.pread(fd, 32, 0).decode("ascii").strip() or 0) or None
                except (OSError, ValueError):
                    break
                if pid is not None:
                    break
                time.sleep(0.01)
            os.close(fd)
            raise LockHeld(f"{path} is held by process {pid or '(unknown)'}", pid) from None
        except OSError as exc:  # no flock here
            with contextlib.suppress(OSError):  # (an empty one: made just now)
                if os.fstat(fd).st_size == 0:
                    os.unlink(path)
            os.close(fd)
            fd, why = None, f"no flock on this file system ({exc.strerror or exc})"
            break
        try:  # the holder before may have removed the file between our open and flock
            same = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
        except OSError:
            same = False
        if not same:
            os.close(fd)
            fd = None
            continue
        held = os.pread(fd, 64, 0).strip()
        if held and not held.isdigit():  # someone's file, not a lock file: left alone
            os.close(fd)
            fd, why = None, f"{path} exists and is not a lock file"
        break
    try:
        if fd is not None:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield Lock(path, fd is not None, why)
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):  # removed while held: a waiting process
                # then makes a new one (checked above); one made by another run after a
                # user deleted ours is that run's
                if os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
                    os.unlink(path)
            os.close(fd)


def holds_cwd(path: str | os.PathLike) -> str | None:
    """``"the current folder"`` or ``"the current folder or one above it"`` when ``path``
    (links followed) is that, else ``None``: an output folder that must not be replaced
    or moved while this process works in it."""
    full = Path(os.path.realpath(path))
    cwd = Path(os.path.realpath(os.getcwd()))
    if full == cwd:
        return "the current folder"
    return "the current folder or one above it" if full in cwd.parents else None


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path`` (read in 1 MiB blocks).

    Raises :class:`DataError` naming the file if it cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; move it into place on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600; use the usual mode
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename == tmp:  # (os.replace onto a folder:
            # named by the file the caller asked for, not the temp file)
            raise OSError(exc.errno, exc.strerror, str(dest)) from exc
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that take a file name (pyedflib): it is
    moved onto ``path`` when the block succeeds and removed when it raises."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.writing")
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):  # (a read-only disk: keep the writer's error)
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_npz(path: str | os.PathLike, arrays: Mapping[str, Any], *,
                     compressed: bool = True) -> None:
    """Write ``arrays`` (name -> array) as a NumPy ``.npz`` archive at ``path`` atomically
    (``numpy.savez_compressed``, or ``numpy.savez`` with ``compressed=False``)."""
    save = np.savez_compressed if compressed else np.savez
    with atomic_open(path) as fh:
        save(fh, **arrays)


# What the atomic writers of eegsnn leave behind when the process is killed mid-write:
# atomic_open (``.NAME.XXXXXXXX.tmp``), atomic_path (``.NAME.PID.writing``), figures
# (``.NAME.XXXXXXXX.png``), checkpoint swaps (folders ``.NAME.tmp-XXXXXXXX`` and
# ``.NAME.old-PID``) and ``NAME.tmp.npz`` (LSM readouts).
_TEMP_FILE = re.compile(r"^\..+\.(tmp|writing)$|^\..+\.[A-Za-z0-9_]{8}\.(png|pdf|svg|jpe?g)$"
                        r"|^[^.].*\.tmp\.npz$")
_TEMP_DIR = re.compile(r"^\..+\.(tmp-[A-Za-z0-9_]+|old-\d+)$")


def is_temp_name(name: str, *, folder: bool = False) -> bool:
    """Whether ``name`` (a file, or with ``folder=True`` a folder) is a temporary file of
    eegsnn's atomic writers (never an output under its final name)."""
    return bool((_TEMP_DIR if folder else _TEMP_FILE).match(name))


def remove_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove, anywhere below ``folder``, the temporary files and folders that eegsnn's
    atomic writers leave when a process is killed while writing (see ``_TEMP_FILE``).

    Call it only while no other process writes into ``folder``. Returns what was removed.
    """
    root = Path(folder)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for dirpath, dirnames, filenames in os.walk(root):
        for name in list(dirnames):
            if is_temp_name(name, folder=True):
                shutil.rmtree(Path(dirpath) / name, ignore_errors=True)
                removed.append(Path(dirpath) / name)
                dirnames.remove(name)
        for name in filenames:
            if is_temp_name(name):
                with contextlib.suppress(FileNotFoundError):
                    (Path(dirpath) / name).unlink()
                removed.append(Path(dirpath) / name)
    return sorted(removed)


def current_umask() -> int:
    """The process's umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """:class:`ConfigLoader`: a key given twice in one mapping."""


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader for configs, with two changes a config writer expects:

    * a number in exponent form without a dot (``1e-2``, ``5E3``) is a float, as in YAML
      1.2 and JSON (PyYAML's YAML 1.1 rules read it as the *string* ``"1e-2"``, which then
      failed deep inside training);
    * a key given twice in one mapping is an error naming both lines (PyYAML keeps the
      last silently, so a second ``train:`` section replaced the first). Keys merged in
      with ``<<`` may still be overridden.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:  # an unhashable key: PyYAML's own error follows
                continue
            if first is not key_node.start_mark:
                raise DuplicateKeyError(
                    None, None, f"duplicate key {key!r} (first on line {first.line + 1}, "
                    f"column {first.column + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


class ConfigDumper(yaml.SafeDumper):
    """The dumper of :func:`dump_yaml`: it quotes a string that :class:`ConfigLoader`
    would read as a number (``'1e3'``), so a saved config reads back as it was."""


_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
for _cls in (ConfigLoader, ConfigDumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT,
                               list("-+0123456789."))


def load_config_yaml(text: str) -> Any:
    """``text`` parsed as YAML with :class:`ConfigLoader` (configs and ``--set`` values)."""
    return yaml.load(text, Loader=ConfigLoader)


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """``line L, column C: problem`` of a PyYAML error (its first line when unmarked)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return str(exc).splitlines()[0]
    hint = (" (YAML indents with spaces, not tabs)" if "'\\t'" in problem or "\t" in problem
            else "")
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}{hint}"


def read_yaml_mapping(path: str | os.PathLike, what: str, loader: Any = None) -> Any:
    """Parse the YAML file ``path`` (a ``what``: "config", "manifest"...).

    Args:
        loader: a PyYAML loader class (default :class:`ConfigLoader`).

    Returns:
        The parsed document; :class:`ConfigError` unless it is a mapping.

    Raises:
        DataError: the file cannot be read or is not valid YAML.
    """
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"),
                         Loader=loader or ConfigLoader)
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {yaml_error_text(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text file (byte {exc.start} is not UTF-8); a {what} "
                        "is a YAML text file") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a {what} is a YAML mapping, got {type(data).__name__}")
    return data


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``)."""
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays (and array-likes such as
    ``mlx.core.array``, through ``numpy.asarray``)."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        return np.asarray(obj).tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON (NumPy values converted, :func:`json_default`)
    atomically, with a final newline."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=json_default) + "\n")


def dump_yaml(obj: Any) -> str:
    """``obj`` as YAML text, keys in their order (NumPy values converted as for JSON)."""
    return yaml.dump(json.loads(json.dumps(obj, default=json_default)), Dumper=ConfigDumper,
                     sort_keys=False, allow_unicode=True, width=100)


# Named groups ``subject``, ``session``, ``run``; tried in order against the file name.
ID_PATTERNS: dict[str, str] = {
    # BIDS: sub-01_ses-02_task-x_run-03_eeg.edf
    "bids": r"sub-(?P<subject>[A-Za-z0-9]+)(?:_ses-(?P<session>[A-Za-z0-9]+))?"
    r"(?:.*_run-(?P<run>[A-Za-z0-9]+))?",
    # EEGMMIDB: S001R04.edf
    "eegmmidb": r"^S(?P<subject>\d{3})R(?P<run>\d{2})\b",
    # CHB-MIT: chb01_03.edf (chb17a_03.edf for the re-recorded case)
    "chbmit": r"^chb(?P<subject>\d{2}[a-z]?)_(?P<run>\d+)",
    # Sleep-EDF: SC4001E0-PSG.edf (subject 00, night 1), ST7011J0-PSG.edf
    "sleep_edf": r"^S(?P<study>[CT])[47](?P<subject>\d{2})(?P<session>\d)",
}


def parse_recording_ids(relpath: str | os.PathLike, pattern: str | None = None, *,
                        fallback_to_stem: bool = True) -> dict[str, str]:
    """Subject, session and run of a recording, read from its file name.

    Args:
        relpath: path of the file (only the file name is matched, unless ``pattern``
            contains a ``/``, in which case the whole POSIX relative path is matched).
        pattern: a regular expression with named groups ``subject``, ``session`` and/or
            ``run``. ``None`` tries :data:`ID_PATTERNS` in order.

    Returns:
        ``{"subject": ..., "session": ..., "run": ...}``; fields the name does not give are
        ``""``. When no pattern matches, ``subject`` is the file stem (each file its own
        group, so leak-free splits stay correct, if conservative), or ``""`` with
        ``fallback_to_stem=False``.
    """
    posix = Path(relpath).as_posix()
    name = Path(relpath).name
    patterns = [pattern] if pattern else list(ID_PATTERNS.values())
    for pat in patterns:
        try:
            regex = re.compile(pat)
        except re.error as exc:
            raise ConfigError(f"id pattern {pat!r} is not a valid regular expression: "
                              f"{exc}") from exc
        match = regex.search(posix if "/" in pat else name)
        if match:
            groups = match.groupdict()
            out = {k: (groups.get(k) or "") for k in ("subject", "session", "run")}
            if groups.get("study"):
                out["subject"] = f"{groups['study']}{out['subject']}"
            if out["subject"]:
                return out
    stem = name.split(".")[0] if fallback_to_stem else ""
    return {"subject": stem, "session": "", "run": ""}
