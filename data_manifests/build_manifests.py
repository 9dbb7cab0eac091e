"""Rebuild the manifests shipped in ``data_manifests/`` (run from the repository root).

    python data_manifests/build_manifests.py [--shared ../shared/data]

- ``eegmmidb_s001.yaml``, ``bonn_shared.yaml``: hashed from the files in ``--shared``.
- ``eegmmidb.yaml``: the full PhysioNet database, checksums from MNE's
  ``mne/data/eegbci_checksums.txt`` (sizes filled in where the shared copy has the file).
- ``sleep_edf.yaml``, ``chbmit.yaml``, ``bonn.yaml``: description, layout, license and
  citation; their file lists are filled by ``eegsnn manifest create`` after download.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import eegsnn  # noqa: F401
from eegsnn.io.files import parse_recording_ids
from eegsnn.manifest import Manifest, ManifestFile, create_manifest, save_manifest

HERE = Path(__file__).resolve().parent

EEGMMIDB_CITATION = [
    "Schalk G., McFarland D.J., Hinterberger T., Birbaumer N., Wolpaw J.R. BCI2000: A "
    "General-Purpose Brain-Computer Interface (BCI) System. IEEE Trans. Biomed. Eng. "
    "51(6):1034-1043, 2004.",
    "Goldberger A. et al. PhysioBank, PhysioToolkit, and PhysioNet: Components of a New "
    "Research Resource for Complex Physiologic Signals. Circulation 101(23):e215-e220, 2000.",
]
EEGMMIDB_SOURCE = {
    "url": "https://physionet.org/content/eegmmidb/1.0.0/",
    "download": "wget -r -N -c -np https://physionet.org/files/eegmmidb/1.0.0/ "
                "(or mne.datasets.eegbci.load_data(subjects, runs))",
}
EEGMMIDB_MAPPING = {
    "R03 R07 R11 (real) / R04 R08 R12 (imagined)": {"T0": "rest", "T1": "left_fist",
                                                    "T2": "right_fist"},
    "R05 R09 R13 (real) / R06 R10 R14 (imagined)": {"T0": "rest", "T1": "both_fists",
                                                    "T2": "both_feet"},
    "R01 R02": "baseline, eyes open / eyes closed (no T1/T2)",
}
EEGMMIDB_LAYOUT = (
    "S001/ ... S109/, each with S<sss>R<rr>.edf (EDF+, 64 EEG channels, 160 Hz, annotations "
    "T0/T1/T2) and S<sss>R<rr>.edf.event (WFDB annotation copy); runs R01-R14."
)
BONN_CITATION = [
    "Andrzejak R.G., Lehnertz K., Mormann F., Rieke C., David P., Elger C.E. Indications of "
    "nonlinear deterministic and finite-dimensional structures in time series of brain "
    "electrical activity: Dependence on recording region and brain state. Phys. Rev. E "
    "64:061907, 2001.",
]
BONN_MAPPING = {"Z": "A (healthy, eyes open)", "O": "B (healthy, eyes closed)",
                "N": "C (seizure-free, opposite hemisphere hippocampal formation)",
                "F": "D (seizure-free, epileptogenic zone)", "S": "E (seizure)"}
BONN_LAYOUT = (
    "Z/ O/ N/ F/ S/ (sets A-E), 100 single-channel segments each: Z001.txt ... Z100.txt, "
    "O001.txt ..., N001.TXT ... (CRLF line endings), F001.txt ..., S001.txt ...; "
    "4097 integer samples per file, one per line, 173.61 Hz (23.6 s)."
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    args = ap.parse_args()
    shared = Path(args.shared)

    def rel_root(p: Path) -> str:
        return Path(os.path.relpath(p.resolve(), HERE)).as_posix()

    # --- shared copies -----------------------------------------------------------------
    m = create_manifest(
        shared / "eegmmidb", name="eegmmidb-s001",
        description="PhysioNet EEG Motor Movement/Imagery Database v1.0.0, subject S001, "
                    "runs R03-R10 (the copy in ../shared/data/eegmmidb).",
        license="ODC-By-1.0 (Open Data Commons Attribution License v1.0)",
        citation=EEGMMIDB_CITATION, source=EEGMMIDB_SOURCE,
        task="Motor execution/imagery: R04/R08 imagined left (T1) vs right (T2) fist, "
             "15 T1/T2 events per run.",
        label_mapping=EEGMMIDB_MAPPING, layout=EEGMMIDB_LAYOUT,
        root=rel_root(shared / "eegmmidb"),
    )
    save_manifest(m, HERE / "eegmmidb_s001.yaml")
    m = create_manifest(
        shared / "bonn", name="bonn-shared", label_from_folder=True,
        description="Bonn University epilepsy EEG (Andrzejak et al. 2001), segments 001-080 "
                    "of each set (the copy in ../shared/data/bonn).",
        license="Free for research use with citation of Andrzejak et al. 2001",
        citation=BONN_CITATION,
        source={"url": "https://www.ukbonn.de/epileptologie/arbeitsgruppen/"
                       "ag-lehnertz-neurophysik/downloads/"},
        task="Set classification (A-E); common tasks: E vs rest (seizure detection), "
             "A/B vs C/D vs E.", label_mapping=BONN_MAPPING, layout=BONN_LAYOUT,
        root=rel_root(shared / "bonn"),
        notes="Sampling rate 173.61 Hz, 4097 samples per segment; subject ids are not "
              "published, so split by recording (segment).",
    )
    save_manifest(m, HERE / "bonn_shared.yaml")

    # --- full public datasets ----------------------------------------------------------
    import mne

    checks = Path(mne.__file__).parent / "data" / "eegbci_checksums.txt"
    files = []
    for line in checks.read_text().splitlines():
        if not line.strip():
            continue
        rel, sha = line.split()
        local = shared / "eegmmidb" / rel
        ids = parse_recording_ids(rel, fallback_to_stem=False)
        files.append(ManifestFile(path=rel, sha256=sha,
                                  size=local.stat().st_size if local.is_file() else None,
                                  **ids))
    files.sort(key=lambda f: f.path)
    save_manifest(Manifest(
        name="eegmmidb", files=files,
        description="PhysioNet EEG Motor Movement/Imagery Database v1.0.0: 109 subjects, "
                    "14 runs each (1526 EDF+ files). Checksums from MNE's "
                    "mne/data/eegbci_checksums.txt.",
        license="ODC-By-1.0 (Open Data Commons Attribution License v1.0)",
        citation=EEGMMIDB_CITATION, source=EEGMMIDB_SOURCE,
        task="Motor execution/imagery (see label_mapping per run).",
        label_mapping=EEGMMIDB_MAPPING, layout=EEGMMIDB_LAYOUT,
        notes="Pass --root to the folder holding S001/ ... S109/ (e.g. the physionet.org/"
              "files/eegmmidb/1.0.0 folder wget creates).",
    ), HERE / "eegmmidb.yaml")
    save_manifest(Manifest(
        name="sleep-edf-expanded",
        description="Sleep-EDF Database Expanded v1.0.0 (PhysioNet): 197 whole-night PSG "
                    "recordings (Sleep Cassette SC*, Sleep Telemetry ST*) with hypnograms.",
        license="ODC-By-1.0 (Open Data Commons Attribution License v1.0)",
        citation=[
            "Kemp B., Zwinderman A.H., Tuk B., Kamphuisen H.A.C., Oberye J.J.L. Analysis of "
            "a sleep-dependent neuronal feedback loop: the slow-wave microcontinuity of the "
            "EEG. IEEE Trans. Biomed. Eng. 47(9):1185-1194, 2000.",
            EEGMMIDB_CITATION[1],
        ],
        source={"url": "https://physionet.org/content/sleep-edfx/1.0.0/",
                "download": "wget -r -N -c -np https://physionet.org/files/sleep-edfx/1.0.0/"},
        task="Sleep staging in 30 s epochs (AASM: W, N1, N2, N3 = R&K 3+4, REM).",
        label_mapping={"Sleep stage W": "W", "Sleep stage 1": "N1", "Sleep stage 2": "N2",
                       "Sleep stage 3": "N3", "Sleep stage 4": "N3", "Sleep stage R": "REM",
                       "Sleep stage ?": "(excluded)", "Movement time": "(excluded)"},
        layout="sleep-cassette/SC4ssNE0-PSG.edf with SC4ssNEC-Hypnogram.edf (ss = subject "
               "00-82, N = night 1/2); sleep-telemetry/ST7ssNJ0-PSG.edf with "
               "ST7ssNJ?-Hypnogram.edf. PSG channels: EEG Fpz-Cz, EEG Pz-Oz (100 Hz), EOG "
               "horizontal, Resp oro-nasal, EMG submental, Temp rectal, Event marker. Use "
               "labels.source: hypnogram (the PSG/hypnogram pair shares the first 7 "
               "characters).",
        notes="File list and checksums are not shipped: after downloading, run "
              "'eegsnn manifest create <folder> -o sleep_edf_local.yaml' and keep that file "
              "with your results.",
    ), HERE / "sleep_edf.yaml")
    save_manifest(Manifest(
        name="chb-mit",
        description="CHB-MIT Scalp EEG Database v1.0.0 (PhysioNet): 24 cases (23 pediatric "
                    "patients), 664 EDF files, 198 seizures, 256 Hz, 23+ bipolar channels.",
        license="ODC-By-1.0 (Open Data Commons Attribution License v1.0)",
        citation=[
            "Shoeb A.H. Application of Machine Learning to Epileptic Seizure Onset Detection "
            "and Treatment. PhD Thesis, Massachusetts Institute of Technology, 2009.",
            EEGMMIDB_CITATION[1],
        ],
        source={"url": "https://physionet.org/content/chbmit/1.0.0/",
                "download": "wget -r -N -c -np https://physionet.org/files/chbmit/1.0.0/"},
        task="Seizure detection: seizure vs non-seizure windows from the onset/offset "
             "times in chbNN-summary.txt.",
        label_mapping={"seizure": "seizure", "(no seizure)": "background"},
        layout="chb01/ ... chb24/, each with chbNN_MM.edf recordings, chbNN_MM.edf.seizures "
               "(binary annotations) and chbNN-summary.txt (File Name / Seizure Start Time / "
               "Seizure End Time in seconds). Use labels.source: seizures with "
               "labels.summary: chbNN/chbNN-summary.txt. Some files repeat channel names "
               "(T8-P8) and a few change montage mid-case: pick the channels every file has.",
        notes="File list and checksums are not shipped: after downloading, run "
              "'eegsnn manifest create <folder> -o chbmit_local.yaml'. PhysioNet also "
              "publishes SHA256SUMS.txt for this database.",
    ), HERE / "chbmit.yaml")
    save_manifest(Manifest(
        name="bonn",
        description="Bonn University epilepsy EEG (Andrzejak et al. 2001): five sets of 100 "
                    "single-channel 23.6 s segments.",
        license="Free for research use with citation of Andrzejak et al. 2001",
        citation=BONN_CITATION,
        source={"url": "https://www.ukbonn.de/epileptologie/arbeitsgruppen/"
                       "ag-lehnertz-neurophysik/downloads/",
                "download": "download Z.zip, O.zip, N.zip, F.zip, S.zip and unzip each into "
                            "a folder of the same letter"},
        task="Set classification (A-E); common tasks: E vs rest, A/B vs C/D vs E.",
        label_mapping=BONN_MAPPING, layout=BONN_LAYOUT,
        notes="The shipped bonn_shared.yaml lists segments 001-080 with checksums; for the "
              "full download run 'eegsnn manifest create <folder> --label-from-folder'.",
    ), HERE / "bonn.yaml")


if __name__ == "__main__":
    main()
