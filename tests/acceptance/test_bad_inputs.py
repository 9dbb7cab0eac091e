"""Bad inputs, as a user meets them, through the ``eegsnn`` command line (issue 18).

Every case asserts the documented exit code (README "Exit codes": 2 bad config or
arguments, 3 bad data), exactly one ``error:`` line on stderr naming the file or key and
the problem, no Python traceback, and no run folder that looks complete (no
``metrics.json``, ``status.json`` not "finished"). The malformed recordings and configs are
made here: EDF files written with :func:`eegsnn.io.write_edf`, then header bytes patched
(the EDF header is fixed-width ASCII: 256 bytes, then 256 per signal, column by column).

Most cases run the CLI in-process (:func:`eegsnn.cli.main`, the console script's entry
point: the same parsing, error mapping and exit codes); a few run the installed console
script in a subprocess, as a user would. The window cache is pointed at ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eegsnn.cli import main
from eegsnn.io import write_edf

EEGSNN = Path(sys.executable).with_name("eegsnn")
SFREQ = 160.0
CHANNELS = ["C3", "Cz", "C4"]

# (start in units of n_signals bytes, width) of the per-signal header columns
_SIGNAL_FIELDS = {"label": (0, 16), "physical_min": (104, 8), "physical_max": (112, 8),
                  "digital_min": (120, 8), "digital_max": (128, 8),
                  "samples_per_record": (216, 8)}
# (offset, width) of main-header fields
_MAIN_FIELDS = {"version": (0, 8), "n_records": (236, 8), "record_s": (244, 8),
                "n_signals": (252, 4)}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EEGSNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EEGSNN_CACHE", raising=False)


def write_recording(path: Path, seed: int = 0, flat: str | None = None) -> Path:
    """A 40 s, 3-channel EDF+ at 160 Hz with alternating T1/T2 events every 3 s
    (``flat``: that channel all zeros)."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 20e-6, (len(CHANNELS), int(40 * SFREQ)))
    if flat is not None:
        data[CHANNELS.index(flat)] = 0.0
    onsets = np.arange(1.0, 38.0, 3.0)
    desc = ["T1" if i % 2 == 0 else "T2" for i in range(onsets.size)]
    write_edf(path, data, SFREQ, CHANNELS,
              annotations=(onsets, np.full(onsets.size, 2.0), desc))
    return path


def _put(path: Path, offset: int, width: int, text: str) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + width] = text.ljust(width).encode("ascii")[:width]
    path.write_bytes(bytes(data))


def patch_signal(path: Path, field: str, channel: str, text: str) -> None:
    """Overwrite one per-signal header field of the channel labelled ``channel``."""
    ns = int(path.read_bytes()[252:256])
    start, width = _SIGNAL_FIELDS[field]
    _put(path, 256 + start * ns + width * CHANNELS.index(channel), width, text)


def patch_main(path: Path, field: str, text: str) -> None:
    _put(path, *_MAIN_FIELDS[field], text)


@pytest.fixture()
def pair(tmp_path) -> tuple[Path, Path]:
    """Two good recordings (a held-out split needs two)."""
    d = tmp_path / "data"
    d.mkdir()
    return write_recording(d / "rec1.edf", 1), write_recording(d / "rec2.edf", 2)


def direct_args(files, out: Path, *extra: str) -> list[str]:
    return ["train", *map(str, files), "--event", "T1=left", "--event", "T2=right",
            "--window", "2", "--epochs", "1", "--hidden", "8", "--folds", "0",
            "--baseline", "none", "--report", "none", "--out", str(out), "-q",
            "--no-progress", *extra]


def run_in_process(args: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    return code, capsys.readouterr().err


def run_subprocess(args: list[str], tmp_path: Path, timeout: float = 300
                   ) -> tuple[int, str]:
    if not EEGSNN.is_file():
        pytest.fail(f"the eegsnn console script is missing beside {sys.executable}")
    env = {**os.environ, "COLUMNS": "100", "EEGSNN_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([str(EEGSNN), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    return proc.returncode, proc.stderr


def assert_one_error(code: int, err: str, expected_code: int, *needles: str) -> str:
    """The exit code, one ``error:`` line (the last line), every needle in it, no
    traceback; returns the line."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert code == expected_code, (code, err)
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def assert_nothing_complete(out: Path) -> None:
    if not out.exists():
        return
    assert not (out / "metrics.json").exists()
    status = out / "status.json"
    if status.exists():
        assert json.loads(status.read_text()).get("status") != "finished"
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


# ---------------------------------------------------------------- impossible EDF headers

IMPOSSIBLE = {
    "digital range zero": (lambda f: (patch_signal(f, "digital_min", "Cz", "100"),
                                      patch_signal(f, "digital_max", "Cz", "100")),
                           ["'Cz'", "digital maximum = digital minimum = 100"]),
    "physical range zero": (lambda f: (patch_signal(f, "physical_min", "Cz", "50"),
                                       patch_signal(f, "physical_max", "Cz", "50")),
                            ["'Cz'", "physical maximum = physical minimum = 50 uV"]),
    "zero sampling rate": (lambda f: patch_signal(f, "samples_per_record", "C4", "0"),
                           ["'C4'", "0 samples per data record"]),
    "negative sampling rate": (lambda f: patch_signal(f, "samples_per_record", "C3", "-160"),
                               ["'C3'", "-160 samples per data record"]),
    "negative record duration": (lambda f: patch_main(f, "record_s", "-1"),
                                 ["data record duration -1 s (must be > 0)"]),
    "zero record duration": (lambda f: patch_main(f, "record_s", "0"),
                             ["data record duration 0 s (must be > 0)"]),
    "physical minimum not a number": (lambda f: patch_signal(f, "physical_min", "Cz", "abc"),
                                      ["'Cz' has physical minimum 'abc', not a number"]),
}


@pytest.mark.parametrize("reader", ["mne", "pyedflib"])
@pytest.mark.parametrize("case", sorted(IMPOSSIBLE))
def test_impossible_edf_header_is_refused_by_either_reader(case, reader, pair, tmp_path,
                                                           capsys):
    patch, needles = IMPOSSIBLE[case]
    patch(pair[1])
    out = tmp_path / "run"
    code, err = run_in_process(direct_args(pair, out, "--set", f"dataset.reader={reader}"),
                               capsys)
    assert_one_error(code, err, 3, "rec2.edf", *needles)
    assert_nothing_complete(out)


def test_digital_range_zero_subprocess(pair, tmp_path):
    """The case MNE trained on silently (a channel of ~3e7 uV), as a user runs it."""
    patch_signal(pair[0], "digital_min", "Cz", "0")
    patch_signal(pair[0], "digital_max", "Cz", "0")
    out = tmp_path / "run"
    code, err = run_subprocess(direct_args(pair, out), tmp_path)
    assert_one_error(code, err, 3, "rec1.edf", "channel 'Cz'", "digital maximum")
    assert_nothing_complete(out)


# ------------------------------------------------------ unreadable or missing recordings

def _truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:-1000])


def _header_only(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:300])


def _signal_count(f: Path) -> None:
    patch_main(f, "n_signals", "99")


BROKEN = {
    "truncated": (_truncate, ".edf", ["rec2.edf: truncated EDF+C file", "bytes missing"]),
    "header only": (_header_only, ".edf", ["rec2.edf: truncated EDF/BDF file"]),
    "empty file": (lambda f: f.write_bytes(b""), ".edf",
                   ["rec2.edf: not an EDF/BDF file (only 0 bytes"]),
    "text, not EDF": (lambda f: f.write_text("1\n2\n3\n" * 200), ".edf",
                      ["rec2.edf: not an EDF/BDF file (version field"]),
    "PNG bytes": (lambda f: f.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600)), ".edf",
                  ["rec2.edf: not an EDF/BDF file"]),
    "signal count": (_signal_count, ".edf", ["rec2.edf: corrupt EDF header (99 signals"]),
    "wrong extension": (lambda f: None, ".dat", ["rec2.dat: unknown recording format '.dat'"]),
    "missing file": (lambda f: f.unlink(), ".edf", ["rec2.edf: file", "not found"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_recording(case, pair, tmp_path, capsys):
    damage, suffix, needles = BROKEN[case]
    target = pair[1]
    if suffix != ".edf":
        target = target.rename(target.with_suffix(suffix))
    damage(target)
    out = tmp_path / "run"
    code, err = run_in_process(direct_args([pair[0], target], out), capsys)
    assert_one_error(code, err, 3, *needles)
    assert_nothing_complete(out)


def test_bad_text_segment(tmp_path, capsys, shared_data):
    """A Bonn-style text segment with a line that is not a number."""
    root = tmp_path / "bonn"
    for cls in ("Z", "S"):
        (root / cls).mkdir(parents=True)
        src = shared_data / "bonn" / cls / f"{cls}001.txt"
        (root / cls / f"{cls}001.txt").write_bytes(src.read_bytes())
    bad = root / "S" / "S001.txt"
    lines = bad.read_bytes().splitlines(keepends=True)
    lines[9] = b"12,5\n"
    bad.write_bytes(b"".join(lines))
    out = tmp_path / "run"
    code, err = run_in_process(["train", str(root), "--labels", "path", "--event", "Z=healthy",
                                "--event", "S=ictal", "--sfreq", "173.61", "--window", "5",
                                "--out", str(out), "-q"], capsys)
    assert_one_error(code, err, 3, "S001.txt: line 10 is not a number: '12,5'")
    assert_nothing_complete(out)


@pytest.mark.parametrize("name", ["rec2.set", "rec2.gdf", "rec2_raw.fif", "rec2.vhdr",
                                  "rec2.bdf"])
def test_corrupt_file_of_another_format(name, pair, tmp_path, capsys):
    bad = pair[1].parent / name
    bad.write_bytes(b"definitely not a recording\n" * 20)
    pair[1].unlink()
    out = tmp_path / "run"
    code, err = run_in_process(direct_args([pair[0], bad], out), capsys)
    assert_one_error(code, err, 3, f"{name}: ")
    assert_nothing_complete(out)


def test_bdf_with_zero_digital_range(pair, tmp_path, capsys):
    """The header check covers BDF (24-bit) as well."""
    bdf = pair[1].with_suffix(".bdf")
    rng = np.random.default_rng(4)
    onsets = np.arange(1.0, 38.0, 3.0)
    write_edf(bdf, rng.normal(0.0, 20e-6, (3, int(40 * SFREQ))), SFREQ, CHANNELS, bdf=True,
              annotations=(onsets, np.full(onsets.size, 2.0),
                           ["T1" if i % 2 == 0 else "T2" for i in range(onsets.size)]))
    patch_signal(bdf, "digital_min", "C4", "7")
    patch_signal(bdf, "digital_max", "C4", "7")
    out = tmp_path / "run"
    code, err = run_in_process(direct_args([pair[0], bdf], out), capsys)
    assert_one_error(code, err, 3, "rec2.bdf: impossible BDF header: channel 'C4'",
                     "digital maximum = digital minimum = 7")
    assert_nothing_complete(out)


def test_nan_samples_in_a_fif_recording(pair, tmp_path, capsys):
    import mne

    x = np.random.default_rng(3).normal(0.0, 20e-6, (3, int(40 * SFREQ)))
    x[1, 1234] = np.nan
    raw = mne.io.RawArray(x, mne.create_info(CHANNELS, SFREQ, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 4.0], [2.0, 2.0], ["T1", "T2"]))
    fif = pair[1].parent / "rec2_raw.fif"
    raw.save(fif, verbose="error")
    pair[1].unlink()
    out = tmp_path / "run"
    code, err = run_in_process(direct_args([pair[0], fif], out), capsys)
    assert_one_error(code, err, 3, "rec2_raw.fif: NaN or infinite samples in 1 channel(s) "
                                   "(Cz); first at sample 1234")
    assert_nothing_complete(out)


# --------------------------------------------------- recordings that do not fit together

def _other(path: Path, channels=CHANNELS, sfreq=SFREQ, seconds=40.0) -> Path:
    rng = np.random.default_rng(9)
    onsets = np.arange(1.0, 38.0, 3.0)
    desc = ["T1" if i % 2 == 0 else "T2" for i in range(onsets.size)]
    write_edf(path, rng.normal(0.0, 20e-6, (len(channels), int(seconds * sfreq))), sfreq,
              list(channels), annotations=(onsets, np.full(onsets.size, 2.0), desc))
    return path


MISFITS = {
    "other channels": (lambda f: _other(f, channels=["C3", "Pz", "C4"]), [],
                       ["rec2.edf: channels differ from rec1.edf: missing ['Cz'], "
                        "extra ['Pz']", "'pick' step"]),
    "other sampling rate": (lambda f: _other(f, sfreq=100.0), [],
                            ["rec2.edf: sampling rate 100 Hz differs from rec1.edf (160 Hz)",
                             "'resample' step"]),
    "too short": (lambda f: _other(f, seconds=1.0), [],
                  ["rec2.edf: none of the requested events ['T1', 'T2'] fit in the "
                   "recording"]),
    "window longer than the recording": (lambda f: None, ["--window", "100"],
                                         ["rec1.edf: none of the requested events"]),
    "picked channel absent": (lambda f: None, ["--channels", "C3,Xx"],
                              ["rec1.edf: preprocess[0] (pick): channel(s) Xx not in this "
                               "recording (it has 3: C3, Cz, C4)"]),
}


@pytest.mark.parametrize("case", sorted(MISFITS))
def test_recordings_that_do_not_fit(case, pair, tmp_path, capsys):
    make, extra, needles = MISFITS[case]
    make(pair[1])
    args = direct_args(pair, tmp_path / "run")
    if extra and extra[0] == "--window":
        args[args.index("--window") + 1] = extra[1]
    else:
        args += extra
    code, err = run_in_process(args, capsys)
    assert_one_error(code, err, 3, *needles)
    assert_nothing_complete(tmp_path / "run")


def test_folder_without_recordings(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.doc").write_text("x")
    code, err = run_in_process(direct_args([tmp_path / "empty"], tmp_path / "run"), capsys)
    assert_one_error(code, err, 3, "empty: no recordings found")
    assert_nothing_complete(tmp_path / "run")


def test_manifest_checksum_mismatch_exits_4(pair, tmp_path, capsys):
    manifest = tmp_path / "data.yaml"
    code, err = run_in_process(["manifest", "create", str(pair[0].parent), "-o",
                                str(manifest)], capsys)
    assert code == 0, err
    data = bytearray(pair[1].read_bytes())
    data[-300] ^= 0x01  # one bit of one sample: same size
    pair[1].write_bytes(bytes(data))
    out = tmp_path / "run"
    code, err = run_in_process(direct_args([manifest], out), capsys)
    assert_one_error(code, err, 4, "rec2.edf: sha256", "manifest says")
    assert_nothing_complete(out)


# ------------------------------------------------------------------------- labels

def test_absent_event_code_is_named_with_the_codes_the_files_hold(pair, tmp_path):
    """``--event T9=left`` with no T9 in the files: not "only one class (right)" alone
    but the missing code and the codes present (subprocess)."""
    out = tmp_path / "run"
    args = direct_args(pair, out)
    args[args.index("T1=left")] = "T9=left"
    code, err = run_subprocess(args, tmp_path)
    line = assert_one_error(code, err, 3, "only one class (right)", "code T9 (class left)",
                            "none of the 2 recording(s)", "hold T1, T2", "--event")
    # the cause leads; the files by name, comma-joined (no list repr, no folders)
    assert line.startswith("error: rec1.edf, rec2.edf: labels.mapping code T9"), line
    assert "[" not in line and str(tmp_path) not in line
    assert_nothing_complete(out)


EVENTS = {
    "binary table": (b"onset\tduration\ttrial_type\n\x00\x00\x00\xff\xfe\n",
                     ["rec1_events.tsv: "]),
    "not a number": (b"onset\tduration\ttrial_type\nsoon\t1\tT1\n",
                     ["rec1_events.tsv: row 2 is not (onset, duration, label)"]),
    "no onset column": (b"when\tduration\ttrial_type\n1\t1\tT1\n",
                        ["rec1_events.tsv: no onset column"]),
    "negative onset": (b"onset\tduration\ttrial_type\n-3\t1\tT1\n",
                       ["rec1_events.tsv: row 2 has a negative"]),
    "missing": (None, ["rec1.edf: events file rec1_events.tsv not found beside it"]),
}


@pytest.mark.parametrize("case", sorted(EVENTS))
def test_bad_events_table(case, pair, tmp_path, capsys):
    content, needles = EVENTS[case]
    if content is not None:
        (pair[0].parent / "rec1_events.tsv").write_bytes(content)
    (pair[1].parent / "rec2_events.tsv").write_text("onset\tduration\ttrial_type\n"
                                                    "1\t2\tT1\n4\t2\tT2\n")
    out = tmp_path / "run"
    code, err = run_in_process(direct_args(pair, out, "--labels", "events_file"), capsys)
    assert_one_error(code, err, 3, *needles)
    assert_nothing_complete(out)


# --------------------------------------------------------------------- flat channel

def test_flat_channel_names_the_file_the_channel_and_the_fix(tmp_path, capsys):
    d = tmp_path / "data"
    d.mkdir()
    files = [write_recording(d / "rec1.edf", 1, flat="Cz"),
             write_recording(d / "rec2.edf", 2, flat="Cz")]
    out = tmp_path / "run"
    code, err = run_in_process(direct_args(files, out), capsys)
    line = assert_one_error(code, err, 3, "channel(s) Cz", "--set encoder.on_flat=silence")
    assert re.match(r"error: rec[12]\.edf: zero-variance \(flat\) signal", line), line
    assert "ch1" not in line
    assert_nothing_complete(out)


def test_flat_channel_in_eegsnn_encode_names_the_file_and_the_channel(tmp_path, capsys):
    d = tmp_path / "data"
    d.mkdir()
    files = [write_recording(d / "rec1.edf", 1, flat="Cz"),
             write_recording(d / "rec2.edf", 2, flat="Cz")]
    cfg = tmp_path / "encode.yaml"
    cfg.write_text("name: flat\ndata: {source: data}\n"
                   "dataset:\n  windows: {mode: events, window_s: 2.0}\n"
                   "  labels: {source: annotations, mapping: {T1: left, T2: right}}\n"
                   "encoder: {method: delta, spikes_per_s: 10}\n")
    out = tmp_path / "flat.spikes"
    code, err = run_in_process(["encode", *map(str, files), "--config", str(cfg), "--out",
                                str(out)], capsys)
    line = assert_one_error(code, err, 3, "channel(s) Cz", "--set encoder.on_flat=silence")
    assert re.match(r"error: rec1\.edf, rec2\.edf: zero-variance \(flat\) signal", line), line
    assert "ch1" not in line and not out.exists()


def test_channel_flat_in_one_recording_only(tmp_path, capsys):
    """Cz dead in rec1 only: pooled statistics see a live channel; the per-recording check
    names rec1 and Cz, and ``encoder.on_flat=silence`` lets it through."""
    d = tmp_path / "data"
    d.mkdir()
    files = [write_recording(d / "rec1.edf", 1, flat="Cz"), write_recording(d / "rec2.edf", 2)]
    cfg = tmp_path / "encode.yaml"
    cfg.write_text("name: flat\ndata: {source: data}\n"
                   "dataset:\n  windows: {mode: events, window_s: 2.0}\n"
                   "  labels: {source: annotations, mapping: {T1: left, T2: right}}\n"
                   "encoder: {method: delta, spikes_per_s: 80, threshold: 0.5}\n")
    out = tmp_path / "flat.spikes"
    args = ["encode", *map(str, files), "--config", str(cfg), "--out", str(out)]
    code, err = run_in_process(args, capsys)
    line = assert_one_error(code, err, 3, "channel(s) Cz over all its windows",
                            "vary in other training recordings", "on_flat=silence")
    assert line.startswith("error: rec1.edf: zero-variance (flat) signal"), line
    assert not out.exists()
    code, err = run_in_process([*args, "--set", "encoder.on_flat=silence"], capsys)
    assert code == 0, err
    from eegsnn.encode import load_spikes

    flat = np.asarray(load_spikes(out).meta["encoder"]["state"]["flat"])  # [C, K]
    assert flat[CHANNELS.index("Cz")].all() and not flat[0].any() and not flat[2].any()


def test_raw_object_with_impossible_amplitude_is_refused_by_name(pair, tmp_path):
    """An EDF whose digital maximum equals its minimum, opened with MNE by the user and
    handed over as a ``Raw``: no file reader sees its header, the amplitude check does."""
    import mne

    from eegsnn.errors import DataError
    from eegsnn.preprocess import load_windows

    config = {"windows": {"mode": "events", "window_s": 2.0},
              "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}
    patch_signal(pair[0], "digital_min", "Cz", "0")
    patch_signal(pair[0], "digital_max", "Cz", "0")
    raws = [mne.io.read_raw_edf(p, preload=True, verbose="error") for p in pair]
    with pytest.raises(DataError) as info:
        load_windows(raws, config, use_cache=False)
    msg = str(info.value)
    assert msg.startswith("rec1.edf: ") and "Cz" in msg, msg
    assert "MNE holds volts" in msg and "V (" in msg, msg
    assert "<Raw" not in msg and "\n" not in msg
    # a Raw is named by its recording's name, not its repr, in the window planner's errors
    good = mne.io.read_raw_edf(pair[1], preload=True, verbose="error")
    with pytest.raises(DataError, match=r"^rec2\.edf: none of the requested events") as info:
        load_windows([good], {**config, "labels": {"source": "annotations",
                                                   "mapping": {"T9": "x", "T8": "y"}}},
                     use_cache=False)
    assert "<Raw" not in str(info.value)


def test_encode_with_a_runs_encoder_caches_nothing_unless_asked(trained, tmp_path, capsys):
    cache = tmp_path / "cache"
    out = tmp_path / "new.spikes"
    code, err = run_in_process(["encode", str(trained[1]), "--encoder-from", str(trained[0]),
                                "--out", str(out)], capsys)
    assert code == 0, err
    assert out.exists() and (not cache.exists() or not list(cache.rglob("*.npz")))
    code, err = run_in_process(["encode", str(trained[1]), "--encoder-from", str(trained[0]),
                                "--out", str(tmp_path / "new2.spikes"), "--cache"], capsys)
    assert code == 0, err
    assert len(list(cache.rglob("*.npz"))) == 1


# --------------------------------------------------------------------------- configs

CONFIGS = {
    "test_fraction list": (["--set", "split.test_fraction=[0.25]"],
                           ["split.test_fraction must be a number, got [0.25] (list)"]),
    "learning rate word": (["--set", "train.optimizer.learning_rate=fast"],
                           ["train.optimizer.learning_rate must be a number, got 'fast'"]),
    "batch size word": (["--set", "train.batch_size=many"],
                        ["batch_size must be an integer"]),
    "compile word": (["--set", "train.compile=maybe"],
                     ["train.compile must be true or false, got 'maybe'"]),
    "negative learning rate": (["--set", "train.optimizer.learning_rate=-0.1"],
                               ["learning_rate must be a finite number >= 0, got -0.1"]),
    "unknown key": (["--set", "nonsense=1"], ["unknown key(s) nonsense"]),
    "unknown train key": (["--set", "train.epoch=3"], ["unknown key(s) ['epoch']"]),
    "negative window": (["--window", "-4"], ["windows.window_s must be a positive number"]),
    "tmin word": (["--set", "dataset.windows.tmin_s=early"],
                  ["dataset.windows.tmin_s must be a number, got 'early'"]),
    "bad regex": (["--set", "dataset.ids.pattern=(S"],
                  ["dataset.ids.pattern '(S' is not a regular expression"]),
    "n_splits word": (["--set", "split.n_splits=five"],
                      ["split.n_splits must be an int >= 2 or 'all'", "got 'five'"]),
    "negative sfreq": (["--set", "dataset.sfreq_hz=-1"], ["dataset.sfreq_hz must be > 0"]),
    "hidden word": (["--hidden", "abc"], ["--hidden 'abc'", "positive integers"]),
    "hidden zero": (["--hidden", "0"], ["--hidden '0'"]),
    "event without class": (["--event", "T3"], ["--event 'T3': expected RAW=CLASS"]),
    "bandpass one number": (["--bandpass", "8"], ["--bandpass: expected 2"]),
    "split value": (["--set", "split.by=day"], ["split.by must be recording, session or"]),
    "bandpass reversed": (["--bandpass", "30,8"], ["l_freq (30.0) must be below h_freq (8.0)"]),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config_value_is_one_config_error(case, pair, tmp_path, capsys):
    extra, needles = CONFIGS[case]
    args = direct_args(pair, tmp_path / "run")
    if extra[0] in ("--hidden", "--window"):  # replace the flag the base arguments set
        i = args.index(extra[0])
        args[i + 1] = extra[1]
    else:
        args += extra
    code, err = run_in_process(args, capsys)
    assert_one_error(code, err, 2, *needles)
    assert_nothing_complete(tmp_path / "run")


def test_hidden_word_subprocess(pair, tmp_path):
    args = direct_args(pair, tmp_path / "run")
    args[args.index("--hidden") + 1] = "abc"
    code, err = run_subprocess(args, tmp_path)
    assert_one_error(code, err, 2, "--hidden 'abc'")
    assert not (tmp_path / "run").exists()


STUDY_FILES = {
    "missing": (None, 3, ["nope.yaml: cannot read config"]),
    "not YAML": (b"name: [unclosed\n", 3, ["study.yaml: not valid YAML"]),
    "binary": (bytes(range(128, 256)) * 4, 3, ["study.yaml: not a text file"]),
    "a list": (b"- 1\n- 2\n", 2, ["study.yaml: a config is a YAML mapping, got list"]),
    "no data": (b"name: x\npipeline: generic\n", 2, ["data.source is required"]),
    "hidden word": (b"pipeline: motor_imagery\ndata: {source: data}\nmodel: {hidden: abc}\n", 2,
                    ["study.yaml: model.hidden must be a list"]),
    "epochs word": (b"pipeline: motor_imagery\ndata: {source: data}\ntrain: {epochs: many}\n",
                    2,
                    ["study.yaml: train.epochs must be an integer"]),
}


@pytest.mark.parametrize("case", sorted(STUDY_FILES))
def test_bad_study_config_file(case, tmp_path, capsys):
    content, expected, needles = STUDY_FILES[case]
    path = tmp_path / ("nope.yaml" if content is None else "study.yaml")
    if content is not None:
        path.write_bytes(content)
    code, err = run_in_process(["train", "--config", str(path), "--out",
                                str(tmp_path / "run"), "-q"], capsys)
    assert_one_error(code, err, expected, *needles)
    assert_nothing_complete(tmp_path / "run")


def test_set_merges_into_the_pipelines_label_mapping(tmp_path):
    """``--set dataset.labels.mapping.T1=x`` changes one entry of the pipeline's mapping
    (it replaced the whole mapping, leaving one class); a whole mapping still replaces."""
    from eegsnn.pipeline.config import load_study_config

    study = tmp_path / "study.yaml"
    study.write_text("pipeline: motor_imagery\ndata: {source: data}\n")
    cfg = load_study_config(study, ["dataset.labels.mapping.T1=x"])
    assert cfg["dataset"]["labels"]["mapping"] == {"T1": "x", "T2": "right_fist"}
    cfg = load_study_config(study, ["dataset.labels.mapping={T1: a, T2: b, T0: rest}"])
    assert cfg["dataset"]["labels"]["mapping"] == {"T1": "a", "T2": "b", "T0": "rest"}
    study.write_text("pipeline: motor_imagery\ndata: {source: data}\n"
                     "dataset: {labels: {mapping: {T2: only}}}\n")
    cfg = load_study_config(study, ["dataset.labels.mapping.T0=rest"])
    assert cfg["dataset"]["labels"]["mapping"] == {"T2": "only", "T0": "rest"}


def test_set_changes_one_option_of_the_pipelines_model_family(tmp_path):
    """``--set model.neuron.beta=0.95`` on a config without a model section changes the
    pipeline's model (it replaced the band_power family by the generic 64-neuron MLP,
    silently); a whole ``model=...`` or a config's own model section still replaces it."""
    from eegsnn.pipeline.config import load_study_config

    study = tmp_path / "study.yaml"
    study.write_text("pipeline: motor_imagery\ndata: {source: data}\n")
    for override in ("model.neuron.beta=0.95", "model.neuron={beta: 0.95}"):
        model = load_study_config(study, [override])["model"]
        assert model["family"] == "band_power"
        assert model["neuron"] == {"type": "leaky", "beta": 0.95, "threshold": 1.0,
                                   "surrogate": {"type": "fast_sigmoid", "slope": 25.0}}
    assert load_study_config(study, ["model.out_beta=0.8"])["model"]["family"] == "band_power"
    model = load_study_config(study, ["model={hidden: [32]}"])["model"]
    assert "family" not in model and model["hidden"] == [32]
    study.write_text("pipeline: motor_imagery\ndata: {source: data}\nmodel: {hidden: [16]}\n")
    model = load_study_config(study, ["model.dropout=0.1"])["model"]
    assert "family" not in model and model["hidden"] == [16] and model["dropout"] == 0.1


def test_set_model_type_snn_or_an_empty_model_keeps_the_pipelines_model(tmp_path, caplog):
    """``--set model.type=snn`` (the type the pipeline's model has) and an empty model
    section (``model:``, ``--set model=null``) keep the pipeline's band_power family; both
    gave the generic 64-neuron MLP, silently. A model of another type or form replaces it,
    and the log says so."""
    import logging

    from eegsnn.errors import ConfigError
    from eegsnn.pipeline.config import load_study_config

    study = tmp_path / "study.yaml"
    study.write_text("pipeline: motor_imagery\ndata: {source: data}\n")
    for overrides in (["model.type=snn"], ["model=null"],
                      ["model.type=snn", "model.neuron.beta=0.7"]):
        model = load_study_config(study, overrides)["model"]
        assert model["family"] == "band_power", overrides
        assert model["neuron"]["beta"] == (0.7 if len(overrides) == 2 else 0.8)
    for section in ("model:", "model: {}", "model: {type: snn}"):
        study.write_text(f"pipeline: motor_imagery\ndata: {{source: data}}\n{section}\n")
        assert load_study_config(study)["model"]["family"] == "band_power", section
        model = load_study_config(study, ["model.neuron.beta=0.7"])["model"]
        assert model["family"] == "band_power" and model["neuron"]["beta"] == 0.7, section
    # a list of layer sizes is the short form's: the error says how to give it
    with pytest.raises(ConfigError, match=r"hidden must be a positive integer, got \[8\] "
                                          r"\(layer sizes as a list are the short form's: "
                                          r"give the whole model, model=\{hidden: \[8\]\}\)"):
        load_study_config(study, ["model.hidden=[8]"])
    assert load_study_config(study, ["model={hidden: [8]}"])["model"]["hidden"] == [8]
    with caplog.at_level(logging.INFO, logger="eegsnn.pipeline"):
        caplog.clear()
        model = load_study_config(study, ["model.type=lsm"])["model"]
        assert model["type"] == "lsm"
        assert "the config's model (type lsm) replaces the motor_imagery pipeline's " \
               "(family band_power)" in caplog.text
        caplog.clear()
        load_study_config(study, ["model.neuron.beta=0.7"])
        assert "replaces" not in caplog.text


@pytest.mark.parametrize("override, needles", [
    ("model.neuron.betta=0.8", ["model.neuron (leaky)", "unknown option(s) betta (known: "
                                "beta, "]),
    ("model.neuron.beta=1.5", ["model.neuron (leaky)", "beta must lie in [0.0, 1.0]"]),
    ("model.neuron.surrogate.type=nope", ["model.neuron (leaky)", "unknown surrogate 'nope'"]),
    ("model.neuron.surrogate.slop=3", ["model.neuron (leaky)", "'slop'"]),
    ("model={hidden: [8], neuron: {type: lif}}", ["model.neuron: unknown neuron type 'lif'"]),
    ("model={layers: [{type: linear, out_features: 4}, {type: leakyy}]}",
     ["model.layers[1]: unknown layer type 'leakyy'"]),
])
def test_bad_neuron_option_fails_before_the_data_are_read(override, needles, tmp_path,
                                                            capsys):
    """A bad neuron option failed only when the network was built, after loading and
    encoding every window; the config check now builds each neuron layer once. The data
    source does not exist, so an error about it would mean the data were reached first."""
    study = tmp_path / "study.yaml"
    study.write_text("pipeline: motor_imagery\ndata: {source: no_such_folder}\n")
    code, err = run_in_process(["train", "--config", str(study), "--set", override,
                                "--out", str(tmp_path / "run"), "-q"], capsys)
    assert_one_error(code, err, 2, "study.yaml with its overrides (--set; the file alone is "
                                   "valid): ", *needles)  # the file is not to blame
    assert "no_such_folder" not in err
    assert_nothing_complete(tmp_path / "run")


def test_a_missing_relative_source_says_where_relative_paths_are_read_from(tmp_path, capsys):
    """``--set data.source+=../x.edf`` is read from the config file's folder, not the shell's:
    the error says so (a newcomer looked for the file beside the shell)."""
    (tmp_path / "configs").mkdir()
    study = tmp_path / "configs" / "study.yaml"
    study.write_text("pipeline: motor_imagery\ndata: {source: [a.edf]}\n")
    code, err = run_in_process(["train", "--config", str(study), "--set",
                                "data.source+=../b.edf", "--out", str(tmp_path / "run"),
                                "-q"], capsys)
    assert_one_error(code, err, 3, "a.edf: file or folder not found (data.source; relative "
                     "paths in a config file and in its --set overrides are read from the "
                     f"config file's folder, {study.parent.resolve()})")
    assert_nothing_complete(tmp_path / "run")


def test_bad_neuron_option_of_a_layer_list_names_the_layer():
    from eegsnn.errors import ConfigError
    from eegsnn.pipeline.config import resolve_study_config

    layers = [{"type": "linear", "out_features": 8}, {"type": "leaky", "beta": 0.9},
              {"type": "linear", "out_features": "classes"},
              {"type": "synaptic", "alpha": 0.9, "bta": 0.8, "reset_mechanism": "none"}]
    with pytest.raises(ConfigError, match=r"model\.layers\[3\] \(synaptic\): unknown "
                                          r"option\(s\) bta \(known: alpha, beta"):
        resolve_study_config({"pipeline": "motor_imagery", "data": {"source": "x"},
                              "model": {"layers": layers}}, base_dir="/tmp")
    layers[3].pop("bta")
    model = resolve_study_config({"pipeline": "motor_imagery", "data": {"source": "x"},
                                  "model": {"layers": layers}}, base_dir="/tmp")["model"]
    assert model["layers"][3] == {"type": "synaptic", "alpha": 0.9, "reset_mechanism": "none"}


def test_another_family_does_not_take_the_pipelines_family_options(monkeypatch):
    """A pipeline's model defaults are options of its own family: a config naming another
    family gets that family's defaults (a band_power neuron tuning must not reach the
    recurrent family), the same family keeps them."""
    from eegsnn.pipeline.config import get_pipeline, resolve_study_config

    spec = get_pipeline("motor_imagery")
    monkeypatch.setitem(spec.defaults, "model",
                        {"family": "band_power", "neuron": {"beta": 0.8}})

    def model(section):
        return resolve_study_config({"pipeline": "motor_imagery", "data": {"source": "x"},
                                     "encoder": {"gain": 1.0}, "model": section},
                                    base_dir="/tmp")["model"]

    assert model({"family": "recurrent"})["neuron"]["beta"] == 0.9
    assert model({"family": "band_power"})["neuron"]["beta"] == 0.8
    assert model({"family": "band_power", "dropout": 0.1})["neuron"]["beta"] == 0.8
    # ... and its neuron options are for its neuron type: another type takes none of them
    # (an IF neuron has no beta: the build failed after loading and encoding)
    assert model({"family": "band_power", "neuron": {"type": "if"}})["neuron"] == {"type": "if"}
    assert model({"family": "band_power", "neuron": {"type": "leaky"}})["neuron"] == {
        "type": "leaky", "beta": 0.8, "threshold": 1.0,
        "surrogate": {"type": "fast_sigmoid", "slope": 25.0}}
    assert model({"neuron": {"surrogate": {"slope": 10}}, "family": "band_power"})[
        "neuron"]["surrogate"] == {"type": "fast_sigmoid", "slope": 10}


def test_another_baseline_does_not_take_the_pipelines_baseline_options(repo_root, tmp_path):
    """The motor-imagery pipeline's csp_lda n_components is not an option of ts_lr: naming
    another baseline type, in the file or with --set, gets that type's defaults ('unknown
    option n_components' before); the same type keeps and changes them."""
    from eegsnn.errors import ConfigError
    from eegsnn.pipeline import load_study_config
    from eegsnn.pipeline.config import resolve_study_config

    ts_lr = {"type": "ts_lr", "estimator": "oas", "metric": "riemann", "C": 1.0}
    path = repo_root / "configs" / "eegmmidb_real_lr.yaml"
    for over in ("baseline.type=ts_lr", "baseline={type: ts_lr}", "baseline=ts_lr"):
        assert load_study_config(path, [over])["baseline"] == ts_lr, over
    assert load_study_config(path, ["baseline.type=ts_lr", "baseline.C=0.5"])[
        "baseline"] == {**ts_lr, "C": 0.5}
    assert load_study_config(path, ["baseline.n_components=6"])["baseline"] == {
        "type": "csp_lda", "n_components": 6, "reg": None}
    with pytest.raises(ConfigError, match=r"baseline csp_lda: unknown option\(s\) \['C'\]"):
        load_study_config(path, ["baseline.C=0.5"])
    assert resolve_study_config({"pipeline": "motor_imagery", "data": {"source": "x"},
                                 "baseline": {"type": "ts_lr", "C": 2.0}},
                                base_dir="/tmp")["baseline"] == {**ts_lr, "C": 2.0}
    # a baseline given by its name takes options after it: they are its own (a patch
    # brought the pipeline's default back: spectral with C 0.5 on Bonn, silently)
    for name in ("eegmmidb_real_lr.yaml", "bonn_example.yaml"):
        assert load_study_config(repo_root / "configs" / name,
                                 ["baseline=ts_lr", "baseline.C=0.5"])["baseline"] == {
            **ts_lr, "C": 0.5}, name
    written = tmp_path / "study.yaml"
    written.write_text((repo_root / "configs" / "bonn_example.yaml").read_text()
                       + "\nbaseline: ts_lr\n")
    assert load_study_config(written, ["baseline.C=0.5"])["baseline"] == {**ts_lr, "C": 0.5}


# ------------------------------------------------------------- a trained run, misused

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny finished run (1 epoch), trained by the console script (subprocess)."""
    base = tmp_path_factory.mktemp("trained")
    d = base / "data"
    d.mkdir()
    files = [write_recording(d / "rec1.edf", 1), write_recording(d / "rec2.edf", 2)]
    new = write_recording(base / "new.edf", 3)
    code, err = run_subprocess(direct_args(files, base / "run", "--no-cache"), base)
    assert code == 0, err
    assert not (base / "cache").exists() or not list((base / "cache").glob("*.npz"))
    return base / "run", new


def _copy_run(run: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(run, dst)
    return dst


def _rehash(run: Path, rel: str) -> None:
    """Record the new sha256 of ``rel`` in the run's integrity record (if it keeps one), so
    that the check under test, not the tamper check, sees the file."""
    integrity = run / "integrity.json"
    if not integrity.is_file():
        return
    record = json.loads(integrity.read_text())
    if rel in record.get("files", {}):
        record["files"][rel] = hashlib.sha256((run / rel).read_bytes()).hexdigest()
        integrity.write_text(json.dumps(record, indent=2))
    status = json.loads((run / "status.json").read_text())
    if "integrity" in status:
        status["integrity"] = hashlib.sha256(integrity.read_bytes()).hexdigest()
        (run / "status.json").write_text(json.dumps(status, indent=2))


def test_nan_checkpoint_is_a_corrupt_checkpoint(trained, tmp_path, capsys):
    import mlx.core as mx

    run = _copy_run(trained[0], tmp_path / "run")
    rel = "model/checkpoint/model.safetensors"
    weights = dict(mx.load(str(run / rel)))
    name = sorted(weights)[0]
    weights[name] = weights[name] * float("nan")
    mx.save_safetensors(str(run / rel), weights)
    _rehash(run, rel)
    out = tmp_path / "eval"
    code, err = run_in_process(["evaluate", str(run), str(trained[1]), "--out", str(out)],
                               capsys)
    assert_one_error(code, err, 3, f"corrupt checkpoint {run / rel}: NaN weights in {name}")
    assert "diverged" not in err
    assert not (out / "metrics.json").exists()


def test_evaluate_leaves_no_windows_in_the_cache_unless_asked(trained, tmp_path, capsys):
    cache = tmp_path / "cache"
    out = tmp_path / "eval"
    code, err = run_in_process(["evaluate", str(trained[0]), str(trained[1]), "--out",
                                str(out)], capsys)
    assert code == 0, err
    assert (out / "metrics.json").is_file()
    assert not cache.exists() or not list(cache.rglob("*.npz"))
    code, err = run_in_process(["evaluate", str(trained[0]), str(trained[1]), "--out",
                                str(tmp_path / "eval2"), "--cache"], capsys)
    assert code == 0, err
    assert len(list(cache.rglob("*.npz"))) == 1


def test_evaluate_refuses_data_that_do_not_fit_the_run(trained, tmp_path, capsys):
    other = _other(tmp_path / "other.edf", channels=["C3", "Pz", "C4"])
    out = tmp_path / "eval"
    code, err = run_in_process(["evaluate", str(trained[0]), str(other), "--out", str(out)],
                               capsys)
    assert_one_error(code, err, 3, "other.edf: channel(s) Cz of the run", "not in the data")
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_not_a_run_folder(command, tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    code, err = run_in_process([command, str(tmp_path / "folder")], capsys)
    assert_one_error(code, err, 3, "folder: not a")


def test_cache_is_documented_in_help(capsys):
    for command in ("train", "evaluate", "encode"):
        capsys.readouterr()
        assert main([command, "--help"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "--cache" in out and ".cache/eegsnn" in out, command
        if command != "evaluate":
            assert "EEGSNN_CACHE=off" in out and "--no-cache" in out


def _bonn_subset(shared_data: Path, root: Path, folders: dict[str, str]) -> Path:
    """Four segments of each Bonn set in ``folders`` ({shared folder: folder name here})."""
    for src, dst in folders.items():
        (root / dst).mkdir(parents=True, exist_ok=True)
        for path in sorted((shared_data / "bonn" / src).iterdir())[:4]:
            (root / dst / path.name).write_bytes(path.read_bytes())
    return root


def test_a_missing_positive_class_folder_is_an_error_and_unmapped_folders_are_named(
        shared_data, tmp_path, caplog):
    """The seizure pipeline's positive class (ictal, folder S) without a recording: the
    folder spelt 's' (or empty) used to drop the class silently and report 'n/a'. Folders
    not in labels.mapping are named when their recordings are left out."""
    from eegsnn.errors import DataError
    from eegsnn.pipeline import load_study_config, run_pipeline

    root = _bonn_subset(shared_data, tmp_path / "bonn",
                        {"Z": "Z", "N": "N", "S": "s", "O": "notes"})
    cfg = load_study_config(Path(__file__).parents[2] / "configs" / "bonn_example.yaml",
                            [f"data.source={root}", "train.epochs=1",
                             f"cache_dir={tmp_path / 'cache'}"])
    with caplog.at_level("INFO"), pytest.raises(DataError) as exc:
        run_pipeline(cfg, None, progress=False)
    assert ("the windows hold no ictal window (evaluate.positive_class): labels.mapping path "
            "labels O (class healthy), F (class interictal), S (class ictal) name no "
            "recording; the recordings' path labels (folders) are N, Z, notes, s"
            in str(exc.value))
    assert "8 recording(s) left out: their path labels notes (4), s (4) are not in " \
           "labels.mapping" in caplog.text


def test_run_pipeline_arguments_from_python_are_checked(repo_root, tmp_path):
    """From a notebook: a config that is not a mapping, an output folder that is a file,
    and one override given as a string (it was split into characters)."""
    from eegsnn.errors import ConfigError
    from eegsnn.pipeline import load_study_config, run_pipeline

    for bad in (None, ["name: x"]):
        with pytest.raises(ConfigError, match="config must be a study config file or a "
                                              "mapping"):
            run_pipeline(bad, None)
    cfg = load_study_config(repo_root / "configs" / "bonn_example.yaml")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out, kwargs in ((afile, {}), (afile, {"overwrite": True}), (afile / "run", {})):
        with pytest.raises(ConfigError, match=f"{afile} is a file"):
            run_pipeline(cfg, out, **kwargs)
    assert afile.read_text() == "x"
    with pytest.raises(ConfigError, match=r"train\.epochs must be an integer"):
        run_pipeline(cfg, None, overrides="train.epochs=x")  # one override, whole


def test_files_of_one_folder_are_labelled_by_its_name(shared_data):
    """Bonn segments of one set given as files (no root): the root is the folder above, so
    the path label is the set's folder (it was 'no parent folder to take the label from')."""
    from eegsnn.preprocess import load_windows

    cfg = {"sfreq_hz": 173.61, "expected_samples": 4097,
           "windows": {"mode": "sliding", "window_s": 4097 / 173.61},
           "labels": {"source": "path", "mapping": {"Z": "A", "S": "E"}}}
    ws = load_windows([shared_data / "bonn" / "S" / "S001.txt"], cfg, use_cache=False)
    assert list(ws.recording) == ["S/S001.txt"] and ws.class_counts() == {"A": 0, "E": 1}
