"""Single-channel text segments (one sample per line), e.g. the Bonn epilepsy EEG set.

Bonn (Andrzejak et al. 2001): five sets Z, O, N, F, S (sets A-E), each segment one text
file of 4097 integers at 173.61 Hz; ``N/*.TXT`` use CRLF line endings, the others LF. Both
endings (and a missing final newline) are read the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from eegsnn.errors import ConfigError, DataError

__all__ = ["BONN_N_SAMPLES", "BONN_SETS", "BONN_SFREQ_HZ", "read_text_segment"]

BONN_SFREQ_HZ = 173.61
BONN_N_SAMPLES = 4097
# Folder (and file-name prefix) -> set letter used in Andrzejak et al. 2001, and content.
BONN_SETS = {
    "Z": ("A", "healthy, eyes open"),
    "O": ("B", "healthy, eyes closed"),
    "N": ("C", "seizure-free, hippocampal formation of the opposite hemisphere"),
    "F": ("D", "seizure-free, within the epileptogenic zone"),
    "S": ("E", "seizure activity"),
}


def read_text_segment(path: str | os.PathLike, *,
                      expected_samples: int | None = None,
                      uv_per_unit: float = 1.0) -> np.ndarray:
    """Read one single-channel text segment: one number per line, LF or CRLF endings.

    Args:
        path: the text file.
        expected_samples: if given, the number of samples the file must hold
            (4097 for Bonn).
        uv_per_unit: microvolts per unit of the values (1 for microvolts, 1e3 for
            millivolts, 1e6 for volts): a value whose microvolts exceed float32's range (the
            windows' type) is refused.

    Returns:
        float64 array ``[N]`` of the values as written (Bonn: microvolts).

    Raises:
        DataError: naming the file: unreadable, empty, a line that is not a number
            (with its line number), a non-finite value, or the wrong length.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path}: not a text segment (binary content)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text segment (non-ASCII byte at offset "
                        f"{exc.start})") from exc
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty text segment (no samples)")
    try:
        values = np.array(lines, dtype=np.float64)
    except ValueError:
        for i, line in enumerate(lines, start=1):
            try:
                float(line)
            except ValueError:
                raise DataError(f"{path}: line {i} is not a number: {line[:40]!r}") from None
        raise
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"{path}: non-finite value ({lines[bad[0]].strip()!r}) at line "
                        f"{bad[0] + 1} ({bad.size} in all)")
    # the windows hold float32 microvolts: a value beyond that range would become infinite
    huge = np.flatnonzero(np.abs(values) * uv_per_unit > np.finfo(np.float32).max)
    if huge.size:
        raise DataError(f"{path}: value {lines[huge[0]].strip()[:40]!r} at line "
                        f"{huge[0] + 1} is beyond any signal's range ({huge.size} in all)")
    if expected_samples is not None:
        if expected_samples <= 0:
            raise ConfigError(f"expected_samples must be positive, got {expected_samples}")
        if values.size != expected_samples:
            raise DataError(f"{path}: {values.size} samples, expected {expected_samples} "
                            "(a text segment carries no sampling rate: one recorded at "
                            "another rate needs it given, --sfreq / dataset.sfreq_hz)")
    return values
