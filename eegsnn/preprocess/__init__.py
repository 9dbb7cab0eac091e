"""Preprocessing: declarative MNE steps, windows and labels, standardisation, splits, cache.

From recordings to windows in one call (cached on disk; a second call reads the cache)::

    from eegsnn.preprocess import ChannelStandardizer, group_kfold, load_windows

    config = {
        "preprocess": [{"step": "bandpass", "l_freq": 8, "h_freq": 30}],
        "windows": {"mode": "events", "window_s": 4.0},
        "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
    }
    ws = load_windows("data_manifests/eegmmidb_s001.yaml", config)  # or files / a folder
    ws.X          # float32 [W, C, n] microvolts;  ws.y int64 [W];  ws.class_names
    for train, test in group_kfold(ws.groups("recording"), n_splits=4):
        scaler = ChannelStandardizer().fit(ws.X[train])     # training windows only
        X_train, X_test = scaler.transform(ws.X[train]), scaler.transform(ws.X[test])

Bonn: ``{"sfreq_hz": 173.61, "expected_samples": 4097, "windows": {"mode": "sliding",
"window_s": 23.6}, "labels": {"source": "path", "mapping": {"Z": "A", ..., "S": "E"}}}``.
"""

from __future__ import annotations

from eegsnn.preprocess.cache import WindowCache, cache_key, default_cache_dir
from eegsnn.preprocess.dataset import (
    list_recordings,
    load_config,
    load_windows,
    validate_config,
)
from eegsnn.preprocess.splits import (
    check_disjoint,
    group_kfold,
    group_train_test_split,
    leave_groups_out,
)
from eegsnn.preprocess.standardize import ChannelStandardizer
from eegsnn.preprocess.steps import STEPS, apply_steps, validate_steps
from eegsnn.preprocess.windows import (
    WindowPlan,
    WindowSet,
    event_window_starts,
    extract_windows,
    plan_windows,
    sliding_window_starts,
    span_labels,
    window_samples,
)

__all__ = [
    "STEPS",
    "ChannelStandardizer",
    "WindowCache",
    "WindowPlan",
    "WindowSet",
    "apply_steps",
    "cache_key",
    "check_disjoint",
    "default_cache_dir",
    "event_window_starts",
    "extract_windows",
    "group_kfold",
    "group_train_test_split",
    "leave_groups_out",
    "list_recordings",
    "load_config",
    "load_windows",
    "plan_windows",
    "sliding_window_starts",
    "span_labels",
    "validate_config",
    "validate_steps",
    "window_samples",
]
