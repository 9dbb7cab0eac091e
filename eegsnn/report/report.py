"""Run reports: one self-contained HTML file (figures embedded) or Markdown (+ PNGs).

:func:`write_report` reads a run directory written by
:func:`eegsnn.pipeline.run_pipeline` and renders: the study and its config, data
provenance (manifest, checksums, channels, classes), class balance, SNN metrics with 95 %
confidence intervals (over folds, and Wilson intervals over windows), the non-spiking
baseline beside the SNN, the confusion matrix, the ROC curve, a spike raster of one test
window, firing rates per layer, training curves, and the environment.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.env import slow_path_note_from_record
from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_write_text
from eegsnn.visualization import (
    confusion_matrix_plot,
    layer_rasters,
    layer_rates_bar,
    roc_curves_plot,
    write_figure,
)

__all__ = ["build_report", "write_report"]

_ROWS = (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"),
         ("cohen_kappa", "Cohen's kappa"), ("f1_macro", "macro-F1"),
         ("roc_auc_ovr_macro", "ROC-AUC (one vs rest, macro)"))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def _fmt(x: Any, pct: bool = True) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{100 * float(x):.1f} %" if pct else f"{float(x):.3f}"


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None or (isinstance(ci[0], float) and np.isnan(ci[0])):
        return ""
    return f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


class _Doc:
    """Tiny builder emitting the same content as HTML or Markdown."""

    def __init__(self, fmt: str, asset_dir: Path) -> None:
        self.fmt = fmt
        self.asset_dir = asset_dir
        self.parts: list[str] = []

    def h(self, level: int, text: str) -> None:
        if self.fmt == "html":
            self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        else:
            self.parts.append(f"{'#' * level} {text}\n")

    def p(self, text: str) -> None:
        if self.fmt == "html":
            self.parts.append(f"<p>{html.escape(text)}</p>")
        else:
            self.parts.append(f"{text}\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        if self.fmt == "html":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                           + "</tr>" for r in rows)
            self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                              "</table>")
        else:
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |"
                      for r in rows]
            self.parts.append("\n".join(lines) + "\n")

    def code(self, text: str) -> None:
        if self.fmt == "html":
            self.parts.append(f"<pre>{html.escape(text)}</pre>")
        else:
            self.parts.append(f"```yaml\n{text.rstrip()}\n```\n")

    def image(self, path: Path | None, alt: str) -> None:
        if path is None or not Path(path).is_file():
            self.p(f"({alt}: figure not available; install matplotlib: pip install "
                   "'eegsnn[plot]')")
            return
        if self.fmt == "html":
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            self.parts.append(f'<figure><img alt="{html.escape(alt)}" '
                              f'src="data:image/png;base64,{data}"/>'
                              f"<figcaption>{html.escape(alt)}</figcaption></figure>")
        else:
            rel = os.path.relpath(path, self.asset_dir)
            self.parts.append(f"![{alt}]({Path(rel).as_posix()})\n")

    def render(self, title: str) -> str:
        if self.fmt == "html":
            style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;"
                     "padding:0 1em;color:#222}table{border-collapse:collapse;margin:.6em 0}"
                     "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
                     "font-size:14px}th{background:#f3f3f3}pre{background:#f7f7f7;"
                     "padding:8px;overflow-x:auto;font-size:12px}img{max-width:100%}"
                     "figure{margin:.5em 0}figcaption{font-size:12px;color:#555}")
            return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                    f"{html.escape(title)}</title><style>{style}</style></head><body>\n"
                    + "\n".join(self.parts) + "\n</body></html>\n")
        return "\n".join(self.parts)


def _confusion(cm: Any, classes: list[str], title: str) -> Any:
    """Counts with row-normalised colour (recall per true class)."""
    return confusion_matrix_plot(np.asarray(cm), class_names=classes, normalize=True,
                                 title=title)


def _metric_rows(block: Mapping[str, Any] | None) -> dict[str, str]:
    """label -> formatted value (+CI) of a pooled report."""
    if not block:
        return {}
    out = {}
    for key, label in _ROWS:
        if key in block:
            extra = _ci(block.get("accuracy_ci")) if key == "accuracy" else ""
            out[label] = _fmt(block[key], pct=key != "cohen_kappa") + extra
    pos = block.get("positive")
    if pos:
        c = pos["class"]
        out[f"sensitivity ({c})"] = _fmt(pos["sensitivity"]) + _ci(pos["ci"]["sensitivity"])
        out[f"specificity ({c} vs rest)"] = _fmt(pos["specificity"]) + _ci(
            pos["ci"]["specificity"])
        out[f"ROC-AUC ({c} vs rest)"] = _fmt(pos["roc_auc"], pct=False)
    ev = block.get("events")
    if ev:
        out["seizure events detected"] = f"{ev['detected']} / {ev['events']}"
        out["event sensitivity"] = _fmt(ev["event_sensitivity"])
        out["false alarms per hour"] = _fmt(ev["false_alarms_per_hour"], pct=False)
    return out


def _summary_rows(summary: Mapping[str, Any] | None) -> dict[str, str]:
    if not summary:
        return {}
    out = {}
    for key, s in summary.items():
        if s.get("mean") is None:
            continue
        text = f"{100 * s['mean']:.1f} %" if key != "cohen_kappa" else f"{s['mean']:.3f}"
        if s.get("ci95"):
            lo, hi = s["ci95"]
            floor = -1.0 if key == "cohen_kappa" else 0.0  # kappa lies in [-1, 1]
            lo, hi = max(floor, lo), min(1.0, hi)
            text += (f" [{100 * lo:.1f}, {100 * hi:.1f}]" if key != "cohen_kappa"
                     else f" [{lo:.3f}, {hi:.3f}]")
        out[key.replace("_", " ")] = text
    return out


def build_report(run_dir: str | os.PathLike, fmt: str = "html") -> str:
    """The report of ``run_dir`` as a string (``fmt``: ``"html"`` or ``"md"``).

    Figures are written to ``run_dir/plots/`` (and embedded for HTML).

    Raises:
        DataError: ``run_dir`` lacks ``metrics.json``/``config.yaml``/``data.json``.
    """
    import yaml

    if fmt not in ("html", "md"):
        raise ConfigError(f"report format must be 'html' or 'md', got {fmt!r}")
    run = Path(run_dir)
    for name in ("metrics.json", "config.yaml", "data.json"):
        if not (run / name).is_file():
            raise DataError(f"{run}: not an eegsnn run folder ({name} is missing)")
    metrics = _read_json(run / "metrics.json")
    data = _read_json(run / "data.json")
    cfg_text = (run / "config.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(cfg_text)
    env = _read_json(run / "environment.json") if (run / "environment.json").is_file() else {}
    pdir = run / "plots"
    doc = _Doc(fmt, run)
    classes = metrics.get("class_names", data.get("class_names", []))
    snn = metrics.get("snn", {})
    base = metrics.get("baseline")
    pooled = snn.get("pooled", {})

    title = f"eegsnn report: {cfg.get('name', run.name)}"
    doc.h(1, title)
    doc.p(f"{cfg.get('description', '')}  Pipeline '{cfg.get('pipeline')}', generated "
          f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
          f"from {run.name}/.")
    if cfg.get("notes"):
        doc.p(str(cfg["notes"]))

    model_label = "LSM (eegsnn)" if metrics.get("model_type") == "lsm" else "SNN (eegsnn)"
    if metrics.get("warnings"):
        doc.h(2, "Warnings")
        for warning in metrics["warnings"]:
            doc.p(f"WARNING: {warning}")

    doc.h(2, "Results on held-out data")
    split = metrics.get("split", {})
    doc.p(f"Split: {split.get('method')} by {split.get('by')} ({metrics.get('n_folds')} "
          f"fold(s)); windows of one {split.get('by')} are never on both sides. "
          "Values are pooled over every held-out window (each scored by its fold's model); "
          "brackets are 95 % Wilson intervals.")
    s_rows, b_rows = _metric_rows(pooled), _metric_rows(base["pooled"] if base else None)
    header = ["metric", model_label] + ([f"baseline: {base['type']}"] if base else [])
    doc.table(header, [[k, v] + ([b_rows.get(k, "")] if base else [])
                       for k, v in s_rows.items()])
    rec = pooled.get("recording_level")
    if rec and "accuracy" in rec:
        doc.h(3, f"Whole recordings ({rec.get('n_recordings')} recordings, mean probability "
                 "of their windows)")
        rb = base["pooled"].get("recording_level") if base else None
        r_s, r_b = _metric_rows(rec), _metric_rows(rb if rb and "accuracy" in rb else None)
        doc.table(header, [[k, v] + ([r_b.get(k, "")] if base else [])
                           for k, v in r_s.items()])
    if metrics.get("n_folds", 0) > 1:
        doc.h(3, "Across folds (mean [95 % t-interval])")
        fs, fb = _summary_rows(snn.get("summary")), _summary_rows(
            base.get("summary") if base else None)
        doc.table(header, [[k, v] + ([fb.get(k, "")] if base else []) for k, v in fs.items()])
        rows = []
        for i, f in enumerate(snn.get("folds", [])):
            bf = base["folds"][i] if base else None
            rows.append([str(i + 1), _fmt(f["accuracy"]), _fmt(f["balanced_accuracy"])]
                        + ([_fmt(bf["accuracy"]), _fmt(bf["balanced_accuracy"])] if bf else []))
        doc.table(["fold", "SNN accuracy", "SNN balanced acc."]
                  + (["baseline accuracy", "baseline balanced acc."] if base else []), rows)

    doc.h(2, "Class balance")
    folds = snn.get("folds", [])
    rows = []
    for c in classes:
        row = [c, str(metrics.get("class_counts", {}).get(c, ""))]
        if folds:
            row += [str(sum(f["train_class_counts"].get(c, 0) for f in folds)),
                    str(sum(f["train_class_counts_balanced"].get(c, 0) for f in folds)),
                    str(sum(f["test_class_counts"].get(c, 0) for f in folds))]
        rows.append(row)
    doc.table(["class", "windows", "train (sum over folds)",
               f"train after balancing ({metrics.get('balance')})", "test"], rows)
    doc.p("Imbalance is handled by oversampling minority classes in the training windows "
          "only (balance: oversample); balanced accuracy and per-class recall are reported "
          "beside accuracy.")
    if pooled.get("per_class"):
        pc = pooled["per_class"]
        doc.table(["class", "precision", "recall", "F1", "support"],
                  [[c, _fmt(pc["precision"][i]), _fmt(pc["recall"][i]), _fmt(pc["f1"][i]),
                    str(pc["support"][i])] for i, c in enumerate(classes)])

    if pooled.get("confusion_matrix"):
        doc.h(2, "Confusion matrix")
        doc.image(write_figure(pdir / "confusion.png", _confusion, pooled["confusion_matrix"],
                               classes, "SNN (held-out windows)"), "SNN confusion matrix")
        if base:
            doc.image(write_figure(pdir / "confusion_baseline.png", _confusion,
                                   base["pooled"]["confusion_matrix"], classes,
                                   f"baseline {base['type']}"), "baseline confusion matrix")
    curves = {}
    for name, block in (("SNN", pooled), (f"baseline {base['type']}" if base else "", base and
                                          base["pooled"])):
        if not block:
            continue
        pos = block.get("positive")
        if pos and pos.get("roc"):
            curves[name] = {**pos["roc"], "auc": pos["roc_auc"]}
        elif block.get("roc"):
            curves[name] = {**block["roc"], "auc": block.get("roc_auc")}
    if curves:
        doc.h(2, "ROC curve")
        pc_name = (pooled.get("positive") or pooled.get("roc") or {}).get("class", "")
        doc.image(write_figure(pdir / "roc.png", roc_curves_plot, curves,
                               title=f"{pc_name} vs rest"),
                  f"ROC curve, {pc_name} vs rest")

    doc.h(2, "Spikes")
    raster_path = run / "raster.npz"
    if raster_path.is_file():
        with np.load(raster_path) as z:
            arrays = {k: z[k] for k in z.files}
        label = str(arrays.get("class", ""))
        rec_name = str(arrays.get("recording", ""))
        doc.image(write_figure(pdir / "raster.png", layer_rasters, arrays,
                               title=f"one test window ({rec_name}, class {label})"),
                  "spike raster: encoder output and every neuron layer")
    rates = snn.get("firing_rates", {})
    if rates:
        doc.table(["layer", "mean firing rate (spikes / neuron / step)"],
                  [[k, f"{v:.4f}"] for k, v in rates.items()])
        doc.image(write_figure(pdir / "firing_rates.png", layer_rates_bar, rates),
                  "firing rate per layer")
    curves_png = run / "folds" / "fold-1" / "train" / "curves.png"
    if curves_png.is_file():
        doc.h(2, "Training curves (fold 1)")
        doc.image(curves_png, "loss and accuracy per epoch")

    doc.h(2, "Data provenance")
    rows = [["source", str(data.get("source"))]]
    if data.get("manifest"):
        m = data["manifest"]
        rows += [["manifest", f"{m.get('name')} ({m.get('path')})"],
                 ["manifest sha256", m.get("sha256", "")], ["license", m.get("license", "")]]
        rows += [["citation", c] for c in m.get("citation", [])]
    rows += [["recordings", str(data.get("n_recordings"))],
             ["windows", str(data.get("n_windows"))],
             ["channels", f"{len(data.get('ch_names', []))}: "
                          f"{', '.join(data.get('ch_names', [])[:16])}"
                          f"{' ...' if len(data.get('ch_names', [])) > 16 else ''}"],
             ["sampling rate", f"{data.get('sfreq_hz')} Hz"],
             ["window", f"{data.get('window_s')} s ({data.get('n_samples')} samples)"]]
    doc.table(["", ""], rows)
    files = data.get("files", [])
    if files:
        shown = files[:12]
        doc.table(["file", "sha256"], [[f["path"], f["sha256"]] for f in shown]
                  + ([[f"... and {len(files) - len(shown)} more (data.json)", ""]]
                     if len(files) > len(shown) else []))

    doc.h(2, "Configuration")
    doc.code(cfg_text)
    if env:
        doc.h(2, "Environment")
        pk = env.get("packages", {})
        doc.p(", ".join(f"{k} {v}" for k, v in pk.items() if v)
              + f"; Python {env.get('python')}, {env.get('platform')}, MLX device "
                f"{env.get('mlx_device')}")
        extras = env.get("extras") or {}
        blas = (env.get("blas") or {}).get("effective")
        if blas or extras:
            doc.p((f"BLAS: {blas}. " if blas else "") + (
                "Optional extras: " + ", ".join(f"{k} {v}" for k, v in extras.items()) + "."
                if extras else ""))

        note = slow_path_note_from_record(env)
        if note:
            doc.p(note)
    timing = metrics.get("timing", {})
    if timing:
        doc.p(f"Total run time {timing.get('total_s', 0):.1f} s.")
    return doc.render(title)


def write_report(run_dir: str | os.PathLike, fmt: str = "html",
                 out: str | os.PathLike | None = None) -> list[Path]:
    """Write ``report.html`` and/or ``report.md`` into ``run_dir`` (or ``out``).

    Args:
        fmt: ``"html"``, ``"md"`` or ``"both"``.
        out: output file (single format only); default ``run_dir/report.<ext>``.
    """
    formats = ["html", "md"] if fmt == "both" else [fmt]
    if out is not None and len(formats) > 1:
        raise ConfigError("--out names one file: pick --format html or md")
    written = []
    for f in formats:
        text = build_report(run_dir, f)
        path = Path(out) if out is not None else Path(run_dir) / f"report.{f}"
        atomic_write_text(path, text)
        written.append(path)
    return written
