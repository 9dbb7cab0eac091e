"""Run reports: one self-contained HTML file (figures embedded) or Markdown (+ PNGs).

:func:`write_report` reads a run directory written by
:func:`eegsnn.pipeline.run_pipeline` and renders: the study and its config, data
provenance (manifest, checksums, channels, classes), class balance, SNN metrics with 95 %
confidence intervals (over recordings by cluster bootstrap in the headline, over folds;
window-level Wilson intervals only as named secondary rows), the non-spiking
baseline beside the SNN, the confusion matrix, the ROC curve, a spike raster of one test
window, firing rates per layer, training curves, and the environment.

One format everywhere: proportions (accuracy, sensitivity, specificity, precision,
recall, F1) as percentages, scores that are not proportions (ROC-AUC, Cohen's kappa) as
numbers with three decimals (:func:`format_metric`). Paths are shown relative to the run
folder or as file names (:func:`display_path`), never as absolute paths of the machine
that made the run; lists as comma-joined text (:func:`as_text`). The HTML report opens
with a table of contents linking every section (the Markdown report too).
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np

from eegsnn.env import slow_path_note_from_record
from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.energy import describe, describe_encoder
from eegsnn.evaluate.stats import interval_note
from eegsnn.io.files import atomic_write_text, dump_yaml
from eegsnn.visualization import (
    confusion_matrix_plot,
    layer_rasters,
    layer_rates_bar,
    roc_curves_plot,
    write_figure,
)
from eegsnn.visualization.layers import neuron_layers, run_model_config

__all__ = ["SCORE_METRICS", "as_text", "build_report", "display_path", "format_metric",
           "is_score", "neuron_layers", "scrub_paths", "write_report"]

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


#: Metrics that are scores, not proportions: shown as numbers (``0.999``), never as "%".
SCORE_METRICS = frozenset({"cohen_kappa", "kappa", "roc_auc", "roc_auc_ovr_macro",
                           "roc_auc_ovr", "auc", "pr_auc", "mcc"})


def is_score(key: str) -> bool:
    """Whether metric ``key`` is a score (AUC, kappa: a number) rather than a proportion
    (accuracy, sensitivity, ...: a percentage)."""
    k = str(key).lower()
    return k in SCORE_METRICS or "auc" in k or "kappa" in k


def _fmt(x: Any, pct: bool = True) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{100 * float(x):.1f} %" if pct else f"{float(x):.3f}"


def _ci(ci: Any, pct: bool = True) -> str:
    if not ci or ci[0] is None or (isinstance(ci[0], float) and np.isnan(ci[0])):
        return ""
    if not pct:
        return f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def format_metric(key: str, value: Any, ci: Any = None) -> str:
    """``value`` (and its interval ``ci``) in the report's one format for metric ``key``:
    ``"95.2 % [89.9, 97.8]"`` for proportions, ``"0.999 [0.990, 1.000]"`` for scores
    (:func:`is_score`); ``"n/a"`` for a missing value."""
    pct = not is_score(key)
    return _fmt(value, pct) + ("" if value is None else _ci(ci, pct))


def _is_abs_path(text: str) -> bool:
    return (text.startswith(("/", "~", "\\\\")) or bool(PureWindowsPath(text).drive)) \
        and "\n" not in text


def display_path(path: str | os.PathLike, run_dir: str | os.PathLike | None = None) -> str:
    """How a report shows ``path``: relative paths as they are, absolute ones relative to
    ``run_dir`` when inside it, else only the file name (no folder of the machine that
    made the run: user names, mount points)."""
    text = os.fspath(path)
    if not _is_abs_path(text):
        return Path(text).as_posix()
    if run_dir is not None and text.startswith("/"):
        root = os.path.normpath(os.path.abspath(run_dir))
        norm = os.path.normpath(text)
        if norm == root or norm.startswith(root + os.sep):
            return Path(os.path.relpath(norm, root)).as_posix()
    name = PureWindowsPath(text).name if "\\" in text else Path(text).name
    return name or text


def as_text(value: Any) -> str:
    """``value`` as report text: lists comma-joined, mappings as ``key: value; ...``,
    ``None`` as ``n/a`` (never a Python repr such as ``['a', 'b']``)."""
    if value is None:
        return "n/a"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {as_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


#: An absolute POSIX path inside free text (``/home/u/x.so``, ``~/data``): two or more
#: segments, not preceded by a word character (``a/b``, ``spikes / step`` do not match).
_ABS_PATH_IN_TEXT = re.compile(r"(?<![\w.~/])(?:~|/[\w.+-]+)(?:/[\w.+-]+)+/?")


def scrub_paths(text: str, run_dir: str | os.PathLike | None = None) -> str:
    """``text`` with every absolute path in it shown as :func:`display_path` shows it."""
    return _ABS_PATH_IN_TEXT.sub(lambda m: display_path(m.group(0).rstrip("/"), run_dir),
                                 text)


def _public(value: Any, run_dir: Path) -> Any:
    """A config (nested dicts/lists) with every absolute path replaced by
    :func:`display_path`."""
    if isinstance(value, Mapping):
        return {k: _public(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v, run_dir) for v in value]
    if isinstance(value, str) and _is_abs_path(value):
        return display_path(value, run_dir)
    return value


def _slug(text: str, used: set[str]) -> str:
    """A unique HTML id for a heading (``"ROC curve"`` -> ``"roc-curve"``)."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


class _Doc:
    """Tiny builder emitting the same content as HTML or Markdown."""

    _TOC = "\x00toc\x00"  # where render() puts the table of contents

    def __init__(self, fmt: str, asset_dir: Path, link_dir: Path | None = None) -> None:
        self.fmt = fmt
        self.asset_dir = asset_dir  # the run folder: paths in the text are shown from it
        self.link_dir = asset_dir if link_dir is None else link_dir  # Markdown links' base
        self.parts: list[str] = []
        #: ``(level, text, anchor)`` of every section heading (levels 2 and 3), in order
        self.sections: list[tuple[int, str, str]] = []
        self._ids: set[str] = {"contents"}

    def h(self, level: int, text: str) -> None:
        """A heading; levels 2 and 3 get an anchor and an entry in the contents."""
        anchor = _slug(text, self._ids) if level in (2, 3) else ""
        if anchor:
            self.sections.append((level, text, anchor))
        if self.fmt == "html":
            ident = f' id="{anchor}"' if anchor else ""
            self.parts.append(f"<h{level}{ident}>{html.escape(text)}</h{level}>")
        else:
            self.parts.append((f'<a id="{anchor}"></a>\n\n' if anchor else "")
                              + f"{'#' * level} {text}\n")

    def toc(self) -> None:
        """Mark where the table of contents goes (filled in by :meth:`render`)."""
        self.parts.append(self._TOC)

    def _contents(self) -> str:
        if not self.sections:
            return ""
        if self.fmt == "html":
            items, open_sub = [], False
            for level, text, anchor in self.sections:
                link = f'<a href="#{anchor}">{html.escape(text)}</a>'
                if level == 3:
                    items.append(("" if open_sub else "<ul>") + f"<li>{link}</li>")
                    open_sub = True
                    continue
                items.append(("</ul></li>" if open_sub else ("</li>" if items else ""))
                             + f"<li>{link}")
                open_sub = False
            items.append("</ul></li>" if open_sub else "</li>")
            return ('<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>'
                    + "".join(items) + "</ol></nav>")
        lines = ["**Contents**\n"]
        n = 0
        for level, text, anchor in self.sections:
            if level == 2:
                n += 1
                lines.append(f"{n}. [{text}](#{anchor})")
            else:
                lines.append(f"   - [{text}](#{anchor})")
        return "\n".join(lines) + "\n"

    def p(self, text: str) -> None:
        text = scrub_paths(text, self.asset_dir)  # no absolute path of this machine
        if self.fmt == "html":
            self.parts.append(f"<p>{html.escape(text)}</p>")
        else:
            self.parts.append(f"{text}\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        rows = [[scrub_paths(str(c), self.asset_dir) for c in r] for r in rows]
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
            rel = Path(os.path.relpath(os.path.abspath(path),
                                       os.path.abspath(self.link_dir))).as_posix()
            self.parts.append(f"![{alt}](<{rel}>)\n" if " " in rel else f"![{alt}]({rel})\n")

    def render(self, title: str) -> str:
        if self.fmt == "html":
            style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;"
                     "padding:0 1em;color:#222}table{border-collapse:collapse;margin:.6em 0}"
                     "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
                     "font-size:14px}th{background:#f3f3f3}pre{background:#f7f7f7;"
                     "padding:8px;overflow-x:auto;font-size:12px}img{max-width:100%}"
                     "figure{margin:.5em 0}figcaption{font-size:12px;color:#555}"
                     "h2{border-bottom:1px solid #ddd;padding-bottom:.15em;margin-top:1.6em}"
                     "nav#contents{background:#f7f7f7;border:1px solid #ddd;padding:.2em 1em;"
                     "margin:1em 0;font-size:14px}nav#contents h2{border:0;margin:.4em 0;"
                     "font-size:16px}nav#contents ol{margin:.3em 0 .6em}")
            body = "\n".join(self._contents() if part == self._TOC else part
                             for part in self.parts)
            return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>"
                    f"{html.escape(title)}</title><style>{style}</style></head><body>\n"
                    + body + "\n</body></html>\n")
        return "\n".join(self._contents() if part == self._TOC else part
                         for part in self.parts)


def _confusion(cm: Any, classes: list[str], title: str) -> Any:
    """Counts with row-normalised colour (recall per true class)."""
    return confusion_matrix_plot(np.asarray(cm), class_names=classes, normalize=True,
                                 title=title)


def _boot_ci(rec: Mapping[str, Any] | None, key: str) -> str:
    """The interval of one metric of a recording-level ``bootstrap`` record, formatted;
    ``" (interval not estimable: every resample gives 1.000)"`` for a score whose
    resamples all agree; ``" [n/a]"`` with no interval (the notes say why)."""
    rec = rec or {}
    if rec.get("ci95"):
        return _ci(rec["ci95"], not is_score(key))
    method = str(rec.get("method") or "")
    return f" ({method})" if method.startswith("interval not estimable") else " [n/a]"


def _metric_rows(block: Mapping[str, Any] | None) -> dict[str, str]:
    """label -> formatted value (+CI) of a pooled report. With a recording-level
    ``bootstrap`` record the brackets are its intervals (the headline), and the
    window-level Wilson intervals follow in rows named as such (secondary: windows taken
    as independent); without one, the brackets are the Wilson intervals."""
    if not block:
        return {}
    boot = (block.get("bootstrap") or {}).get("metrics")
    out = {}
    for key, label in _ROWS:
        if key in block:
            if boot and key in boot:
                extra = _boot_ci(boot[key], key)
            else:
                extra = _ci(block.get("accuracy_ci")) if key == "accuracy" else ""
            out[label] = _fmt(block[key], pct=not is_score(key)) + extra
    pos = block.get("positive")
    if pos:
        c = pos["class"]
        labels = {"sensitivity": f"sensitivity ({c})",
                  "specificity": f"specificity ({c} vs rest)",
                  "roc_auc": f"ROC-AUC ({c} vs rest)"}
        for key, label in labels.items():
            if boot and key in boot:
                extra = _boot_ci(boot[key], key)
            else:
                extra = _ci((pos.get("ci") or {}).get(key))
            out[label] = _fmt(pos[key], pct=not is_score(key)) + extra
    if boot:  # the window-level Wilson intervals, named: secondary
        wilson = "window-level Wilson interval (windows as independent)"
        if block.get("accuracy_ci"):
            out[f"accuracy, {wilson}"] = _fmt(block["accuracy"]) + _ci(block["accuracy_ci"])
        for key in ("sensitivity", "specificity"):
            if pos and (pos.get("ci") or {}).get(key):
                out[f"{labels[key]}, {wilson}"] = _fmt(pos[key]) + _ci(pos["ci"][key])
    ev = block.get("events")
    if ev:
        out["seizure events detected"] = f"{ev['detected']} / {ev['events']}"
        out["event sensitivity"] = _fmt(ev["event_sensitivity"])
        out["false alarms per hour"] = (
            "n/a" if ev["false_alarms_per_hour"] is None
            else f"{float(ev['false_alarms_per_hour']):.2f} / h")
    return out


def _summary_rows(summary: Mapping[str, Any] | None) -> dict[str, str]:
    if not summary:
        return {}
    out = {}
    labels = dict(_ROWS, roc_auc="ROC-AUC")
    for key, s in summary.items():
        if s.get("mean") is None:
            continue
        ci = None
        if s.get("ci95"):
            lo, hi = s["ci95"]
            floor = -1.0 if "kappa" in key else 0.0  # kappa lies in [-1, 1]
            ci = (max(floor, lo), min(1.0, hi))
        out[labels.get(key, key.replace("_", " "))] = format_metric(key, s["mean"], ci)
    return out


def _raster_sizes(run: Path) -> dict[str, int]:
    """``raster key -> neurons`` of the run's ``raster.npz`` (empty without one)."""
    path = run / "raster.npz"
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: int(z[k].shape[1]) for k in z.files
                    if k.startswith("layer") and z[k].ndim == 2}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def _spikes_section(doc: _Doc, run: Path, metrics: Mapping[str, Any],
                    data: Mapping[str, Any], cfg: Mapping[str, Any], pdir: Path) -> None:
    """Spike raster of one held-out window and mean firing rates, one name per layer."""
    arrays: dict[str, np.ndarray] = {}
    raster_path = run / "raster.npz"
    if raster_path.is_file():
        try:
            with np.load(raster_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{raster_path}: cannot read ({exc})") from exc
    rates = dict((metrics.get("snn") or {}).get("firing_rates") or {})
    if not arrays and not rates:
        return
    sizes = {k: int(v.shape[1]) for k, v in arrays.items()
             if k.startswith("layer") and v.ndim == 2}
    model_cfg = run_model_config(run)
    readout = (model_cfg or {}).get("readout", "n/a")
    layers = neuron_layers(model_cfg, metrics.get("model_type"), sizes)
    window_s = data.get("window_s")
    window_s = float(window_s) if isinstance(window_s, (int, float)) and window_s > 0 else None
    doc.h(2, "Spiking activity")
    quiet = [la for la in layers if not la["spiking"]]
    if "input" in arrays:
        x = arrays["input"]
        labels = {"input": f"encoder output ({(cfg.get('encoder') or {}).get('method', '')}"
                           f", {x.shape[1]} lines)".replace("(, ", "(")}
        labels.update({la["raster_key"]: la["name"] for la in layers})
        step = (f"{x.shape[0]} steps of {1000 * window_s / x.shape[0]:.3g} ms over the "
                f"{window_s:g} s window" if window_s else f"{x.shape[0]} time steps")
        rec_name = display_path(str(arrays.get("recording", "")), run)
        doc.p(f"One held-out window (recording {rec_name}, true class "
              f"{arrays.get('class', 'n/a')}): the encoder's output and the spikes of "
              f"every neuron layer, {step}.")
        doc.image(write_figure(pdir / "raster.png", layer_rasters, arrays,
                               window_s=window_s, labels=labels,
                               membrane_output=quiet[0]["raster_key"] if quiet and
                               "membrane" in arrays else None,
                               class_names=metrics.get("class_names"),
                               title=f"one held-out window ({rec_name}, class "
                                     f"{arrays.get('class', 'n/a')})"),
                  "spike raster: encoder output and every neuron layer")
    shown = {la["rate_key"]: la for la in layers}
    rows: list[list[str]] = []
    per_step: dict[str, float] = {}
    per_s: dict[str, float] = {}
    for key, rate in rates.items():
        layer = shown.get(key)
        if layer is not None and not layer["spiking"]:
            continue  # an integrator's threshold crossings are no part of the model
        name = layer["name"] if layer else key
        steps = arrays[layer["raster_key"]].shape[0] if layer and \
            layer["raster_key"] in arrays else None
        per_step[name] = float(rate)
        if window_s and steps:
            per_s[name] = float(rate) * steps / window_s
        rows.append([name, f"{float(rate):.4f}",
                     f"{per_s[name]:.2f}" if name in per_s else "n/a"])
    if rows:
        doc.p("Mean firing rates over every held-out window: spikes per neuron per time "
              "step, and per second (Hz).")
        doc.table(["layer", "spikes per neuron per step", "Hz"], rows)
        in_hz = len(per_s) == len(per_step)
        if len(rows) > 1:  # one bar says nothing the table does not
            doc.image(write_figure(pdir / "firing_rates.png", layer_rates_bar,
                                   per_s if in_hz else per_step,
                                   unit="Hz" if in_hz else "spikes / neuron / step",
                                   title="Mean firing rate per layer (held-out windows)"),
                      "mean firing rate per layer (held-out windows)")
    for layer in quiet:
        doc.p(f"The {layer['name']} does not spike: the class scores are read from its "
              f"membrane potential (readout: {readout}), so no firing rate is given for it.")


def _synapse_name(index: int, layers: list[dict[str, Any]]) -> str:
    """A synaptic layer (``index`` in the model config's layer list) by the neuron layer
    it feeds (:func:`neuron_layers` names; recurrent weights feed their own layer)."""
    for la in layers:
        i = la["rate_key"].split(".")
        if len(i) == 3 and i[1].isdigit() and int(i[1]) >= index:
            return f"into {la['name']}"
    return f"layer {index}"


def _energy_section(doc: _Doc, ops: Mapping[str, Any] | None,
                    layers: list[dict[str, Any]], n_heldout: int | None = None) -> None:
    """Synaptic operations and energy per prediction (``metrics.json`` ``snn.synops``);
    ``layers``: the model's :func:`neuron_layers`, which name the synapses' rows;
    ``n_heldout``: the held-out windows of the run (the count may use a subset)."""
    if not ops:
        return
    doc.h(2, "Synaptic operations and energy")
    updates = ops.get("neuron_updates")
    n = int(ops["n_predictions"])
    counted = (f"counted on {n} of the {int(n_heldout)} held-out windows"
               if n_heldout and int(n_heldout) > n else f"counted on {n} held-out windows")
    doc.p(f"Per prediction (one window; {counted}): "
          + describe(dict(ops), micro="µ") + ". ACs: accumulates triggered by non-zero "
          "spikes, MACs: multiply-accumulates of non-zero analog inputs (NeuroBench's "
          "effective operations; spike counts above one per step are analog); the ANN is "
          "the same network with every connection used at every step. Not counted: memory "
          "access and neuron state updates"
          + (f" ({updates:.4g} per prediction)" if updates else "") + ".")
    doc.table(["synapses", "type", "input", "ACs", "MACs", "ANN MACs", "input zeros"],
              [[r.get("name") or _synapse_name(int(r["layer"]), layers), r["type"],
                r["input"] + (" (counts)" if r.get("input_values") == "counts" else ""),
                f"{r['ac']:.4g}", f"{r['mac']:.4g}", f"{r['dense_mac']:.4g}",
                f"{r['input_sparsity']:.3f}"]
               for r in ops.get("per_layer", [])])
    front = describe_encoder(dict(ops), micro="µ")
    if front:
        doc.p("Encoder front-end (before the network): " + front + ".")
        doc.table(["stage", "MACs", "ACs", "size"],
                  [[st["stage"], f"{st['mac']:.4g}", f"{st['ac']:.4g}", st["detail"]]
                   for st in ops["encoder"]["stages"]])


def _split_text(split: Mapping[str, Any]) -> str:
    method, by = split.get("method"), split.get("by", "recording")
    if method == "holdout":
        text = (f"hold-out by {by}: {100 * float(split.get('test_fraction', 0)):g} % of the "
                f"{by}s held out for testing")
    elif method == "kfold":
        text = (f"leave-one-{by}-out cross-validation (one fold per tested {by})"
                if split.get("n_splits") == "all" else
                f"{split.get('n_splits')}-fold cross-validation by {by}")
    elif method == "leave_groups_out":
        text = f"leave {by}s out: {as_text(split.get('test_groups'))} held out for testing"
    elif method == "none":
        text = "none: the model is trained on every window (no held-out test)"
    else:
        text = str(method)
    if float(split.get("val_fraction") or 0) > 0:
        text += (f"; {100 * float(split['val_fraction']):g} % of the training {by}s held "
                 "out for validation")
    if split.get("train_only"):
        text += (f"; always on the training side, never tested: "
                 f"{as_text(split['train_only'])}")
    return text + ("" if method == "none" else f" (seed {split.get('seed', 0)})")


def _model_text(cfg: Mapping[str, Any], layers: list[dict[str, Any]],
                model_cfg: Mapping[str, Any] | None) -> str:
    model = cfg.get("model") or {}
    if model.get("type") == "lsm":
        res = dict(model.get("reservoir") or {})
        neuron = res.get("neuron") or {}
        kind = neuron.get("model") or neuron.get("type") or "spiking"
        text = f"reservoir of {res.get('n_neurons', 'n/a')} {kind} neurons"
        if res.get("frac_excitatory") is not None:
            text += f" ({100 * float(res['frac_excitatory']):g} % excitatory"
            text += (f", spectral radius {as_text(res['spectral_radius'])})"
                     if res.get("spectral_radius") is not None else ")")
        feats = (model.get("features") or {}).get("kind")
        readout = model.get("readout") or {}
        alpha = (model_cfg or {}).get("alpha")
        return (text + (f" -> {feats} features" if feats else "")
                + f" -> {readout.get('type', 'n/a')} readout"
                + (f" (alpha {as_text(alpha)}, chosen on the training windows)"
                   if alpha is not None else ""))
    if layers:
        text = " -> ".join(la["name"] for la in layers)
        if model_cfg and model_cfg.get("readout"):
            text += f"; readout: {model_cfg['readout']}"
        if model.get("family"):
            text = f"family {model['family']}: {text}"
        return text
    return as_text({k: v for k, v in model.items() if not isinstance(v, (Mapping, list))})


def _preprocess_text(steps: Any) -> str:
    """A preprocessing chain (:mod:`eegsnn.preprocess.steps`) in words, in order."""
    words = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, Mapping):
            continue
        name = step.get("step")
        if name == "bandpass":
            lo, hi = step.get("l_freq"), step.get("h_freq")
            text = (f"band-pass {as_text(lo)}-{as_text(hi)} Hz" if lo and hi else
                    f"high-pass {as_text(lo)} Hz" if lo else
                    f"low-pass {as_text(hi)} Hz" if hi else "band-pass (no edges)")
            words.append(text + (" (IIR)" if step.get("method") == "iir" else ""))
        elif name == "notch":
            words.append(f"notch {as_text(step.get('freqs'))} Hz")
        elif name == "resample":
            words.append(f"resample to {as_text(step.get('sfreq'))} Hz")
        elif name == "reref":
            ref = step.get("ref", "average")
            words.append("average reference" if ref == "average"
                         else f"reference {as_text(ref)}")
        elif name == "pick":
            channels, types = step.get("channels"), step.get("types")
            words.append("pick " + ", ".join(
                ([f"{len(channels)} channel{'' if len(channels) == 1 else 's'}"]
                 if isinstance(channels, list) else [])
                + ([f"types {as_text(types)}"] if types else [])))
        elif name == "crop":
            words.append(f"crop {as_text(step.get('tmin_s'))}-"
                         f"{as_text(step.get('tmax_s')) if step.get('tmax_s') else 'end'} s")
        else:
            words.append(str(name))
    return " -> ".join(words) or "none"


def _variance_kept(run: Path) -> float | None:
    """``variance_kept`` of ``model/encoder.json`` (direct code with fewer steps than
    samples; absent in runs saved before 2026-12-07)."""
    path = run / "model" / "encoder.json"
    record = _read_json(path) if path.is_file() else None
    state = record.get("state") if isinstance(record, Mapping) else None
    kept = state.get("variance_kept") if isinstance(state, Mapping) else None
    return float(kept) if isinstance(kept, int | float) else None


def _encoder_text(enc: Mapping[str, Any]) -> str:
    """The spike encoder's settings that decide what the network sees, in words."""
    method = enc.get("method", "n/a")
    parts = [f"{method}" + (" (the signal as input current; spikes start in the first "
                            "layer)" if method == "direct" else "")]
    bands = enc.get("bands")
    if isinstance(bands, str):
        parts.append(f"filter bank {bands}")
    elif isinstance(bands, list) and bands:
        parts.append("filter bank " + ", ".join(
            f"{b[0]} {as_text(b[1])}-{as_text(b[2])} Hz" if isinstance(b, list) and len(b) == 3
            else as_text(b) for b in bands))
    spatial = enc.get("spatial_filter")
    if isinstance(spatial, Mapping):
        reg = spatial.get("reg")
        parts.append(f"{str(spatial.get('type', 'csp')).upper()} spatial filters ("
                     f"{as_text(spatial.get('n_components'))} components"
                     + (f", covariance {as_text(reg)}" if reg is not None else "")
                     + ", fitted on the training windows only)")
    if method == "direct" and enc.get("polarity") == "on_off":
        parts.append("+I and -I lines (each half-wave to its own neurons)")
    rate = enc.get("spikes_per_s")
    if rate:
        parts.append(f"{as_text(rate)} steps per second")
    gains = enc.get("gain") if method == "direct" else None
    if isinstance(gains, list):
        parts.append(f"gains {', '.join(as_text(g) for g in gains)}")
    return ", ".join(parts)


def _overrides_text(run: Path) -> str | None:
    """The ``--set`` (and flag) overrides of the run and the config file they changed, from
    ``RUN/overrides.json`` (:func:`eegsnn.pipeline.config.write_override_record`); ``None``
    for a run without that record."""
    record = _read_json(run / "overrides.json") if (run / "overrides.json").is_file() else None
    if not isinstance(record, Mapping):
        return None
    items = [scrub_paths(str(o), run) for o in record.get("overrides") or []]
    name = record.get("config_file")
    where = (f"{'applied to' if items else 'as written in'} {display_path(str(name), run)}"
             if name else "applied to the config of the command's flags")
    return f"{'; '.join(items) if items else 'none'} ({where})"


def _study_section(doc: _Doc, run: Path, metrics: Mapping[str, Any],
                   data: Mapping[str, Any], cfg: Mapping[str, Any]) -> None:
    """The task as it was run, written from the resolved config (``--set`` overrides
    included), the data record and the metrics."""
    doc.h(2, "Study")
    counts = metrics.get("class_counts") or data.get("class_counts") or {}
    classes = metrics.get("class_names") or data.get("class_names") or list(counts)
    rows = [["classes", ", ".join(f"{c} ({counts[c]} windows)" if c in counts else str(c)
                                  for c in classes)]]
    labels = ((cfg.get("dataset") or {}).get("labels") or {})
    if labels:
        how = labels.get("mapping") or labels.get("events") or labels.get("file")
        src = labels.get("source", "n/a")
        rows.append(["labels", f"from {'the file paths' if src == 'path' else src}"
                     + (f" ({as_text(_public(how, run))})" if how else "")])
    positive = (cfg.get("evaluate") or {}).get("positive_class")
    if positive:
        rows.append(["positive class", f"{positive} (sensitivity, specificity and ROC "
                                       "are for it against the rest)"])
    n_ch = len(data.get("ch_names") or [])
    rows.append(["data", f"{data.get('n_recordings', 'n/a')} recordings, "
                         f"{data.get('n_windows', 'n/a')} windows of "
                         f"{as_text(data.get('window_s'))} s, {n_ch} channel"
                         f"{'' if n_ch == 1 else 's'} at {as_text(data.get('sfreq_hz'))} Hz"])
    rows.append(["split", _split_text(cfg.get("split") or metrics.get("split") or {})])
    steps = (cfg.get("dataset") or {}).get("preprocess")
    if isinstance(steps, list):
        rows.append(["preprocessing", _preprocess_text(steps)])
    enc = cfg.get("encoder") or {}
    if enc:
        text = _encoder_text(enc)
        kept = _variance_kept(run)
        if kept is not None:
            text += (f"; its time bins keep {100 * kept:.0f} % of the signal's variance "
                     "(median over sources, the deployable model's training windows)")
        rows.append(["spike encoder", text])
    model_cfg = run_model_config(run)
    layers = neuron_layers(model_cfg, metrics.get("model_type"), _raster_sizes(run))
    kind = "LSM" if metrics.get("model_type") == "lsm" else "SNN"
    rows.append([f"model ({kind})", _model_text(cfg, layers, model_cfg)])
    train = cfg.get("train") or {}
    if train and kind == "SNN":
        loss = (train.get("loss") or {}).get("type") if isinstance(train.get("loss"), Mapping) \
            else train.get("loss")
        epochs = train.get("epochs")
        rows.append(["training", f"{epochs} epoch{'' if epochs == 1 else 's'}, batch "
                                 f"{train.get('batch_size')}"
                     f", loss {loss}, balance {cfg.get('balance', 'n/a')}, seed "
                     f"{train.get('seed')}"])
    base = cfg.get("baseline")
    rows.append(["baseline", base.get("type", "n/a") if isinstance(base, Mapping) else "none"])
    about = run / "model" / "about.json"
    if about.is_file():
        note = _read_json(about)
        if isinstance(note, Mapping) and note.get("note"):
            rows.append(["model/ (deployable)", str(note["note"])])
    overrides = _overrides_text(run)
    if overrides:
        rows.append(["overrides", overrides])
    doc.table(["setting", "value"], rows)
    doc.p("This table is written from the configuration the run used, command-line --set "
          "overrides included.")
    if cfg.get("description"):
        doc.p(f"Description in the study config (its free text, written before any --set "
              f"override): {cfg['description']}")


def _provenance_section(doc: _Doc, run: Path, data: Mapping[str, Any]) -> None:
    """Where the windows came from: file names and checksums, no absolute paths."""
    doc.h(2, "Data provenance")
    rows = [["source", as_text([display_path(p, run) for p in data["source"]])
             if isinstance(data.get("source"), list)
             else display_path(str(data.get("source")), run)]]
    if data.get("root"):
        rows.append(["root", display_path(str(data["root"]), run)])
    if data.get("manifest"):
        m = data["manifest"]
        rows += [["manifest", f"{m.get('name')} ({display_path(str(m.get('path')), run)})"],
                 ["manifest sha256", m.get("sha256", "")], ["license", m.get("license", "")]]
        rows += [["citation", as_text(c)] for c in m.get("citation", [])]
    ch = list(data.get("ch_names") or [])
    rows += [["recordings", as_text(data.get("n_recordings"))],
             ["windows", as_text(data.get("n_windows"))],
             ["channels", f"{len(ch)}: {', '.join(map(str, ch[:16]))}"
                          f"{' ...' if len(ch) > 16 else ''}"],
             ["sampling rate", f"{as_text(data.get('sfreq_hz'))} Hz"],
             ["window", f"{as_text(data.get('window_s'))} s ({as_text(data.get('n_samples'))}"
                        " samples)"]]
    doc.table(["item", "value"], rows)
    files = data.get("files", [])
    if files:
        shown = files[:12]
        doc.table(["file", "sha256"],
                  [[display_path(str(f.get("path")), run), f.get("sha256", "")]
                   for f in shown]
                  + ([[f"... and {len(files) - len(shown)} more (data.json)", ""]]
                     if len(files) > len(shown) else []))


def _evaluations_section(doc: _Doc, run: Path) -> None:
    """``eegsnn evaluate`` results kept in ``RUN/evaluations/*/metrics.json``: data, windows,
    accuracy, and the overlap with the training recordings when it was allowed."""
    rows, notes = [], []
    for path in sorted((run / "evaluations").glob("*/metrics.json")):
        try:
            m = _read_json(path)
        except (DataError, OSError, ValueError):
            m = None
        if not isinstance(m, Mapping):
            notes.append(f"{path.parent.name}: unreadable metrics.json")
            continue
        src = (m.get("data") or {}).get("source")
        data = as_text([display_path(str(p), run) for p in src]) if isinstance(src, list) \
            else display_path(str(src), run)
        ov = m.get("overlap")
        baseline = m.get("baseline")
        base: Mapping[str, Any] = baseline if isinstance(baseline, Mapping) else {}
        base_acc = (base.get("pooled") or {}).get("accuracy") if base else None
        rows.append([path.parent.name, data, as_text(m.get("n_samples")),
                     _fmt(m.get("accuracy")),
                     f"{_fmt(base_acc)} ({base.get('type')})" if base_acc is not None
                     else "n/a",
                     f"{ov.get('n_files')} recording(s), {ov.get('n_windows')} windows the "
                     "run was trained on: not held-out" if isinstance(ov, Mapping)
                     else NO_OVERLAP_FOUND])
        notes += [f"Warning ({path.parent.name}): {w}" for w in m.get("warnings") or []]
    if not rows and not notes:
        return
    doc.h(2, "Evaluations (eegsnn evaluate)")
    doc.p("Scores of this run's model on other data, as kept in evaluations/; an overlap "
          "means recordings the model was trained on were scored (--allow-overlap).")
    if rows:
        doc.table(["evaluation", "data", "windows", "accuracy", "baseline accuracy",
                   "overlap with training recordings"], rows)
    for note in notes:
        doc.p(note)


# what an evaluation without a detected overlap can say (eegsnn.pipeline.records
# check_overlap compares file and decoded-signal hashes only)
NO_OVERLAP_FOUND = ("no identical content found (file or decoded-signal hash; resampled, "
                    "filtered, cropped, noisy, re-exported or channel-subset copies cannot "
                    "be detected)")


_BOOT_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
                "cohen_kappa": "Cohen's kappa", "f1_macro": "macro-F1",
                "sensitivity": "sensitivity", "specificity": "specificity",
                "roc_auc": "ROC-AUC"}


def _interval_notes(doc: _Doc, model_label: str, boot: Mapping[str, Any] | None,
                    base: Mapping[str, Any] | None, bpooled: Mapping[str, Any] | None) -> None:
    """One paragraph per model naming its intervals that are not the cluster bootstrap's
    (:func:`~eegsnn.evaluate.stats.interval_note`: the exact fallback of a degenerate
    bootstrap, too few recordings, a score every resample agrees on)."""
    for who, rec in ((model_label, boot), (f"baseline: {(base or {}).get('type')}",
                                           (bpooled or {}).get("bootstrap"))):
        note = interval_note(rec)
        if note:
            doc.p(f"{who}, intervals that are not the cluster bootstrap's: {note}.")


def _statistics_section(doc: _Doc, metrics: Mapping[str, Any], classes: list[str],
                        model_label: str) -> None:
    """Recording-level bootstrap intervals, the operating point, per-class tables and
    McNemar's test (keys: see :mod:`eegsnn.evaluate.stats`)."""
    pooled = (metrics.get("snn") or {}).get("pooled") or {}
    base = metrics.get("baseline")
    bpooled = (base or {}).get("pooled") or {}
    boot = (pooled.get("bootstrap") or {}).get("metrics") or {}
    bboot = (bpooled.get("bootstrap") or {}).get("metrics") or {}
    header = ["metric", model_label] + ([f"baseline: {base['type']}"] if base else [])
    if boot:
        b = pooled["bootstrap"]
        doc.h(3, "Intervals over recordings (cluster bootstrap)")
        doc.p(f"95 % percentile intervals from {b.get('n_resamples')} resamples of the "
              f"{b.get('n_clusters')} held-out {b.get('cluster', 'recording')}s (whole "
              f"recordings drawn with replacement, seed {b.get('seed')}): windows of one "
              "recording are not treated as independent.")

        def cell(rec: Mapping[str, Any] | None, key: str) -> str:
            if not rec:
                return ""
            return format_metric(key, rec.get("estimate")) + (
                "" if rec.get("estimate") is None else _boot_ci(rec, key))

        doc.table(header, [[_BOOT_LABELS.get(k, k), cell(v, k)]
                           + ([cell(bboot.get(k), k)] if base else [])
                           for k, v in boot.items()])
        _interval_notes(doc, model_label, pooled.get("bootstrap"), base, bpooled)
    op = pooled.get("operating_point")
    pos = pooled.get("positive")
    if op and pos:
        thr = op.get("threshold")
        thr_text = as_text(thr) if isinstance(thr, list) else f"{float(thr):.4g}"
        rule = f"{op.get('rule')}" + (f" {op['value']:g}" if op.get("value") is not None
                                      else "")
        doc.h(3, f"Operating point ({pos['class']})")
        doc.p(f"Decision threshold on p({pos['class']}) = {thr_text}, chosen by {rule} on "
              f"the {op.get('on')} windows of each fold (never the test windows); "
              "compared with the arg-max rule on the same held-out windows.")
        ob = (op.get("bootstrap") or {}).get("metrics") or {}
        rows = []
        for key in ("sensitivity", "specificity", "accuracy", "balanced_accuracy"):
            at = format_metric(key, op.get(key), (ob.get(key) or {}).get("ci95"))
            arg = pos.get(key) if key in ("sensitivity", "specificity") else pooled.get(key)
            arg_ci = (boot.get(key) or {}).get("ci95")
            rows.append([_BOOT_LABELS.get(key, key), at, format_metric(key, arg, arg_ci)])
        doc.table(["metric (held-out windows)", "at the operating threshold", "arg-max"], rows)
        if interval_note(op.get("bootstrap")):
            doc.p(f"At the operating threshold: {interval_note(op.get('bootstrap'))}.")
    if pos and pos.get("sensitivity_at_specificity"):
        rows = [[f"sensitivity at specificity >= {_fmt(float(r))}", _fmt(v)]
                for r, v in pos["sensitivity_at_specificity"].items()]
        rows += [[f"specificity at sensitivity >= {_fmt(float(r))}", _fmt(v)]
                 for r, v in (pos.get("specificity_at_sensitivity") or {}).items()]
        doc.p(f"Read off the held-out ROC curve of {model_label} ({pos['class']} vs rest; "
              "the threshold is chosen on the same windows, so these describe the curve):")
        doc.table(["point of the ROC curve", "value"], rows)
    for label, block in ((model_label, pooled), (f"baseline: {(base or {}).get('type')}",
                                                 bpooled if base else None)):
        pc = (block or {}).get("per_class")
        if not pc:
            continue
        doc.h(3, f"Per class: {label}")
        doc.table(["class", "precision", "recall", "F1", "support (windows)"],
                  [[c, _fmt(pc["precision"][i]), _fmt(pc["recall"][i]), _fmt(pc["f1"][i]),
                    str(pc["support"][i])] for i, c in enumerate(classes)
                   if i < len(pc["support"])])
    mc = metrics.get("mcnemar")
    if mc:
        doc.p(f"McNemar's exact test, {model_label} vs baseline on the same {mc['n']} held-out "
              f"windows: {mc.get('snn_only_correct')} window"
              f"{'' if mc.get('snn_only_correct') == 1 else 's'} right only by {model_label}, "
              f"{mc.get('baseline_only_correct')} only by the baseline; two-sided p = "
              f"{float(mc['p_value']):.3g} (windows taken as independent pairs).")


def build_report(run_dir: str | os.PathLike, fmt: str = "html", *,
                 figures_dir: str | os.PathLike | None = None,
                 link_dir: str | os.PathLike | None = None) -> str:
    """The report of ``run_dir`` as a string (``fmt``: ``"html"`` or ``"md"``).

    Figures are written to ``figures_dir`` (default ``run_dir/plots/``) and embedded for
    HTML; a Markdown report links them, and the run's training curves, relative to
    ``link_dir`` (default ``run_dir``: the folder the report is written to).

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
    pdir = run / "plots" if figures_dir is None else Path(figures_dir)
    doc = _Doc(fmt, run, None if link_dir is None else Path(link_dir))
    classes = metrics.get("class_names", data.get("class_names", []))
    snn = metrics.get("snn", {})
    base = metrics.get("baseline")
    pooled = snn.get("pooled", {})

    title = f"eegsnn report: {cfg.get('name', run.name)}"
    doc.h(1, title)
    doc.p(f"Pipeline '{cfg.get('pipeline')}', run folder {run.name}/, report generated "
          f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.")
    if cfg.get("notes"):
        doc.p(f"Note in the study config (its free text, not a result of this run): "
              f"{as_text(cfg['notes'])}")
    doc.toc()
    _study_section(doc, run, metrics, data, cfg)

    model_label = "LSM (eegsnn)" if metrics.get("model_type") == "lsm" else "SNN (eegsnn)"
    if metrics.get("warnings"):
        doc.h(2, "Warnings")
        for warning in metrics["warnings"]:
            doc.p(f"WARNING: {warning}")

    doc.h(2, "Results on held-out data")
    split = metrics.get("split", {})
    if split.get("method") == "none":  # no held-out windows: say so, no empty table
        t = (metrics.get("final_model") or {}).get("trained_on") or {}
        val = (f" (+ {t['validation_windows']} validation windows / "
               f"{t.get('validation_recordings')} recordings held out for early stopping)"
               if t.get("validation_windows") else "")
        doc.p(f"None in this run (split.method none): model/ was trained on "
              f"{'all ' if t.get('all_windows', True) else ''}{t.get('windows')} windows / "
              f"{t.get('recordings')} recordings{val}. Score it on "
              "other recordings with `eegsnn evaluate RUN DATA`, which scores the saved "
              "baseline on the same windows.")
    else:
        pb = pooled.get("bootstrap")
        brackets = (
            f"brackets are 95 % intervals over the {pb.get('n_clusters')} held-out "
            f"{pb.get('cluster', 'recording')}s (cluster bootstrap; exceptions are named "
            "below the table); the rows named 'window-level Wilson interval' treat every "
            "window as independent, are too narrow, and are given for reference only."
            if pb and pb.get("metrics") else
            "brackets are 95 % window-level Wilson intervals (every window taken as "
            "independent: too narrow when windows of one recording agree).")
        doc.p(f"Split: {split.get('method')} by {split.get('by')} ({metrics.get('n_folds')} "
              f"fold(s)); windows of one {split.get('by')} are never on both sides. "
              "Values are pooled over every held-out window (each scored by its fold's "
              f"model); {brackets}")
    s_rows, b_rows = _metric_rows(pooled), _metric_rows(base["pooled"] if base else None)
    header = ["metric", model_label] + ([f"baseline: {base['type']}"] if base else [])
    if s_rows:
        doc.table(header, [[k, v] + ([b_rows.get(k, "")] if base else [])
                           for k, v in s_rows.items()])
        _interval_notes(doc, model_label, pooled.get("bootstrap"), base,
                        (base or {}).get("pooled"))
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
        if metrics.get("n_folds") == 2:
            doc.p("With 2 folds the t-interval uses t = 12.7 (1 degree of freedom): unless "
                  "the two folds agree it spans most of the range (clipped to the metric's "
                  "bounds), and with only two values it is not a reliable interval; the two "
                  "folds' values are below.")
        rows = []
        for i, f in enumerate(snn.get("folds", [])):
            bf = base["folds"][i] if base else None
            rows.append([str(i + 1), _fmt(f["accuracy"]), _fmt(f["balanced_accuracy"])]
                        + ([_fmt(bf["accuracy"]), _fmt(bf["balanced_accuracy"])] if bf else []))
        short = "LSM" if metrics.get("model_type") == "lsm" else "SNN"
        doc.table(["fold", f"{short} accuracy", f"{short} balanced acc."]
                  + (["baseline accuracy", "baseline balanced acc."] if base else []), rows)

    _statistics_section(doc, metrics, classes, model_label)
    _evaluations_section(doc, run)

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
    doc.table(["class", "windows"] + (["train (sum over folds)",
                                       f"train after balancing ({metrics.get('balance')})",
                                       "held-out test (sum over folds)"] if folds else []),
              rows)
    if metrics.get("balance") == "oversample":
        doc.p("Imbalance is handled by oversampling minority classes in the training "
              "windows only (balance: oversample)"
              + ("; the held-out windows are left as they are. Balanced accuracy and "
                 "per-class recall are reported beside accuracy." if folds else "."))
    else:
        doc.p(f"Training windows are not rebalanced (balance: {metrics.get('balance')}); "
              "balanced accuracy and per-class recall are reported beside accuracy.")

    if pooled.get("confusion_matrix"):
        doc.h(2, "Confusion matrix")
        kind = model_label.split()[0]  # SNN or LSM
        doc.p("Rows: true class; columns: predicted class; each cell gives the number of "
              "held-out windows and the share of its true class (row).")
        doc.image(write_figure(pdir / "confusion.png", _confusion, pooled["confusion_matrix"],
                               classes, f"{kind} (held-out windows)"),
                  f"{kind} confusion matrix")
        if base:
            doc.image(write_figure(pdir / "confusion_baseline.png", _confusion,
                                   base["pooled"]["confusion_matrix"], classes,
                                   f"baseline {base['type']} (held-out windows)"),
                      "baseline confusion matrix")
    curves = {}
    for name, block in ((model_label.split()[0], pooled),
                        (f"baseline {base['type']}" if base else "", base and base["pooled"])):
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

    _spikes_section(doc, run, metrics, data, cfg, pdir)
    _energy_section(doc, (metrics.get("snn") or {}).get("synops"),
                    neuron_layers(run_model_config(run), metrics.get("model_type"),
                                  _raster_sizes(run)), pooled.get("n_samples"))
    curves_png = run / "folds" / "fold-1" / "train" / "curves.png"
    if curves_png.is_file():
        doc.h(2, "Training curves (fold 1)")
        doc.image(curves_png, "loss and accuracy per epoch")
    elif (run / "refit" / "train" / "curves.png").is_file():  # split.method none: model/'s
        doc.h(2, "Training curves (model/)")
        doc.image(run / "refit" / "train" / "curves.png", "loss and accuracy per epoch")

    _provenance_section(doc, run, data)

    doc.h(2, "Configuration")
    doc.p("The resolved study config of the run (pipeline defaults and --set overrides "
          "applied; absolute paths shortened to file names).")
    doc.code(dump_yaml(_public(cfg, run)))
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
                 out: str | os.PathLike | None = None, *, overwrite: bool = False
                 ) -> list[Path]:
    """Write ``report.html`` and/or ``report.md`` into ``run_dir`` (or ``out``).

    Args:
        fmt: ``"html"``, ``"md"`` or ``"both"``.
        out: output file (single format only); default ``run_dir/report.<ext>`` (always
            rewritten, figures in ``run_dir/plots/``). An ``out`` inside the run folder (its
            files are the run's record), a folder, or one in a missing folder is refused,
            an existing one unless ``overwrite``. With ``out`` the run folder is only read
            (it may be read-only): an HTML report embeds its figures, a Markdown report
            writes them beside itself into ``<out stem>_figures/`` (refused when that
            exists, unless ``overwrite``) and links them, and the run's training curves,
            relative to itself.
    """
    formats = ["html", "md"] if fmt == "both" else [fmt]
    if out is not None and len(formats) > 1:
        raise ConfigError("--out names one file: pick --format html or md")
    run_dir = Path(run_dir)
    if out is not None and _is_default_report(run_dir, Path(out), formats[0]):
        out = None  # the default report, named: written as without --out
    if out is None:
        written = []
        for f in formats:
            path = run_dir / f"report.{f}"
            atomic_write_text(path, build_report(run_dir, f))
            written.append(path)
        return written
    out = Path(out)
    _check_report_path(run_dir, out, formats[0], overwrite)
    if formats[0] == "md":
        text = build_report(run_dir, "md", figures_dir=report_figures_dir(out),
                            link_dir=out.parent)
    else:
        with tempfile.TemporaryDirectory(prefix="eegsnn-report-") as tmp:
            text = build_report(run_dir, "html", figures_dir=tmp)
    atomic_write_text(out, text)
    return [out]


def report_figures_dir(out: Path) -> Path:
    """Where a Markdown report written to ``out`` (outside its run) keeps its figures."""
    return out.parent / f"{out.stem}_figures"


def _is_default_report(run_dir: Path, out: Path, fmt: str) -> bool:
    return Path(os.path.realpath(out)) == Path(os.path.realpath(run_dir)) / f"report.{fmt}"


def _check_report_path(run_dir: Path, out: Path, fmt: str, overwrite: bool) -> None:
    real_run, real_out = Path(os.path.realpath(run_dir)), Path(os.path.realpath(out))
    if _is_default_report(run_dir, out, fmt):  # the default report: always rewritten
        return
    if real_run == real_out or real_run in real_out.parents:
        raise ConfigError(f"--out {out}: inside the run folder {run_dir}, whose files are the "
                          f"run's record; write the report outside it (or leave --out out: "
                          f"{run_dir / f'report.{fmt}'})")
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give the report's file name")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: folder {out.parent} does not exist; create it "
                          "first or write elsewhere")
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm", ".md", ".markdown") and \
            (suffix in (".md", ".markdown")) != (fmt == "md"):
        raise ConfigError(f"--out {out}: --format {fmt} writes "
                          f"{'Markdown' if fmt == 'md' else 'HTML'}; name the file "
                          f"report.{fmt}, or give --format {'html' if fmt == 'md' else 'md'}")
    if out.exists() and not overwrite:
        raise ConfigError(f"--out {out}: exists; --overwrite replaces it")
    figures = report_figures_dir(out)
    if fmt == "md" and figures.exists() and not (overwrite and figures.is_dir()):
        raise ConfigError(f"--out {out}: its figures' folder {figures} exists; "
                          + ("--overwrite replaces its figures" if figures.is_dir() else
                             "it is a file: write the report elsewhere"))
