"""Readers: EDF/EDF+/BDF (MNE or pyedflib), other MNE formats, text segments (Bonn), labels.

(MNIST IDX lives in :mod:`eegsnn.io.mnist`, imported on its own.)
"""

from __future__ import annotations

from eegsnn.io.channels import channel_type, normalize_channel_name, standardize_channels
from eegsnn.io.edf import EdfHeader, inspect_edf_header, read_pyedflib_arrays, write_edf
from eegsnn.io.files import (
    atomic_write_bytes,
    atomic_write_text,
    parse_recording_ids,
    sha256_file,
)
from eegsnn.io.labels import (
    SLEEP_EDF_STAGES,
    EventTable,
    find_hypnogram,
    label_from_path,
    parse_chbmit_summary,
    read_events_table,
    read_hypnogram,
    seizure_events,
)
from eegsnn.io.readers import Recording, detect_format, read_recording
from eegsnn.io.text import BONN_N_SAMPLES, BONN_SETS, BONN_SFREQ_HZ, read_text_segment

__all__ = [
    "BONN_N_SAMPLES",
    "BONN_SETS",
    "BONN_SFREQ_HZ",
    "SLEEP_EDF_STAGES",
    "EdfHeader",
    "EventTable",
    "Recording",
    "atomic_write_bytes",
    "atomic_write_text",
    "channel_type",
    "detect_format",
    "find_hypnogram",
    "inspect_edf_header",
    "label_from_path",
    "normalize_channel_name",
    "parse_chbmit_summary",
    "parse_recording_ids",
    "read_events_table",
    "read_hypnogram",
    "read_pyedflib_arrays",
    "read_recording",
    "read_text_segment",
    "seizure_events",
    "sha256_file",
    "standardize_channels",
    "write_edf",
]
