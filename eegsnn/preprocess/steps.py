"""Preprocessing as data: a list of steps, each a name plus keyword arguments, run by MNE.

A chain is written in a config and replayed exactly; the validated chain (defaults filled
in) is recorded in every output and is part of the cache key::

    [{"step": "bandpass", "l_freq": 8, "h_freq": 30},
     {"step": "notch", "freqs": [50]},
     {"step": "resample", "sfreq": 128},
     {"step": "reref", "ref": "average"},
     {"step": "pick", "channels": ["C3", "Cz", "C4"]}]

==============  =====================================================  =======================
step            arguments (defaults)                                   MNE call
==============  =====================================================  =======================
``bandpass``    ``l_freq`` Hz or null, ``h_freq`` Hz or null,          ``raw.filter``
                ``method`` ("fir" | "iir", "fir")
``notch``       ``freqs`` Hz list, ``method`` ("fir")                  ``raw.notch_filter``
``resample``    ``sfreq`` Hz                                           ``raw.resample``
``reref``       ``ref``: "average" or channel names                    ``raw.set_eeg_reference``
``pick``        ``channels`` (names, any spelling) and/or ``types``    ``raw.pick``
``crop``        ``tmin_s`` (0), ``tmax_s`` (null = end)                ``raw.crop``
==============  =====================================================  =======================

Filters act on data channels (EEG, EOG, EMG, ...), as MNE's default picks do.
Per-channel standardisation is *not* a step: it must be fitted on training windows only,
see :class:`eegsnn.preprocess.standardize.ChannelStandardizer`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.channels import normalize_channel_name

__all__ = ["STEPS", "apply_steps", "validate_steps"]

# step name -> {argument: default}; a default of ... means required.
STEPS: dict[str, dict[str, Any]] = {
    "bandpass": {"l_freq": None, "h_freq": None, "method": "fir"},
    "notch": {"freqs": ..., "method": "fir"},
    "resample": {"sfreq": ...},
    "reref": {"ref": "average"},
    "pick": {"channels": None, "types": None},
    "crop": {"tmin_s": 0.0, "tmax_s": None},
}


def _positive(value: Any, where: str, what: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{where}: {what} must be a positive number, got {value!r}")
    return float(value)


def validate_steps(steps: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Check a preprocessing chain and return it with defaults filled in (a new list).

    Raises:
        ConfigError: naming the step (index and name) and the argument that is wrong.
    """
    if steps is None:
        return []
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise ConfigError(f"preprocess must be a list of steps, got {type(steps).__name__}")
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping) or "step" not in step:
            raise ConfigError(f"preprocess[{i}] must be a mapping with a 'step' key, got {step!r}")
        name = step["step"]
        if name not in STEPS:
            raise ConfigError(f"preprocess[{i}]: unknown step {name!r} (known: "
                              f"{', '.join(STEPS)})")
        where = f"preprocess[{i}] ({name})"
        spec = STEPS[name]
        unknown = set(step) - set(spec) - {"step"}
        if unknown:
            raise ConfigError(f"{where}: unknown argument(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(spec)})")
        args = {}
        for key, default in spec.items():
            if key in step:
                args[key] = copy.deepcopy(step[key])
            elif default is ...:
                raise ConfigError(f"{where}: missing required argument {key!r}")
            else:
                args[key] = default
        if name == "bandpass":
            args["l_freq"] = _positive(args["l_freq"], where, "l_freq", allow_none=True)
            args["h_freq"] = _positive(args["h_freq"], where, "h_freq", allow_none=True)
            if args["l_freq"] is None and args["h_freq"] is None:
                raise ConfigError(f"{where}: give l_freq and/or h_freq")
            if args["l_freq"] and args["h_freq"] and args["l_freq"] >= args["h_freq"]:
                raise ConfigError(f"{where}: l_freq ({args['l_freq']}) must be below "
                                  f"h_freq ({args['h_freq']})")
        if name in ("bandpass", "notch") and args["method"] not in ("fir", "iir"):
            raise ConfigError(f"{where}: method must be 'fir' or 'iir', got {args['method']!r}")
        if name == "notch":
            freqs = args["freqs"]
            freqs = [freqs] if isinstance(freqs, (int, float)) else freqs
            if not isinstance(freqs, Sequence) or not freqs:
                raise ConfigError(f"{where}: freqs must be a non-empty list of Hz")
            args["freqs"] = [_positive(f, where, "each notch frequency") for f in freqs]
        if name == "resample":
            args["sfreq"] = _positive(args["sfreq"], where, "sfreq")
        if name == "reref":
            ref = args["ref"]
            if ref != "average" and not (isinstance(ref, Sequence) and not isinstance(ref, str)
                                         and ref and all(isinstance(r, str) for r in ref)):
                raise ConfigError(f"{where}: ref must be 'average' or a list of channel names, "
                                  f"got {ref!r}")
            if ref != "average":
                args["ref"] = [normalize_channel_name(r) for r in ref]
        if name == "pick":
            if args["channels"] is None and args["types"] is None:
                raise ConfigError(f"{where}: give channels and/or types")
            for key in ("channels", "types"):
                val = args[key]
                if val is not None and (isinstance(val, str) or not isinstance(val, Sequence)
                                        or not val):
                    raise ConfigError(f"{where}: {key} must be a non-empty list")
            if args["channels"] is not None:
                args["channels"] = [normalize_channel_name(str(c)) for c in args["channels"]]
                dupes = {c for c in args["channels"] if args["channels"].count(c) > 1}
                if dupes:
                    raise ConfigError(f"{where}: channels listed twice: {sorted(dupes)}")
        if name == "crop":
            tmin = args["tmin_s"]
            if isinstance(tmin, bool) or not isinstance(tmin, (int, float)) or tmin < 0:
                raise ConfigError(f"{where}: tmin_s must be >= 0, got {tmin!r}")
            args["tmin_s"] = float(tmin)
            args["tmax_s"] = _positive(args["tmax_s"], where, "tmax_s", allow_none=True)
            if args["tmax_s"] is not None and args["tmax_s"] <= args["tmin_s"]:
                raise ConfigError(f"{where}: tmax_s must be above tmin_s")
        out.append({"step": name, **args})
    return out


def apply_steps(raw, steps: Sequence[Mapping[str, Any]], *, source: str = "recording"):
    """Run a validated chain on an MNE ``Raw`` in place and return it.

    Args:
        raw: MNE ``Raw`` with data loaded.
        steps: output of :func:`validate_steps` (validated again here).
        source: the file name, used in error messages.

    Raises:
        DataError: naming ``source`` and the step when the recording cannot take it
            (a requested channel missing, a filter above Nyquist, a crop past the end).
    """
    steps = validate_steps(steps)
    for i, step in enumerate(steps):
        name = step["step"]
        where = f"{source}: preprocess[{i}] ({name})"
        sfreq = raw.info["sfreq"]
        nyquist = sfreq / 2.0
        if name == "bandpass":
            for key in ("l_freq", "h_freq"):
                if step[key] is not None and step[key] >= nyquist:
                    raise DataError(f"{where}: {key}={step[key]} Hz is not below the Nyquist "
                                    f"frequency {nyquist:g} Hz of this recording")
        if name == "notch":
            above = [f for f in step["freqs"] if f >= nyquist]
            if above:
                raise DataError(f"{where}: notch at {above} Hz is not below the Nyquist "
                                f"frequency {nyquist:g} Hz of this recording")
        named = (step["channels"] if name == "pick" else
                 step["ref"] if name == "reref" and step["ref"] != "average" else None)
        for channel in named or ():
            # two spellings of one electrode (C3 and C3..) both keep their spelling when
            # read (standardize_channels): an exact match would take one at random
            same = [n for n in raw.ch_names if normalize_channel_name(n) == channel]
            if len(same) > 1:
                raise DataError(f"{where}: channel {channel} is ambiguous in this recording: "
                                f"{', '.join(same)} name the same electrode; the file must "
                                "hold one channel of that name (remove or rename the others "
                                "in it)")
        if name == "pick" and step["channels"] is not None:
            missing = [c for c in step["channels"] if c not in raw.ch_names]
            if missing:
                more = "..." if len(raw.ch_names) > 8 else ""
                raise DataError(f"{where}: channel(s) {', '.join(missing)} not in this "
                                f"recording (it has {len(raw.ch_names)}: "
                                f"{', '.join(raw.ch_names[:8])}{more})")
        if name == "reref" and step["ref"] != "average":
            missing = [c for c in step["ref"] if c not in raw.ch_names]
            if missing:
                raise DataError(f"{where}: reference channel(s) {', '.join(missing)} not in "
                                "this recording")
        if name == "crop" and step["tmin_s"] >= raw.times[-1]:
            raise DataError(f"{where}: tmin_s={step['tmin_s']} s is past the end of the "
                            f"recording ({raw.times[-1]:.2f} s)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _run_step(raw, step)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from exc
        except Exception as exc:
            raise DataError(f"{where}: MNE failed ({type(exc).__name__}: {exc})") from exc
    return raw


def _run_step(raw, step: dict[str, Any]) -> None:
    name = step["step"]
    if name == "bandpass":
        raw.filter(step["l_freq"], step["h_freq"], method=step["method"], verbose="error")
    elif name == "notch":
        raw.notch_filter(step["freqs"], method=step["method"], verbose="error")
    elif name == "resample":
        raw.resample(step["sfreq"], verbose="error")
    elif name == "reref":
        raw.set_eeg_reference(step["ref"], projection=False, verbose="error")
    elif name == "pick":
        picks: list[str] = []
        if step["types"] is not None:
            types = raw.get_channel_types()
            picks = [n for n, t in zip(raw.ch_names, types, strict=True) if t in step["types"]]
            if not picks:
                raise DataError(f"no channels of type(s) {step['types']} (types present: "
                                f"{sorted(set(types))})")
        if step["channels"] is not None:
            chosen = set(picks) if step["types"] is not None else None
            picks = [c for c in step["channels"] if chosen is None or c in chosen]
            if not picks:
                raise DataError("no channel is both in 'channels' and of the requested types")
        raw.pick(picks, verbose="error")
        if step["channels"] is not None:
            raw.reorder_channels(picks)
    elif name == "crop":
        tmax = step["tmax_s"]
        if tmax is not None:
            tmax = min(tmax, raw.times[-1])
        raw.crop(step["tmin_s"], tmax, verbose="error")
    else:  # pragma: no cover - validate_steps rejects unknown names
        raise ConfigError(f"unknown step {name!r}")
