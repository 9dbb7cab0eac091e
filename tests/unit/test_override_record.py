"""``RUN/overrides.json``: the config file's name and the ``--set`` overrides of a run,
kept out of ``config.yaml`` so that the resume check compares configs only."""

from __future__ import annotations

import json

from eegsnn.pipeline.config import OVERRIDES_FILE, override_record, write_override_record


def test_record_keeps_the_file_name_only(tmp_path):
    rec = override_record(tmp_path / "configs" / "study.yaml", ["train.epochs=3"])
    assert rec == {"config_file": "study.yaml", "overrides": ["train.epochs=3"]}
    assert override_record(None, []) == {"config_file": None, "overrides": []}


def test_a_resume_extends_the_record_instead_of_replacing_it(tmp_path):
    write_override_record(tmp_path, "/home/alice/study.yaml", ["train.epochs=3", "split.seed=1"])
    # resumed through the run's own config.yaml with a longer training
    rec = write_override_record(tmp_path, tmp_path / "config.yaml",
                                ["split.seed=1", "train.epochs=9"], resume=True)
    assert rec == {"config_file": "study.yaml",
                   "overrides": ["train.epochs=3", "split.seed=1", "train.epochs=9"]}
    assert json.loads((tmp_path / OVERRIDES_FILE).read_text()) == rec
    assert not [p for p in tmp_path.iterdir() if p.name != OVERRIDES_FILE]  # no temp file
    # a fresh run (no resume) replaces it; an unreadable record is replaced too
    assert write_override_record(tmp_path, None, [])["overrides"] == []
    (tmp_path / OVERRIDES_FILE).write_text("{not json")
    assert write_override_record(tmp_path, "b.yaml", ["x=1"], resume=True) == {
        "config_file": "b.yaml", "overrides": ["x=1"]}

