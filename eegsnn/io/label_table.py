"""Labels of whole recordings from a table: one row per file (``file,label``).

Several public collections ship their recordings with a spreadsheet of labels instead of
a folder per class. A table is a CSV or TSV text file with a header row::

    file,label
    site2/seg_001.mat,ictal
    site2/seg_002.mat,non_ictal

The file column is named ``file``, ``path``, ``filename`` or ``recording``; the label
column ``label`` or ``class`` (case-insensitive; other columns are ignored). A file is
matched by its path relative to the dataset root (POSIX), else by its file name, else by
its name without suffix (``seg_001``), each of which must then be unique in the table.
The dataset config uses it as ``labels: {source: table, table: labels.csv, mapping: ...}``
(see :mod:`eegsnn.preprocess.dataset`); every window of a file gets its label.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path, PurePosixPath

from eegsnn.errors import DataError

__all__ = ["FILE_COLUMNS", "LABEL_COLUMNS", "LabelTable", "read_label_table"]

FILE_COLUMNS = ("file", "path", "filename", "recording")
LABEL_COLUMNS = ("label", "class")


class LabelTable:
    """``{file: label}`` rows of a label table, looked up by path, name or stem."""

    def __init__(self, rows: dict[str, str], source: str) -> None:
        self.rows = rows
        self.source = source
        self._by_name = self._index(lambda k: PurePosixPath(k).name)
        self._by_stem = self._index(lambda k: PurePosixPath(k).name.split(".")[0])

    def _index(self, key) -> dict[str, str | None]:
        counts = Counter(key(k) for k in self.rows)
        return {key(k): (v if counts[key(k)] == 1 else None) for k, v in self.rows.items()}

    def label(self, relpath: str) -> str:
        """The label of the recording at ``relpath`` (relative to the dataset root).

        Raises:
            DataError: the table has no row for it (or only ambiguous ones).
        """
        rel = PurePosixPath(relpath).as_posix()
        if rel in self.rows:
            return self.rows[rel]
        name = PurePosixPath(rel).name
        for index, key in ((self._by_name, name), (self._by_stem, name.split(".")[0])):
            if index.get(key) is not None:
                return index[key]  # type: ignore[return-value]
        raise DataError(f"{relpath}: no row in the label table {self.source} (rows name "
                        f"files by their path relative to the data folder, their name or "
                        f"their stem, e.g. {next(iter(self.rows))!r})")


def read_label_table(path: str | os.PathLike) -> LabelTable:
    """Read a ``file,label`` table (CSV, or TSV when the header holds a tab).

    Raises:
        DataError: naming the file: unreadable, no header with a file and a label column,
        an empty label, or one file listed twice with different labels.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the label table ({exc})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{path}: empty label table (expected a header row file,label)")
    delimiter = "\t" if "\t" in lines[0] else ","
    try:
        rows = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:
        raise DataError(f"{path}: cannot parse the label table ({exc})") from exc
    header = [h.strip().lower() for h in rows[0]]
    fcol = next((header.index(c) for c in FILE_COLUMNS if c in header), None)
    lcol = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    if fcol is None or lcol is None:
        raise DataError(f"{path}: the label table needs a header with a file column "
                        f"({' | '.join(FILE_COLUMNS)}) and a label column "
                        f"({' | '.join(LABEL_COLUMNS)}); got {rows[0]}")
    out: dict[str, str] = {}
    for i, row in enumerate(rows[1:], start=2):
        if len(row) <= max(fcol, lcol):
            raise DataError(f"{path}: line {i} has {len(row)} column(s), expected "
                            f"{len(header)}")
        name = PurePosixPath(row[fcol].strip().replace("\\", "/")).as_posix()
        label = row[lcol].strip()
        if not name or not label:
            raise DataError(f"{path}: line {i}: empty file name or label")
        if out.get(name, label) != label:
            raise DataError(f"{path}: {name} is listed twice with different labels "
                            f"({out[name]!r}, {label!r})")
        out[name] = label
    if not out:
        raise DataError(f"{path}: the label table has a header but no rows")
    return LabelTable(out, str(path))
