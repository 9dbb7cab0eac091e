"""Tutorial 2: the pipeline API on MNE objects (Raw and Epochs), no files in between.

What it teaches:
  * ``load_windows`` and ``run_pipeline`` take ``mne.io.Raw`` / ``mne.Epochs`` (or lists
    of them) wherever they take paths; labels come from the Raw's annotations or the
    Epochs' ``event_id``; each object is one recording (named after the file it was read
    from, else ``raw-K``), so splits never mix windows of one recording;
  * what a run records for in-memory data: ``config.yaml`` and ``data.json`` name each
    object and the SHA-256 of its content, never ``info["subject_info"]``;
  * ``EEGEncoder.transform(raw)`` cuts a continuous recording into windows of the length
    it was fitted on.

Data: EEGMMIDB S001, imagined left vs right fist (runs R04, R08). Run:
``python docs/tutorials/02_pipeline_on_mne_objects.py [DATA_DIR]`` (about 30 s).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import eegsnn  # noqa: F401  (import eegsnn first: it loads a fast BLAS for MLX)

# isort: split
import mne

from eegsnn.encode import EEGEncoder
from eegsnn.pipeline import run_pipeline
from eegsnn.preprocess import load_windows

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else
            Path(__file__).resolve().parents[3] / "shared" / "data")


def main(out: Path | None = None) -> Path:
    raws = [mne.io.read_raw_edf(DATA / "eegmmidb" / "S001" / f"S001R{r}.edf",
                                preload=True, verbose="error") for r in ("04", "08")]

    # 1. windows straight from Raw objects (the same windows as from their files)
    dataset = {"preprocess": [{"step": "bandpass", "l_freq": 8.0, "h_freq": 30.0}],
               "windows": {"mode": "events", "window_s": 4.0},
               "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}
    ws = load_windows(raws, dataset, use_cache=False)
    print(f"windows {ws.X.shape} from {sorted(set(map(str, ws.recording)))}")

    # ... and from Epochs: event names are the labels
    events, event_id = mne.events_from_annotations(raws[0], verbose="error")
    epochs = mne.Epochs(raws[0], events, {k: event_id[k] for k in ("T1", "T2")}, tmin=-0.5,
                        tmax=4.5, baseline=None, preload=True, verbose="error")
    print(f"windows {load_windows(epochs, dataset, use_cache=False).X.shape} from Epochs")

    # 2. a whole study on the Raw objects: leave-one-recording-out, a small SNN
    out = Path(out or tempfile.mkdtemp()) / "run"
    result = run_pipeline({
        "pipeline": "motor_imagery",
        "data": {"source": raws},
        "split": {"method": "kfold", "n_splits": 2, "by": "recording"},
        "train": {"epochs": 5}, "baseline": {"type": "csp_lda"}, "report": {"format": "md"},
    }, out, overwrite=True)
    m = result.metrics
    print(f"SNN accuracy {m['snn']['pooled']['accuracy']:.3f}, "
          f"CSP+LDA {m['baseline']['pooled']['accuracy']:.3f}")
    print("data.json source:", json.loads((out / "data.json").read_text())["source"][0])

    # 3. encode a continuous recording: windows of the fitted length (4 s = 640 samples)
    encoder = EEGEncoder("delta", num_steps=32).fit(epochs)
    print("spikes of the whole Raw:", tuple(encoder.transform(raws[1]).shape))
    return out


if __name__ == "__main__":
    main()
