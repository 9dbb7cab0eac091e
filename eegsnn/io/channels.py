"""Channel names, types and montages.

EEG files name the same electrode many ways: EEGMMIDB pads names with dots (``C3..``,
``Fcz.``), clinical EDFs prefix the type (``EEG Fp1-REF``), Sleep-EDF writes
``EEG Fpz-Cz``. :func:`normalize_channel_name` maps them to the 10-05 spelling
(``C3``, ``FCz``, ``Fp1``) when the name is a known electrode, and otherwise just strips
padding and the type prefix. :func:`channel_type` guesses the MNE channel type from the
name; :func:`standardize_channels` applies both (and a standard montage) to an MNE Raw.
"""

from __future__ import annotations

import functools
import re

__all__ = ["channel_type", "normalize_channel_name", "standardize_channels"]

_TYPE_PREFIXES = {
    "EEG": "eeg", "EOG": "eog", "EMG": "emg", "ECG": "ecg", "EKG": "ecg",
    "RESP": "resp", "TEMP": "misc", "SAO2": "bio", "SPO2": "bio", "STIM": "stim",
}
_REF_SUFFIX = re.compile(r"[-_ ](REF|Ref|ref|LE|AVG|Avg|avg|A1|A2|M1|M2)$")
# MNE >= 1.13 calls the 10-05 template "colin27_1005" ("standard_1005" is deprecated).
_MONTAGES = ("colin27_1005", "standard_1005")


@functools.lru_cache(maxsize=1)
def _montage_name() -> str:
    import mne

    available = mne.channels.get_builtin_montages()
    return next(m for m in _MONTAGES if m in available)


@functools.lru_cache(maxsize=1)
def _template():
    import mne

    return mne.channels.make_standard_montage(_montage_name())


@functools.lru_cache(maxsize=1)
def _standard_names() -> dict[str, str]:
    """Upper-case 10-05 electrode name -> its canonical spelling."""
    return {n.upper(): n for n in _template().ch_names}


def normalize_channel_name(name: str) -> str:
    """The conventional spelling of a channel name.

    ``"C3.."`` -> ``"C3"``, ``"Fcz."`` -> ``"FCz"``, ``"EEG Fp1-REF"`` -> ``"Fp1"``,
    ``"EEG Fpz-Cz"`` -> ``"Fpz-Cz"``, ``"FP1-F7"`` -> ``"Fp1-F7"``,
    ``"EOG horizontal"`` -> ``"EOG horizontal"`` (type prefixes other than EEG are kept:
    they are part of what the channel is).
    """
    clean = name.strip().strip(".").strip()
    upper = clean.upper()
    if upper.startswith("EEG ") or upper.startswith("EEG-"):
        clean = clean[4:].strip()
    clean = _REF_SUFFIX.sub("", clean)
    std = _standard_names()
    if clean.upper() in std:
        return std[clean.upper()]
    # Bipolar derivations between two known electrodes: "FP1-F7" -> "Fp1-F7".
    parts = clean.split("-")
    if len(parts) == 2 and all(p.upper() in std for p in parts):
        return "-".join(std[p.upper()] for p in parts)
    return clean


def channel_type(name: str) -> str:
    """MNE channel type guessed from a (raw or normalised) channel name; default ``"eeg"``."""
    upper = name.strip().upper()
    for prefix, kind in _TYPE_PREFIXES.items():
        if upper.startswith(prefix):
            return kind
    if upper.startswith(("EVENT", "MARKER", "ANNOT", "STATUS", "TRIGGER")):
        return "stim"
    if upper.startswith(("LOC", "ROC")):
        return "eog"
    if upper.startswith(("CHIN", "LEG")):
        return "emg"
    return "eeg"


def standardize_channels(raw, *, set_types: bool = True, montage: bool = True) -> dict[str, str]:
    """Normalise channel names, set channel types and apply the 10-05 montage, in place.

    Names that would collide after normalisation keep their original spelling. The
    montage is applied to EEG channels whose names are 10-05 electrodes; others keep no
    position.

    Args:
        raw: an MNE ``Raw`` (modified in place).
        set_types: set channel types from the names (:func:`channel_type`).
        montage: apply 10-05 template positions where names allow.

    Returns:
        The rename mapping ``{old: new}`` that was applied.
    """

    old = list(raw.ch_names)
    new = [normalize_channel_name(n) for n in old]
    counts: dict[str, int] = {}
    for n in new:
        counts[n] = counts.get(n, 0) + 1
    mapping = {o: n for o, n in zip(old, new, strict=True) if o != n and counts[n] == 1
               and n not in old}
    if mapping:
        raw.rename_channels(mapping)
    if set_types:
        current = raw.get_channel_types()
        types = {}
        for o, n, have in zip(old, raw.ch_names, current, strict=True):
            kind = channel_type(o)
            if kind != have:
                types[n] = kind
        if types:
            raw.set_channel_types(types, on_unit_change="ignore", verbose="error")
    if montage:
        std = _standard_names()
        eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types(), strict=True)
               if t == "eeg"]
        if any(n.upper() in std for n in eeg):
            raw.set_montage(_template().copy(), on_missing="ignore", verbose="error")
    return mapping
