"""Bonn-style text segments: LF and CRLF, lengths, and bad content."""

from __future__ import annotations

import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.io import BONN_N_SAMPLES, BONN_SFREQ_HZ, read_recording, read_text_segment


def test_all_shared_bonn_segments_read(shared_data):
    files = sorted((shared_data / "bonn").glob("*/*"))
    assert len(files) == 400
    for f in files:
        x = read_text_segment(f, expected_samples=BONN_N_SAMPLES)
        assert x.shape == (4097,)
        # Values are integers as written; compare one file with a plain parse.
    ref = [float(v) for v in (shared_data / "bonn" / "N" / "N001.TXT").read_text().split()]
    np.testing.assert_array_equal(read_text_segment(shared_data / "bonn" / "N" / "N001.TXT"), ref)


def test_crlf_file_is_crlf_and_reads_like_lf(shared_data, tmp_path):
    crlf = shared_data / "bonn" / "N" / "N001.TXT"
    raw = crlf.read_bytes()
    assert b"\r\n" in raw
    lf = tmp_path / "N001.txt"
    lf.write_bytes(raw.replace(b"\r\n", b"\n"))
    np.testing.assert_array_equal(read_text_segment(crlf), read_text_segment(lf))
    # No final newline and trailing blank lines are fine too.
    (tmp_path / "nofinal.txt").write_bytes(b"1\r\n2\r\n3")
    (tmp_path / "blank.txt").write_bytes(b"1\n2\n3\n\n\n")
    np.testing.assert_array_equal(read_text_segment(tmp_path / "nofinal.txt"), [1, 2, 3])
    np.testing.assert_array_equal(read_text_segment(tmp_path / "blank.txt"), [1, 2, 3])


def test_bonn_recording_is_one_channel_in_volts(shared_data):
    rec = read_recording(
        shared_data / "bonn" / "S" / "S001.txt",
        sfreq_hz=BONN_SFREQ_HZ,
        expected_samples=BONN_N_SAMPLES,
    )
    assert rec.format == "text" and rec.raw.ch_names == ["EEG"]
    assert rec.raw.info["sfreq"] == pytest.approx(173.61)
    values = read_text_segment(shared_data / "bonn" / "S" / "S001.txt")
    np.testing.assert_allclose(rec.raw.get_data()[0], values * 1e-6)
    assert len(rec.events) == 0


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty text segment"),
        (b"\n\n", "empty text segment"),
        (b"1\n2\nabc\n4\n", r"line 3 is not a number: 'abc'"),
        (b"1\nnan\n3\n", r"non-finite value \('nan'\) at line 2"),
        (b"1\n2\n1e308\n", r"value '1e308' at line 3 is beyond any signal's range"),
        (b"1\x002\n", r"not a text segment \(binary content\)"),
        (b"1\n\xe92\n", r"not a text segment \(non-ASCII byte at offset 2\)"),
    ],
)
def test_bad_text_segments(tmp_path, content, match):
    f = tmp_path / "seg.txt"
    f.write_bytes(content)
    with pytest.raises(DataError, match=r"seg\.txt: " + match):
        read_text_segment(f)


def test_values_beyond_float32_microvolts_are_refused_in_any_unit(tmp_path):
    f = tmp_path / "seg.txt"
    f.write_bytes(b"1\n1e35\n")
    assert read_text_segment(f)[1] == 1e35  # 1e35 microvolts fit float32
    with pytest.raises(DataError, match=r"value '1e35' at line 2 is beyond any signal's"):
        read_text_segment(f, uv_per_unit=1e6)  # 1e35 volts do not


def test_wrong_length_and_missing_rate(tmp_path):
    f = tmp_path / "short.txt"
    f.write_text("1\n2\n3\n")
    with pytest.raises(DataError, match=r"short\.txt: 3 samples, expected 4097"):
        read_text_segment(f, expected_samples=4097)
    with pytest.raises(ConfigError, match="a text segment carries no sampling rate"):
        read_recording(f)
    with pytest.raises(ConfigError, match="text_unit"):
        read_recording(f, sfreq_hz=100, text_unit="furlong")
