"""On-disk cache of preprocessed windows, keyed by input content and the config.

Key: sha256 of the canonical JSON of ``{cache format, eegsnn/MNE/NumPy versions,
[(relpath, sha256) of every input file], the validated dataset config}``. Every input file
is hashed on every call (never trusted by size and modification time: a file edited in
place keeps both), so changing one byte of one input file, one preprocessing argument or
the MNE version gives a new key; hashing costs far less than decoding the recording.
Entries are ``<cache_dir>/<key>.npz`` window sets written atomically, so an interrupted
run never leaves a half-written entry that a later run would trust.

Where: ``$EEGSNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/eegsnn/windows``, else
``~/.cache/eegsnn/windows`` (:func:`default_cache_dir`; a study config's ``cache_dir``
overrides it). Off: ``EEGSNN_CACHE=off`` (also ``0``, ``no``, ``false``) turns the cache
off for every command (:func:`cache_enabled`); ``eegsnn train --no-cache`` for one run.
``eegsnn evaluate`` does not write it unless asked (``--cache``). The windows hold EEG of
the recordings (no header identity: see :mod:`eegsnn.io.readers`); delete the folder to
remove them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import eegsnn
from eegsnn.errors import DataError
from eegsnn.preprocess.windows import WindowSet

__all__ = ["CACHE_ENV", "CACHE_FORMAT", "WindowCache", "cache_enabled", "cache_key",
           "default_cache_dir", "windowing_versions"]

#: 2 (2026-12-07): label_codes hold no free annotation text (entries of format 1 may)
CACHE_FORMAT = 2
#: environment variable that turns the window cache off (``off``, ``0``, ``no``, ``false``)
CACHE_ENV = "EEGSNN_CACHE"
_OFF = ("off", "0", "no", "false", "none")

log = logging.getLogger(__name__)


def cache_enabled() -> bool:
    """Whether the window cache may be used: false when ``$EEGSNN_CACHE`` is ``off``
    (or ``0``, ``no``, ``false``, ``none``, any case)."""
    return os.environ.get(CACHE_ENV, "").strip().lower() not in _OFF


def default_cache_dir() -> Path:
    """``$EEGSNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/eegsnn/windows``, else ``~/.cache/...``."""
    env = os.environ.get("EEGSNN_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eegsnn" / "windows"


@functools.lru_cache(maxsize=1)
def _cached_versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    out = {"eegsnn": eegsnn.__version__}
    for name in ("mne", "numpy", "scipy", "pyedflib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return tuple(out.items())


def windowing_versions() -> dict[str, str]:
    """Versions of the packages that shape the windows (part of the cache key)."""
    return dict(_cached_versions())


def cache_key(files: Sequence[tuple[str, str]], config: dict[str, Any]) -> str:
    """Hex sha256 naming a cache entry.

    Args:
        files: ``(relpath, sha256)`` of every input file, in load order.
        config: the validated dataset config (JSON-serialisable).
    """
    payload = {"format": CACHE_FORMAT, "versions": windowing_versions(),
               "files": [[str(r), str(h)] for r, h in files], "config": config}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class WindowCache:
    """A folder of cached window sets (``<key>.npz``)."""

    def __init__(self, cache_dir: str | os.PathLike | None = None) -> None:
        self.dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.npz"

    def load(self, key: str) -> WindowSet | None:
        """The cached set for ``key``, or ``None``: a miss, or a damaged entry (truncated,
        empty, corrupt), which is ignored with a warning naming the file; the caller's
        :meth:`save` then replaces it."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return WindowSet.load(path)
        except DataError as exc:
            log.warning("damaged window-cache entry ignored (the windows are rebuilt and "
                        "the entry replaced): %s", exc)
            return None

    def save(self, key: str, windows: WindowSet) -> Path:
        path = self.path(key)
        windows.save(path)
        return path
