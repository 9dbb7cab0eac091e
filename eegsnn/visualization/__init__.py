"""Plotting library (matplotlib, optional extra ``eegsnn[plot]``), safe without a display.

Every function takes arrays (time-major spikes ``[T, ...]``, NumPy or MLX) or the engine's
records and returns a :class:`matplotlib.figure.Figure` built without pyplot; save it with
:func:`save_figure` (atomic)::

    from eegsnn.visualization import spike_raster, save_figure

    fig = spike_raster(spikes, dt_s=1 / 160)
    save_figure(fig, "raster.png")

=========================  =====================================================
function                   shows
=========================  =====================================================
:func:`spike_raster`       spikes of each neuron / encoder line over time
:func:`membrane_traces`    membrane potentials with threshold and spikes
:func:`eeg_and_spikes`     EEG channels above the spike lines that encode them
:func:`surrogate_curves`   Heaviside forward and surrogate backward passes
:func:`training_curves`    loss / accuracy per epoch (``history.json``)
:func:`confusion_matrix_plot`  confusion matrix (``metrics.json``)
:func:`roc_plot`           ROC curve(s) and AUC from labels and scores
:func:`roc_curves_plot`    ROC curves from points already computed (``metrics.json``)
:func:`firing_rate_histogram`  per-neuron firing rates, one panel per layer
:func:`layer_rasters`      input and every layer's spikes of one window, stacked
:func:`layer_rates_bar`    mean firing rate per layer
:func:`reservoir_activity` reservoir raster by E/I population, population rate
:func:`raster_plot`        reservoir raster, E below I (draws into a given ``ax``)
:func:`rate_histogram_plot`  histogram of per-neuron rates (draws into a given ``ax``)
=========================  =====================================================

ROC points come from :func:`eegsnn.evaluate.metrics.roc_curve`; the metrics themselves
from :mod:`eegsnn.evaluate`. The run report (:mod:`eegsnn.report`) draws its figures with
these functions.

:func:`write_figure` draws and saves in one call, or returns ``None`` without matplotlib
(what the run report and ``eegsnn apply`` use, saying "figure not available" instead).
:func:`plot_run` renders the common ones from a run folder (``eegsnn plot RUN_DIR``).

matplotlib is imported when a plot is made, not when this package is imported; without it
a plot raises :class:`~eegsnn.errors.MissingExtraError` ("Plotting needs the
'plot' extra: pip install 'eegsnn[plot]'").
"""

from __future__ import annotations

from eegsnn.visualization._figure import have_matplotlib, save_figure, write_figure
from eegsnn.visualization.reservoir import raster_plot, rate_histogram_plot
from eegsnn.visualization.roc import roc_curves_plot, roc_plot
from eegsnn.visualization.run import PLOT_KINDS, plot_run
from eegsnn.visualization.signals import eeg_and_spikes
from eegsnn.visualization.spikes import (
    firing_rate_histogram,
    layer_rasters,
    layer_rates_bar,
    membrane_traces,
    reservoir_activity,
    spike_raster,
)
from eegsnn.visualization.surrogates import surrogate_curves, surrogate_values
from eegsnn.visualization.training import confusion_matrix_plot, training_curves

__all__ = [
    "PLOT_KINDS",
    "confusion_matrix_plot",
    "eeg_and_spikes",
    "firing_rate_histogram",
    "have_matplotlib",
    "layer_rasters",
    "layer_rates_bar",
    "membrane_traces",
    "plot_run",
    "raster_plot",
    "rate_histogram_plot",
    "reservoir_activity",
    "roc_curves_plot",
    "roc_plot",
    "save_figure",
    "spike_raster",
    "surrogate_curves",
    "surrogate_values",
    "training_curves",
    "write_figure",
]
