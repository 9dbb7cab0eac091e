"""EDF/BDF reading: header checks, MNE vs pyedflib, channel names, other MNE formats."""

from __future__ import annotations

import shutil

import mne
import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.io import (
    channel_type,
    detect_format,
    inspect_edf_header,
    normalize_channel_name,
    read_recording,
    write_edf,
)

RUNS = [f"S001R{r:02d}.edf" for r in range(3, 11)]


@pytest.fixture(scope="module")
def eegmmidb(shared_data):
    return shared_data / "eegmmidb" / "S001"


def test_header_of_shared_edf(eegmmidb):
    h = inspect_edf_header(eegmmidb / "S001R04.edf")
    # 64 EEG + 1 annotation signal, 125 records of 1 s at 160 Hz.
    assert h.kind == "EDF+C"
    assert h.n_signals == 65
    assert h.n_records == 125
    assert h.record_s == 1.0
    assert h.samples_per_record[:64] == (160,) * 64
    assert h.labels[0] == "Fc5." and h.labels[-1] == "EDF Annotations"
    assert h.expected_size == h.file_size == 2596896


@pytest.mark.parametrize("run", RUNS)
def test_mne_and_pyedflib_give_the_same_samples(eegmmidb, run):
    a = read_recording(eegmmidb / run, reader="mne")
    b = read_recording(eegmmidb / run, reader="pyedflib")
    assert a.reader == "mne" and b.reader == "pyedflib"
    assert a.raw.ch_names == b.raw.ch_names
    assert a.raw.info["sfreq"] == b.raw.info["sfreq"] == 160.0
    assert a.raw.get_data().shape == (64, 20000)
    np.testing.assert_allclose(a.raw.get_data(), b.raw.get_data(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.events.onset_s, b.events.onset_s)
    np.testing.assert_allclose(a.events.duration_s, b.events.duration_s)
    assert list(a.events.description) == list(b.events.description)
    assert a.events.counts() == {
        "T0": 15,
        "T1": a.events.counts()["T1"],
        "T2": 15 - a.events.counts()["T1"],
    }


def test_samples_match_a_direct_mne_read(eegmmidb):
    direct = mne.io.read_raw_edf(eegmmidb / "S001R04.edf", preload=True, verbose="error")
    ours = read_recording(eegmmidb / "S001R04.edf")
    np.testing.assert_array_equal(direct.get_data(), ours.raw.get_data())
    # Annotation onsets relative to the first sample survive anonymisation.
    np.testing.assert_allclose(ours.events.onset_s, direct.annotations.onset)


def test_channel_names_normalised_and_montage_applied(eegmmidb):
    rec = read_recording(eegmmidb / "S001R04.edf")
    names = rec.raw.ch_names
    assert names[:4] == ["FC5", "FC3", "FC1", "FCz"]
    assert "C3" in names and "Iz" in names and "AFz" in names
    assert not any("." in n for n in names)
    assert set(rec.raw.get_channel_types()) == {"eeg"}
    pos = rec.raw.get_montage().get_positions()["ch_pos"]
    assert np.isfinite(pos["C3"]).all() and np.linalg.norm(pos["C3"]) > 0.05


@pytest.mark.parametrize(
    ("raw_name", "expected"),
    [
        ("C3..", "C3"),
        ("Fcz.", "FCz"),
        ("Afz.", "AFz"),
        ("EEG Fp1-REF", "Fp1"),
        ("EEG Fpz-Cz", "Fpz-Cz"),
        ("FP1-F7", "Fp1-F7"),
        ("EOG horizontal", "EOG horizontal"),
        ("T8-P8-0", "T8-P8-0"),
        ("  O2  ", "O2"),
        ("Resp oro-nasal", "Resp oro-nasal"),
    ],
)
def test_normalize_channel_name(raw_name, expected):
    assert normalize_channel_name(raw_name) == expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("EEG Fpz-Cz", "eeg"),
        ("EOG horizontal", "eog"),
        ("EMG submental", "emg"),
        ("ECG", "ecg"),
        ("Resp oro-nasal", "resp"),
        ("Temp rectal", "misc"),
        ("Event marker", "stim"),
        ("C3..", "eeg"),
    ],
)
def test_channel_type(name, kind):
    assert channel_type(name) == kind


def test_sleep_edf_style_channels_get_types(tmp_path):
    x = np.random.default_rng(1).normal(0, 20e-6, (3, 500))
    write_edf(
        tmp_path / "SC4001E0-PSG.edf", x, 100, ["EEG Fpz-Cz", "EOG horizontal", "EMG submental"]
    )
    for reader in ("mne", "pyedflib"):
        rec = read_recording(tmp_path / "SC4001E0-PSG.edf", reader=reader)
        assert rec.raw.ch_names == ["Fpz-Cz", "EOG horizontal", "EMG submental"]
        assert rec.raw.get_channel_types() == ["eeg", "eog", "emg"]


def test_bdf_both_readers_agree(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 30e-6, (4, 1024))
    write_edf(
        tmp_path / "rec.bdf",
        x,
        256,
        ["C3", "Cz", "C4", "Pz"],
        bdf=True,
        annotations=([1.0], [0.5], ["stim"]),
    )
    h = inspect_edf_header(tmp_path / "rec.bdf")
    assert h.kind == "BDF" and h.bytes_per_sample == 3
    a = read_recording(tmp_path / "rec.bdf", reader="mne")
    b = read_recording(tmp_path / "rec.bdf", reader="pyedflib")
    np.testing.assert_allclose(a.raw.get_data(), b.raw.get_data(), atol=1e-12)
    # 24-bit over a ~300 uV range: quantisation far below 1 nV.
    np.testing.assert_allclose(a.raw.get_data(), x, atol=1e-10)
    assert b.events.counts() == {"stim": 1}


def test_fif_is_read_through_mne(tmp_path):
    x = np.random.default_rng(3).normal(0, 10e-6, (2, 300))
    raw = mne.io.RawArray(x, mne.create_info(["Cz", "Oz"], 100.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([0.5], [1.0], ["go"]))
    raw.save(tmp_path / "rec_raw.fif", verbose="error")
    rec = read_recording(tmp_path / "rec_raw.fif")
    assert rec.format == "fif"
    np.testing.assert_allclose(rec.raw.get_data(), x, rtol=1e-6)
    np.testing.assert_allclose(rec.events.onset_s, [0.5])


def test_brainvision_is_read_through_mne(tmp_path):
    x = (np.arange(2 * 200).reshape(2, 200) % 17 - 8).astype(np.float32)  # microvolts
    (tmp_path / "rec.eeg").write_bytes(x.T.astype("<f4").tobytes())
    (tmp_path / "rec.vhdr").write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        "DataFile=rec.eeg\nMarkerFile=rec.vmrk\nDataFormat=BINARY\n"
        "DataOrientation=MULTIPLEXED\nNumberOfChannels=2\nSamplingInterval=10000\n"
        "[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n[Channel Infos]\n"
        "Ch1=Cz,,1,µV\nCh2=Oz,,1,µV\n",
        encoding="utf-8",
    )
    (tmp_path / "rec.vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        "DataFile=rec.eeg\n[Marker Infos]\nMk1=Stimulus,S  1,51,1,0\n",
        encoding="utf-8",
    )
    rec = read_recording(tmp_path / "rec.vhdr")
    assert rec.format == "brainvision" and rec.raw.ch_names == ["Cz", "Oz"]
    assert rec.raw.info["sfreq"] == 100.0
    np.testing.assert_allclose(rec.raw.get_data(), x * 1e-6, rtol=1e-6)
    assert "Stimulus/S  1" in rec.events.counts()
    np.testing.assert_allclose(rec.events.onset_s[rec.events.description == "Stimulus/S  1"], [0.5])


def test_truncated_edf_names_file_and_problem(eegmmidb, tmp_path):
    bad = tmp_path / "S001R04.edf"
    data = (eegmmidb / "S001R04.edf").read_bytes()
    bad.write_bytes(data[: len(data) - 5000])
    for reader in ("mne", "pyedflib"):
        with pytest.raises(DataError, match=r"S001R04\.edf: truncated EDF\+C file") as exc:
            read_recording(bad, reader=reader)
        assert "125 data records" in str(exc.value)


def test_header_only_and_short_files(eegmmidb, tmp_path):
    data = (eegmmidb / "S001R04.edf").read_bytes()
    (tmp_path / "head.edf").write_bytes(data[:1000])
    with pytest.raises(DataError, match=r"head.edf: truncated EDF/BDF file"):
        read_recording(tmp_path / "head.edf")
    (tmp_path / "tiny.edf").write_bytes(b"0       ")
    with pytest.raises(DataError, match=r"tiny.edf: not an EDF/BDF file"):
        read_recording(tmp_path / "tiny.edf")


def test_not_an_edf(tmp_path, shared_data):
    fake = tmp_path / "notes.edf"
    shutil.copy(shared_data / "bonn" / "Z" / "Z001.txt", fake)
    with pytest.raises(DataError, match=r"notes\.edf: not an EDF/BDF file \(version field"):
        read_recording(fake)
    png = tmp_path / "image.edf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 400)
    with pytest.raises(DataError, match=r"image.edf: not an EDF/BDF file"):
        read_recording(png, reader="pyedflib")


def test_reader_and_format_errors(tmp_path, eegmmidb):
    with pytest.raises(DataError, match=r"missing.edf: file not found"):
        read_recording(tmp_path / "missing.edf")
    with pytest.raises(ConfigError, match="reader must be one of"):
        read_recording(eegmmidb / "S001R04.edf", reader="edflib")
    (tmp_path / "x.xyz").write_text("1\n")
    with pytest.raises(DataError, match=r"x\.xyz: unknown recording format '\.xyz'"):
        read_recording(tmp_path / "x.xyz")
    x = np.zeros((1, 100))
    raw = mne.io.RawArray(x, mne.create_info(["Cz"], 100.0, "eeg"), verbose="error")
    raw.save(tmp_path / "a_raw.fif", verbose="error")
    with pytest.raises(ConfigError, match="pyedflib' reads EDF/BDF only"):
        read_recording(tmp_path / "a_raw.fif", reader="pyedflib")
    assert detect_format("a/b/C.FIF.GZ") == "fif" and detect_format("N001.TXT") == "text"


def test_nan_samples_rejected(tmp_path):
    x = np.zeros((2, 200))
    x[1, 57] = np.nan
    raw = mne.io.RawArray(x, mne.create_info(["Cz", "Oz"], 100.0, "eeg"), verbose="error")
    raw.save(tmp_path / "nan_raw.fif", verbose="error")
    with pytest.raises(
        DataError,
        match=r"nan_raw\.fif: NaN or infinite samples in 1 "
        r"channel\(s\) \(Oz\); first at sample 57",
    ):
        read_recording(tmp_path / "nan_raw.fif")


def test_eeglab_set_is_read_through_mne(tmp_path, require_extra):
    """An EEGLAB .set (MATLAB v5 file, data inside) as EEGLAB saves it: microvolts, event
    latencies in samples counted from 1."""
    require_extra("pymatreader", "eeglab")  # MNE's EEGLAB reader needs it
    from scipy.io import savemat

    x = (np.arange(2 * 300).reshape(2, 300) % 23 - 11).astype(np.float64)  # microvolts
    chanlocs = np.zeros((2,), dtype=[("labels", "O"), ("X", "O"), ("Y", "O"), ("Z", "O"),
                                     ("type", "O")])
    for i, name in enumerate(["Cz", "Oz"]):
        chanlocs[i] = (name, np.array([]), np.array([]), np.array([]), "")
    event = np.zeros((2,), dtype=[("type", "O"), ("latency", "O"), ("duration", "O")])
    event[0], event[1] = ("T1", 51.0, 0.0), ("T2", 151.0, 0.0)
    eeg = {"setname": "rec", "nbchan": 2.0, "pnts": 300.0, "trials": 1.0, "srate": 100.0,
           "xmin": 0.0, "xmax": 2.99, "data": x, "chanlocs": chanlocs, "event": event,
           "icawinv": np.array([]), "icasphere": np.array([]), "icaweights": np.array([]),
           "ref": "common", "epoch": np.array([])}
    savemat(tmp_path / "rec.set", {"EEG": eeg}, appendmat=False, oned_as="row")
    rec = read_recording(tmp_path / "rec.set")
    assert rec.format == "eeglab" and rec.raw.ch_names == ["Cz", "Oz"]
    assert rec.raw.info["sfreq"] == 100.0
    np.testing.assert_allclose(rec.raw.get_data(), x * 1e-6, rtol=1e-6)
    assert rec.events.counts() == {"T1": 1, "T2": 1}
    np.testing.assert_allclose(rec.events.onset_s, [0.5, 1.5])


@pytest.mark.parametrize("name", ["broken.set", "broken.gdf", "broken_raw.fif", "broken.vhdr"])
def test_corrupt_files_of_other_formats(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(b"definitely not a recording\n" * 10)
    with pytest.raises(DataError, match=rf"{name.replace('.', chr(92) + '.')}: "):
        read_recording(f)


def test_mixed_rate_edf_mne_upsamples_pyedflib_refuses(tmp_path):
    import pyedflib

    f = tmp_path / "mixed.edf"
    w = pyedflib.EdfWriter(str(f), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    for i, (label, rate) in enumerate([("EEG Fpz-Cz", 100), ("Temp rectal", 1)]):
        w.setSignalHeader(i, {"label": label, "dimension": "uV", "sample_frequency": rate,
                              "physical_min": -100.0, "physical_max": 100.0,
                              "digital_min": -32768, "digital_max": 32767,
                              "transducer": "", "prefilter": ""})
    w.writeSamples([np.zeros(1000), np.zeros(10)])
    w.close()
    rec = read_recording(f)
    assert rec.raw.info["sfreq"] == 100.0 and rec.raw.n_times == 1000
    assert rec.raw.get_channel_types() == ["eeg", "misc"]
    with pytest.raises(DataError, match=r"mixed\.edf: signals have different sampling rates "
                                        r"\(EEG Fpz-Cz=100 Hz, Temp rectal=1 Hz\)"):
        read_recording(f, reader="pyedflib")


def test_header_ranges_of_shared_edf(eegmmidb):
    h = inspect_edf_header(eegmmidb / "S001R04.edf")
    # as pyedflib reads them: Fc5. in uV, physical and digital range -8092..8092
    assert h.units[0] == "uV" and h.digital_min[0] == -8092 and h.digital_max[0] == 8092
    assert h.physical_min[0] == -8092.0 and h.physical_max[0] == 8092.0
    assert h.is_annotation(64) and not h.is_annotation(0) and h.sfreq_hz(0) == 160.0


def _patch(path, start, width, index, text):
    data = bytearray(path.read_bytes())
    ns = int(data[252:256])
    off = 256 + start * ns + width * index
    data[off:off + width] = text.ljust(width).encode()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("field, start, width, text, message", [
    ("digital", 120, 8, "32767", r"channel 'Cz' has digital maximum = digital minimum = 32767"),
    ("physical", 112, 8, "-10", r"channel 'Cz' has physical maximum = physical minimum = -10 uV"),
    ("rate", 216, 8, "0", r"channel 'Cz' has 0 samples per data record"),
])
@pytest.mark.parametrize("reader", ["mne", "pyedflib"])
def test_impossible_header_refused_by_both_readers(tmp_path, field, start, width, text,
                                                   message, reader):
    """A zero digital/physical range or sampling rate is refused before either backend
    reads the file (MNE read a zero digital range as a channel of ~1e7 uV)."""
    f = tmp_path / "zero.edf"
    x = np.random.default_rng(0).normal(0, 1e-5, (2, 400))
    x[1] = np.linspace(-1e-5, 1e-5, 400)  # physical range about -11..11 uV
    write_edf(f, x, 100.0, ["C3", "Cz"])
    if field == "physical":
        _patch(f, 104, 8, 1, "-10")
    _patch(f, start, width, 1, text)
    with pytest.raises(DataError, match=rf"zero\.edf: impossible EDF\+C header: {message}"):
        read_recording(f, reader=reader)


def test_record_duration_checks(tmp_path):
    from eegsnn.io.edf import EdfHeader, check_edf_header

    def header(labels, record_s):
        n = len(labels)
        return EdfHeader("EDF+C", n, 1, record_s, 256 * (n + 1), tuple(labels), (10,) * n, 2,
                         0, (-1.0,) * n, (1.0,) * n, (-32768,) * n, (32767,) * n, ("uV",) * n)

    check_edf_header(header(["EDF Annotations"], 0.0), "hyp.edf")  # annotation-only EDF+
    with pytest.raises(DataError, match=r"a\.edf: impossible EDF\+C header: data record "
                                        r"duration 0 s"):
        check_edf_header(header(["Cz", "EDF Annotations"], 0.0), "a.edf")
    with pytest.raises(DataError, match=r"duration -1 s"):
        check_edf_header(header(["EDF Annotations"], -1.0), "a.edf")


def test_write_edf_keeps_every_annotation(tmp_path):
    """pyedflib stores one annotation per annotation signal and 1 s data record: a
    hypnogram of 30 s stages fits, but more annotations than seconds were dropped without a
    word. write_edf adds annotation signals, and refuses what cannot fit."""
    from eegsnn.io.labels import read_hypnogram

    onsets = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5]  # 7 annotations in a 2 s recording
    write_edf(tmp_path / "a.edf", np.zeros((1, 200)), 100, ["x"],
              annotations=(onsets, [0.1] * 7, [f"event {i}" for i in range(7)]))
    events, _ = read_hypnogram(tmp_path / "a.edf")
    assert list(events.description) == [f"event {i}" for i in range(7)]
    np.testing.assert_allclose(events.onset_s, onsets)
    with pytest.raises(ValueError, match="129 annotations do not fit an EDF\\+ of 2 s"):
        write_edf(tmp_path / "b.edf", np.zeros((1, 200)), 100, ["x"],
                  annotations=([0.0] * 129, [0.0] * 129, ["e"] * 129))
    assert not (tmp_path / "b.edf").exists()  # (nothing half-written)


def test_suffix_against_header_duplicate_labels_and_bad_channels(tmp_path, caplog):
    """An EDF named .bdf is named as such (MNE's 'invalid byte in an annotations channel'
    before); a label given twice in the header and channels a FIF marks bad are warned of
    (they were read without a word, the duplicates as C3-0 and C3-1)."""
    rng = np.random.default_rng(0)
    write_edf(tmp_path / "a.edf", rng.normal(0, 20e-6, (3, 1000)), 100, ["C3", "C3", "Cz"])
    shutil.copy(tmp_path / "a.edf", tmp_path / "b.bdf")
    with pytest.raises(DataError, match=r"b\.bdf: the header says EDF\+C, the suffix \.bdf; "
                                        r"rename it to b\.edf"):
        read_recording(tmp_path / "b.bdf")
    with caplog.at_level("WARNING"):
        raw = read_recording(tmp_path / "a.edf").raw
    assert "a.edf: signal label(s) given more than once in the header: C3 (signals 1, 2)" \
        in caplog.text
    raw.info["bads"] = ["Cz"]
    raw.save(tmp_path / "a_raw.fif", verbose="error")
    caplog.clear()
    with caplog.at_level("WARNING"):
        read_recording(tmp_path / "a_raw.fif")
    assert "a_raw.fif: channel(s) Cz are marked bad in the file" in caplog.text


def test_bytes_after_the_last_record_are_warned_of(tmp_path, caplog):
    """Bytes beyond the data records the header announces are ignored by the readers; now
    with a warning (a file appended to was read without a word)."""
    write_edf(tmp_path / "a.edf", np.zeros((1, 200)) + 1e-6, 100, ["Cz"])
    with open(tmp_path / "a.edf", "ab") as fh:
        fh.write(b"\x00" * 5000)
    with caplog.at_level("WARNING"):
        inspect_edf_header(tmp_path / "a.edf")
    assert "a.edf: 5000 bytes after the last of the 2 data records" in caplog.text
