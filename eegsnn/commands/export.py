"""``eegsnn export RUN OUT.nir``: a trained run's model as a NIR file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eegsnn.errors import ConfigError


def export(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder (eegsnn train --out).")],
    out: Annotated[Path, typer.Argument(help="The NIR file to write (HDF5, e.g. model.nir).")],
    dt_s: Annotated[float, typer.Option(
        "--dt-s", help="Time step (s) the NIR time constants refer to. 1e-4 is the step "
                       "snnTorch 1.0 assumes when it reads NIR; give the same to Norse's "
                       "from_nir(dt=...).")] = 1e-4,
    form: Annotated[str, typer.Option(
        "--form", help="portable: exact forms snnTorch and Norse import (subtract reset "
                       "and readout integrator as loops); native: one NIR neuron node per "
                       "layer (LI readout; refuses the subtract reset of the shipped "
                       "configs: for models whose neurons reset to zero).")] = "portable",
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing OUT file.")] = False,
) -> None:
    """Write a trained run's model/ to a NIR file, with its dt and readout recorded.

    The graph's metadata["eegsnn"] (a JSON string: json.loads it) records dt_s, the
    discretisation, the readout
    (mean/final/max/count of the output trace), the input shape, the class names and the
    seconds of signal per step. docs/nir.md lists what each NIR node means and what has no
    NIR form (temporal convolutions and pooling of spiking_eegnet / spiking_shallow):
    those are refused with the layer named. An LSM run exports its reservoir (the graph's
    output is the reservoir's spikes); the readout on binned spike counts is no NIR node and
    travels in its lsm_readout entry (features, coef, intercept).

    Examples:

      eegsnn export runs/bonn_3class bonn_3class.nir

      eegsnn export runs/mi mi.nir --dt-s 1e-3

    An existing OUT is kept unless --overwrite; its folder must exist. Exit codes: 0
    written, 2 a model NIR cannot carry, a bad option or OUT exists, 3 not a finished run
    (or its files changed).
    """
    from eegsnn.interop.nir import export_nir, export_reservoir, save_nir
    from eegsnn.interop.nir.export import UnsupportedNIRError
    from eegsnn.pipeline.apply import load_run_model

    if out.suffix.lower() != ".nir":
        raise ConfigError(f"{out}: the output file must end in .nir")
    if out.exists() and not (overwrite and out.is_file()):
        raise ConfigError(f"{out}: already exists; choose another name or pass --overwrite"
                          if out.is_file() else f"{out}: is a folder, not a file name")
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: folder {out.parent} does not exist; create it first or "
                          "write elsewhere")
    cfg, record, encoder, model = load_run_model(run_dir)
    meta: dict[str, object] = {"run": Path(run_dir).resolve().name,
                               "class_names": list(record.get("class_names") or [])}
    n_samples, sfreq = record.get("n_samples"), record.get("sfreq_hz")
    if n_samples and sfreq:  # seconds of signal per encoder step
        steps = int(encoder.num_steps_for(int(n_samples)))
        meta.update(num_steps=steps, step_s=float(n_samples) / float(sfreq) / steps)
    net = getattr(model, "net", None)
    lsm = getattr(model, "lsm", None)
    if net is not None:
        try:
            graph = export_nir(net, dt_s=dt_s, form=form, metadata=meta)
        except UnsupportedNIRError as exc:  # its hint names Python arguments
            raise ConfigError(f"{run_dir}: NIR export --form {form}: {exc.problem}; export "
                              "with --form portable (the default: exact, imported by "
                              "snnTorch and Norse)") from None
        except ConfigError as exc:  # a layer NIR has no node for: name the run too
            raise ConfigError(f"{run_dir}: {exc}") from None
        readout = net.readout_mode
    elif lsm is not None and lsm.coef is not None:
        if form != "portable":
            raise ConfigError(f"{run_dir}: --form native: an LSM reservoir exports in the "
                              "portable form "
                              "only (its subtract reset and connections as a loop)")
        # the window-level readout is no NIR node: its features and weights travel as data
        meta["lsm_readout"] = {"features": lsm.spec["features"],
                               "coef": lsm.coef.tolist(), "intercept": lsm.intercept.tolist()}
        try:
            graph = export_reservoir(lsm.reservoir, dt_s=dt_s, metadata=meta)
        except ConfigError as exc:
            raise ConfigError(f"{run_dir}: {exc}") from None
        readout = f"LSM {lsm.spec['features']['kind']} features + linear map (metadata)"
    else:
        kind = cfg.get("model", {}).get("type", "snn")
        raise ConfigError(f"{run_dir}: a model.type {kind!r} run has no NIR export")
    path = save_nir(graph, out)
    typer.echo(f"wrote {path} ({len(graph.nodes)} NIR nodes, form {form}, dt {dt_s:g} s, "
               f"readout {readout})")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
