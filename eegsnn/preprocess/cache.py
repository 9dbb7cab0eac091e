"""On-disk cache of preprocessed windows, keyed by input checksums and the config.

Key: sha256 of the canonical JSON of ``{cache format, eegsnn/MNE/NumPy versions,
[(relpath, sha256) of every input file], the validated dataset config}``. Changing one
byte of one input file, one preprocessing argument or the MNE version gives a new key.
Entries are ``<cache_dir>/<key>.npz`` window sets written atomically, so an interrupted
run never leaves a half-written entry that a later run would trust.

File checksums are memoised in ``<cache_dir>/file_hashes.json`` by (absolute path, size,
mtime in ns) so a second run does not re-hash unchanged gigabytes. The cache holds no
patient identity: window sets carry none (see :mod:`eegsnn.io.readers`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import eegsnn
from eegsnn.errors import DataError
from eegsnn.io.files import atomic_write_text, sha256_file
from eegsnn.preprocess.windows import WindowSet

__all__ = ["CACHE_FORMAT", "WindowCache", "cache_key", "default_cache_dir",
           "windowing_versions"]

CACHE_FORMAT = 1


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
    """A folder of cached window sets (``<key>.npz``) plus the checksum memo."""

    def __init__(self, cache_dir: str | os.PathLike | None = None) -> None:
        self.dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._memo_path = self.dir / "file_hashes.json"
        self._memo: dict[str, dict] | None = None

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.npz"

    def load(self, key: str) -> WindowSet | None:
        """The cached set for ``key``, or ``None`` (a corrupt entry is ignored and replaced)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return WindowSet.load(path)
        except DataError:
            return None

    def save(self, key: str, windows: WindowSet) -> Path:
        path = self.path(key)
        windows.save(path)
        return path

    def _load_memo(self) -> dict[str, dict]:
        if self._memo is None:
            try:
                self._memo = json.loads(self._memo_path.read_text())
                if not isinstance(self._memo, dict):
                    self._memo = {}
            except (OSError, ValueError):
                self._memo = {}
        return self._memo

    def file_sha256(self, path: str | os.PathLike) -> str:
        """sha256 of a file, memoised by (absolute path, size, mtime_ns)."""
        path = Path(path)
        try:
            st = path.stat()
        except OSError as exc:
            raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
        memo = self._load_memo()
        key = str(path.resolve())
        entry = memo.get(key)
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            return str(entry["sha256"])
        digest = sha256_file(path)
        memo[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        return digest

    def flush_memo(self) -> None:
        if self._memo is not None:
            try:
                atomic_write_text(self._memo_path, json.dumps(self._memo, sort_keys=True))
            except OSError:
                pass  # a read-only cache folder only loses the memo
