"""``eegsnn encode``: recordings + a config -> a packed spike dataset (``.spikes`` folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def encode(
    data: Annotated[list[Path] | None, typer.Argument(
        help="One folder, one data manifest (.yaml) or one or more recording files, each "
             "given once (default: the config's or the run's data.source).",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Spike dataset folder to write (e.g. bonn.spikes); checked "
                            "before anything is read.")] = Path(
        "spikes.spikes"),
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Study config giving the dataset and encoder sections "
                               "(not with --encoder-from).")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config value: key.sub=value (repeatable); key.sub+=value "
                      "adds to a list.")] = None,
    encoder_from: Annotated[Path | None, typer.Option(
        "--encoder-from", help="Use the preprocessing and fitted encoder of a training run "
                               "(leak-free encoding of held-out recordings); refused with "
                               "--config or --set.")] = None,
    root: Annotated[Path | None, typer.Option("--root", help="Dataset root.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing spike dataset at --out (never another "
                            "file or folder, an input or the current folder).")] = False,
    cache: Annotated[bool | None, typer.Option(
        "--cache/--no-cache", help="Window cache: reuse and keep the preprocessed windows "
                                   "in ~/.cache/eegsnn/windows ($EEGSNN_CACHE_DIR, or the "
                                   "config's cache_dir). Default: on with --config, off "
                                   "with --encoder-from (no windows of new recordings are "
                                   "left on disk). EEGSNN_CACHE=off turns it off always.",
        show_default=False)] = None,
) -> None:
    """Encode recordings into a packed spike dataset (labels and metadata included).

    Examples:

      eegsnn encode --config configs/bonn_example.yaml --out bonn.spikes

      eegsnn encode new_recordings/ --encoder-from runs/bonn_example \\
          --out new.spikes

    With --encoder-from the recordings are labelled as the run's were (Bonn: one folder
    per class, new_recordings/S/S001.txt ...).

    DATA is one folder, one data manifest (.yaml) or one or more recording files (a
    folder or manifest cannot be mixed with other inputs; a file given twice is refused;
    recordings with the same content under two names are encoded with a warning). With
    --config the encoder is fitted on every window encoded; with --encoder-from the run's
    fitted encoder and preprocessing are applied unchanged (--config and --set are refused
    with it). Event counts above 255 per step are stored as uint16. Window cache: with
    --config the preprocessed windows are cached in ~/.cache/eegsnn/windows
    ($EEGSNN_CACHE_DIR moves it; --no-cache or EEGSNN_CACHE=off keeps none); with
    --encoder-from nothing is cached unless --cache is given. Read the result with
    eegsnn.encode.load_spikes. Exit codes: 0 done, 2 bad config, 3 bad data.
    """
    from eegsnn.pipeline.encode import encode_dataset

    source = None
    if data:
        source = [str(p) for p in data] if len(data) > 1 else str(data[0])
    ds = encode_dataset(config, out, source=source, root=root, overrides=list(set_ or []),
                        encoder_from=encoder_from, overwrite=overwrite,
                        use_cache=cache)
    typer.echo(f"wrote {out}: {ds.num_windows} windows, {ds.num_steps} steps, "
               f"{ds.num_lines} lines ({ds.packing}, {ds.nbytes_packed / 1e6:.2f} MB, "
               f"{ds.compression_ratio:.1f}x smaller than float32)")


def register(app: typer.Typer) -> None:
    app.command("encode")(encode)
