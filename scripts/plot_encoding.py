"""Plot one real EEG window beside its spike raster for each EEGEncoder method.

Usage (from the repository root)::

    python scripts/plot_encoding.py                      # EEGMMIDB S001 R03, 4 channels
    python scripts/plot_encoding.py --edf PATH --channels C3.. Cz.. C4.. --start-s 20 \
        --duration-s 3 --out docs/figures/encoding_eegmmidb.png
    python scripts/plot_encoding.py --bands default --out docs/figures/encoding_eegmmidb_bands.png

Top: the signal of each channel (µV) with its send-on-delta reconstruction (dashed).
Below, one raster per method (rate, delta ON/OFF, threshold crossings UP/DOWN per level),
lines grouped by channel as in ``EEGEncoder.layout``. The encoder statistics are fitted on
the whole recording, then the window is encoded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import eegsnn  # noqa: F401  (BLAS before mlx.core)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EDF = REPO.parent / "shared" / "data" / "eegmmidb" / "S001" / "S001R03.edf"

COLORS = {"rate": "k", "on": "tab:red", "off": "tab:blue", "up": "tab:red", "down": "tab:blue"}


def main(argv: list[str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    from eegsnn.encode import EEGEncoder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edf", type=Path, default=DEFAULT_EDF)
    ap.add_argument("--channels", nargs="+", default=["Fc3.", "C3..", "Cz..", "C4.."])
    ap.add_argument("--start-s", type=float, default=20.0)
    ap.add_argument("--duration-s", type=float, default=3.0)
    ap.add_argument("--delta-threshold", type=float, default=0.5)
    ap.add_argument("--bands", choices=["default"], default=None, help="filter bank first")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "figures" / "encoding_eegmmidb.png")
    args = ap.parse_args(argv)

    raw = mne.io.read_raw_edf(args.edf, preload=True, verbose="error")
    missing = [c for c in args.channels if c not in raw.ch_names]
    if missing:
        raise SystemExit(f"{args.edf}: no channel(s) {missing}; available: {raw.ch_names}")
    raw.pick(args.channels)
    sfreq = raw.info["sfreq"]
    full = raw.get_data()[None].astype(np.float32)  # [1, C, N]
    i0 = int(args.start_s * sfreq)
    n = int(args.duration_s * sfreq)
    window = full[:, :, i0 : i0 + n]
    t = np.arange(n) / sfreq + args.start_s

    methods = {
        "rate": EEGEncoder("rate", sfreq_hz=sfreq, bands=args.bands, seed=0),
        "delta": EEGEncoder(
            "delta", sfreq_hz=sfreq, bands=args.bands, threshold=args.delta_threshold
        ),
        "threshold": EEGEncoder(
            "threshold", sfreq_hz=sfreq, bands=args.bands, levels=5, level_range=2.0
        ),
    }
    for enc in methods.values():
        enc.fit(full)
    enc0 = methods["delta"]
    # signal as the code sees it (band-filtered and summed over bands when --bands is set)
    sig = enc0.reference(window)[0].sum(axis=1) * 1e6  # [C, N] in µV
    recon = enc0.decode(enc0.transform(window))[0].sum(axis=1) * 1e6
    scale = np.median(np.abs(sig - np.median(sig, axis=1, keepdims=True))) * 12

    heights = [2.2] + [1.0 + 0.25 * enc.lines_per_source for enc in methods.values()]
    fig, axes = plt.subplots(
        len(heights),
        1,
        figsize=(11, 2.2 * sum(heights) / 1.6),
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    ax = axes[0]
    for c in range(len(args.channels)):
        base = -c * scale
        ax.plot(t, sig[c] - sig[c].mean() + base, lw=0.8, color=f"C{c}")
        ax.plot(t, recon[c] - sig[c].mean() + base, lw=0.8, ls="--", color="0.3")
    ax.set_yticks(
        [-c * scale for c in range(len(args.channels))], [c.strip(".") for c in args.channels]
    )
    band_note = "" if args.bands is None else f", bands {enc0.band_names} summed"
    ax.set_title(
        f"{args.edf.name}: {args.duration_s:g} s from {args.start_s:g} s (µV, offset per "
        f"channel{band_note}); dashed: delta-code reconstruction, θ = {args.delta_threshold:g} σ",
        fontsize=9,
    )

    for ax, (name, enc) in zip(axes[1:], methods.items(), strict=True):
        spikes = np.asarray(enc.transform(window))[:, 0, :]  # [T, L]
        layout = enc.layout
        report = enc.report(window, spikes[:, None, :])
        for kind in enc.kinds:
            lines = [r["line"] for r in layout if r["kind"] == kind]
            steps, which = np.nonzero(spikes[:, lines] > 0)
            ax.scatter(
                t[steps],
                np.asarray(lines)[which],
                s=2,
                marker="|",
                lw=0.8,
                color=COLORS[kind],
                label=kind,
            )
        per = enc.n_bands * enc.lines_per_source
        ax.set_yticks(
            [c * per + (per - 1) / 2 for c in range(len(args.channels))],
            [c.strip(".") for c in args.channels],
        )
        ax.set_ylim(len(layout) - 0.5, -0.5)
        for c in range(1, len(args.channels)):
            ax.axhline(c * per - 0.5, color="0.85", lw=0.5)
        extra = f", SNR {report['snr_db']:.1f} dB" if "snr_db" in report else ""
        ax.set_title(
            f"{name}: {len(layout)} lines, {int(report['total_spikes'])} spikes, "
            f"sparsity {report['sparsity']:.3f}{extra}",
            fontsize=9,
        )
        if len(enc.kinds) > 1:
            ax.legend(loc="upper right", fontsize=7, markerscale=4, ncol=2)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.stem}.tmp.png")
    fig.savefig(tmp, dpi=130)
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
