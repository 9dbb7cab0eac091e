"""Leak-free splits: windows of one group (subject or recording) never straddle train/test.

Windows cut from the same recording are strongly correlated (overlapping samples, same
electrode impedances, same day); splitting them at random inflates accuracy. Every
function here works on a ``groups`` array (``WindowSet.groups(by=...)``) and returns
integer index arrays; :func:`check_disjoint` raises if a split leaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from eegsnn.errors import ConfigError, DataError

__all__ = ["check_disjoint", "group_kfold", "group_train_test_split", "identical_recordings",
           "leave_groups_out", "merge_identical_groups"]


def _as_groups(groups: Sequence | np.ndarray) -> np.ndarray:
    g = np.asarray(groups).reshape(-1)
    if g.size == 0:
        raise ConfigError("groups is empty: there are no windows to split")
    return g.astype(str)


def group_kfold(groups: Sequence | np.ndarray, n_splits: int = 5, *, seed: int | None = 0
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds over groups, balanced by window count.

    Groups are shuffled with ``seed`` (``None``: kept in sorted order), then, largest
    first, each goes to the fold with the fewest windows so far (as scikit-learn's
    ``GroupKFold``). Every group is in exactly one test fold.

    Returns:
        ``n_splits`` pairs ``(train_idx, test_idx)`` of sorted int64 indices.

    Raises:
        ConfigError: ``n_splits < 2`` or more folds than groups.
    """
    g = _as_groups(groups)
    names, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ConfigError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    if n_splits > names.size:
        raise ConfigError(f"n_splits={n_splits} is more than the {names.size} groups "
                          f"({', '.join(names[:5])}{'...' if names.size > 5 else ''}); "
                          "for one fold per group, split.n_splits: all in a study config "
                          "(--set split.n_splits=all; --folds all in direct mode)")
    order = np.arange(names.size)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(names.size)
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = np.empty(names.size, dtype=np.int64)
    load = np.zeros(n_splits, dtype=np.int64)
    for gi in order:
        f = int(np.argmin(load))
        fold_of[gi] = f
        load[f] += counts[gi]
    window_fold = fold_of[inverse]
    out = []
    for f in range(n_splits):
        test = np.flatnonzero(window_fold == f)
        train = np.flatnonzero(window_fold != f)
        out.append((train, test))
    return out


def leave_groups_out(groups: Sequence | np.ndarray, test_groups: Iterable[str]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Train on every group except ``test_groups``; test on those.

    Raises:
        ConfigError: a test group that is not present, or no training group left.
    """
    g = _as_groups(groups)
    test_groups = [str(t) for t in test_groups]
    present = set(g.tolist())
    missing = [t for t in test_groups if t not in present]
    if missing:
        raise ConfigError(f"test group(s) {missing} not among the groups "
                          f"({', '.join(sorted(present)[:5])}...)")
    mask = np.isin(g, test_groups)
    if mask.all():
        raise ConfigError("leave_groups_out: every group is a test group; nothing to train on")
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def group_train_test_split(groups: Sequence | np.ndarray, test_fraction: float = 0.2, *,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random split of whole groups, test holding about ``test_fraction`` of the windows.

    Groups are shuffled with ``seed`` and moved to test until it holds at least
    ``test_fraction`` of the windows (at least one group, never all of them).
    """
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    g = _as_groups(groups)
    names, counts = np.unique(g, return_counts=True)
    if names.size < 2:
        raise ConfigError(f"need at least two groups to split, found {names.size} "
                          f"({names[0]}); split by a finer group (e.g. 'recording')")
    order = np.random.default_rng(seed).permutation(names.size)
    target = test_fraction * g.size
    chosen, total = [], 0
    for gi in order[:-1]:
        chosen.append(names[gi])
        total += counts[gi]
        if total >= target:
            break
    return leave_groups_out(g, chosen)


def check_disjoint(groups: Sequence | np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray
                   ) -> None:
    """Raise :class:`DataError` if any group has windows in both train and test."""
    g = _as_groups(groups)
    shared = set(g[np.asarray(train_idx, dtype=np.int64)].tolist()) & set(
        g[np.asarray(test_idx, dtype=np.int64)].tolist())
    if shared:
        raise DataError(f"split leaks: group(s) {sorted(shared)[:5]} in both train and test")


def identical_recordings(files: Iterable[Mapping[str, object]],
                         recordings: Iterable[str] | None = None) -> list[list[str]]:
    """Sets of recordings with the same content: ``files`` are ``{"path", "sha256",
    "signal_sha256"}`` records (``WindowSet.provenance["files"]``); two recordings are the
    same when their file sha256 or the sha256 of their decoded signal match (a copy, a
    re-exported EDF with an edited header, a Bonn segment with another line ending, an MNE
    object and its ``copy()``). ``recordings``: the names that are recordings; the other
    files read (label files such as two identical ``events.tsv``) are left out. Returns the
    sets of two or more paths, each sorted, in order of their first path."""
    if recordings is not None:
        keep = set(recordings)
        files = [f for f in files if str(f.get("path")) in keep]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[tuple[str, str], str] = {}
    for f in files:
        path = str(f.get("path"))
        parent.setdefault(path, path)
        for kind in ("sha256", "signal_sha256"):
            digest = f.get(kind)
            if not digest:
                continue
            other = first.setdefault((kind, str(digest)), path)
            a, b = find(other), find(path)
            if a != b:
                parent[max(a, b)] = min(a, b)
    sets: dict[str, list[str]] = {}
    for path in parent:
        sets.setdefault(find(path), []).append(path)
    return sorted((sorted(v) for v in sets.values() if len(v) > 1), key=lambda v: v[0])


def merge_identical_groups(groups: Sequence | np.ndarray, recording: Sequence | np.ndarray,
                           same: Sequence[Sequence[str]], keep: Iterable[str] = ()
                           ) -> tuple[np.ndarray, dict[str, str]]:
    """Groups in which every set of identical recordings (:func:`identical_recordings`)
    lies in one group, so that no split tests a recording whose copy it trained on.

    The groups holding a set's recordings are merged (transitively) under one name: the
    first of them in ``keep`` (group names a split config lists), else the first in sorted
    order.

    Args:
        groups, recording: group and recording of every window (``[W]``).
        same: sets of recording paths with identical content.

    Returns:
        ``(groups [W], {merged group: the group it joined})``.
    """
    g = _as_groups(groups)
    rec = np.asarray(recording).reshape(-1).astype(str)
    if rec.shape != g.shape:
        raise ConfigError(f"{rec.size} recordings for {g.size} windows")
    parent = {name: name for name in np.unique(g).tolist()}
    keep = {str(k) for k in keep}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    def rank(name: str) -> tuple[bool, str]:  # the smallest names a merged group
        return name not in keep, name

    for members in same:
        owners = sorted(set(g[np.isin(rec, list(members))].tolist()))
        for other in owners[1:]:
            a, b = find(owners[0]), find(other)
            if a != b:
                top, low = (a, b) if rank(a) < rank(b) else (b, a)
                parent[low] = top
    rename = {name: find(name) for name in parent if find(name) != name}
    if not rename:
        return g, {}
    return np.array([rename.get(x, x) for x in g.tolist()]), rename
