"""MATLAB ``.mat`` recordings holding one signal array per file.

Several public seizure collections ship each segment as a ``.mat`` file with one numeric
array (``[n]`` one channel, or ``[C, n]`` / ``[n, C]``) and nothing else: no sampling rate,
no channel names, no unit. Those come from the user, per file in a JSON sidecar beside it
(``seg_001.mat`` -> ``seg_001.json``)::

    {"variable": "data", "sfreq_hz": 256, "unit": "uV", "ch_names": ["T7-T8"]}

or for every file from the dataset config (``mat_variable``, ``sfreq_hz``, ``text_unit``;
on the command line ``eegsnn evaluate ... --mat-var data --sfreq 256``). A sidecar
describes its own file and wins over the config. Without a variable name, the one numeric
1-D/2-D array of the file is used (several: an error listing them). A 2-D array is taken
as ``[C, n]`` when it has fewer rows than columns, else transposed (EEG has far more
samples than channels). Without names, one channel is ``EEG`` (as a Bonn text segment),
several are ``EEG001``, ``EEG002``, ...

MATLAB v4-v7.2 files are read with :func:`scipy.io.loadmat`; v7.3 (HDF5) files need
``pymatreader`` (``pip install 'eegsnn[eeglab]'``).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.extras import require

__all__ = ["MatSignal", "mat_sidecar", "read_mat_signal"]

_UNITS = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}
_SIDECAR_KEYS = {"variable", "sfreq_hz", "unit", "ch_names"}


@dataclass
class MatSignal:
    """One ``.mat`` recording: ``data [C, n]`` in volts, its rate and channel names."""

    data: np.ndarray
    sfreq_hz: float
    ch_names: list[str]
    variable: str


def mat_sidecar(path: str | os.PathLike) -> Path | None:
    """The JSON sidecar of a ``.mat`` file (same folder and stem), or ``None``."""
    side = Path(path).with_suffix(".json")
    return side if side.is_file() else None


def _read_sidecar(path: Path) -> dict[str, Any]:
    side = mat_sidecar(path)
    if side is None:
        return {}
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{side}: cannot read the sidecar of {path.name} ({exc})") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{side}: the sidecar must be a JSON object")
    unknown = set(meta) - _SIDECAR_KEYS
    if unknown:
        raise DataError(f"{side}: unknown key(s) {sorted(unknown)} (known: "
                        f"{', '.join(sorted(_SIDECAR_KEYS))})")
    return meta


def _load_variables(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    try:
        return {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    except NotImplementedError:  # MATLAB v7.3: HDF5
        reader = require("pymatreader", "eeglab", "reading MATLAB v7.3 (HDF5) files")
        try:
            return dict(reader.read_mat(str(path)))
        except Exception as exc:  # h5py raises many types for corrupt files
            raise DataError(f"{path}: cannot read this MATLAB v7.3 file ({exc})") from exc
    except Exception as exc:  # scipy raises MatReadError, ValueError, struct.error ...
        raise DataError(f"{path}: not a readable MATLAB .mat file "
                        f"({type(exc).__name__}: {exc})") from exc


def read_mat_signal(path: str | os.PathLike, *, variable: str | None = None,
                    sfreq_hz: float | None = None, unit: str = "uV") -> MatSignal:
    """Read the signal array of a ``.mat`` file (see the module docstring).

    Args:
        variable: name of the array (default: the sidecar's, else the only one).
        sfreq_hz: sampling rate (the sidecar's wins).
        unit: unit of the values, ``uV`` (default), ``mV`` or ``V`` (the sidecar's wins).

    Raises:
        DataError: naming the file: unreadable, no or several candidate arrays, a named
        variable missing, no sampling rate, a non-numeric or empty array.
    """
    path = Path(path)
    meta = _read_sidecar(path)
    variable = meta.get("variable", variable)
    sfreq_hz = meta.get("sfreq_hz", sfreq_hz)
    unit = meta.get("unit", unit)
    side = path.with_suffix(".json").name
    hint = f"give it with --sfreq (dataset.sfreq_hz) or a sidecar {side}"
    if variable is not None and not isinstance(variable, str):
        raise DataError(f"{path}: the array's name (sidecar {side} 'variable', or "
                        f"--mat-var) must be a string, got {variable!r}")
    if isinstance(sfreq_hz, bool) or not isinstance(sfreq_hz, (int, float)) or \
            not 0 < sfreq_hz < math.inf:
        raise DataError(f"{path}: the sampling rate of a .mat file is not known ({sfreq_hz!r}); "
                        f"{hint} {{\"sfreq_hz\": 256}}")
    if unit not in _UNITS:
        raise ConfigError(f"{path}: unit must be one of {', '.join(_UNITS)}, got {unit!r}")
    found = _load_variables(path)
    arrays = {k: v for k, v in found.items() if isinstance(v, np.ndarray)
              and v.dtype.kind in "iuf" and v.ndim in (1, 2) and v.size > 1}
    if variable is None:
        if len(arrays) != 1:
            listed = ", ".join(sorted(found)) or "none"
            raise DataError(f"{path}: {'no' if not arrays else len(arrays)} numeric signal "
                            f"arrays (variables: {listed}); name one with --mat-var "
                            f"(dataset.mat_variable) or a sidecar "
                            f"{path.with_suffix('.json').name} {{\"variable\": ...}}")
        variable = next(iter(arrays))
    if variable not in found:
        raise DataError(f"{path}: no variable {variable!r} (variables: "
                        f"{', '.join(sorted(found)) or 'none'})")
    if variable not in arrays:
        value = found[variable]
        raise DataError(f"{path}: variable {variable!r} is not a 1-D or 2-D numeric array "
                        f"({type(value).__name__} {getattr(value, 'shape', '')})")
    data = np.asarray(arrays[variable], dtype=np.float64)
    data = data[None, :] if data.ndim == 1 else data
    if data.shape[0] > data.shape[1]:
        data = data.T  # [n, C] -> [C, n]
    names = meta.get("ch_names")
    if names is None:
        names = ["EEG"] if data.shape[0] == 1 else [f"EEG{i + 1:03d}"
                                                    for i in range(data.shape[0])]
    if not isinstance(names, list) or len(names) != data.shape[0]:
        raise DataError(f"{path}: the sidecar's ch_names {names!r} do not name the "
                        f"{data.shape[0]} channel(s) of the array {variable!r}")
    names = [str(n) for n in names]
    twice = sorted(n for n, count in Counter(names).items() if count > 1)
    if twice:
        raise DataError(f"{path}: the sidecar {side} names channel(s) {', '.join(twice)} "
                        "more than once; give each channel its own name")
    return MatSignal(data * _UNITS[unit], float(sfreq_hz), names, variable)
