r"""A scikit-learn classifier over eegsnn's encoder and training engine (extra ``sklearn``).

:class:`SNNClassifier` takes epoch arrays ``[n_epochs, n_channels, n_times]`` (what MNE's
``epochs.get_data()`` and MOABB give) or an ``mne.Epochs``, so it drops into
``sklearn.pipeline.Pipeline``, ``cross_val_score``, ``GridSearchCV`` and MOABB evaluations::

    from sklearn.model_selection import cross_val_score
    from eegsnn.interop.sklearn import SNNClassifier

    clf = SNNClassifier(encoder="delta", num_steps=64, hidden=64, epochs=20,
                        sfreq_hz=160.0, random_state=0)
    scores = cross_val_score(clf, X, y, cv=5)        # X [n_epochs, n_channels, n_times]
    clf.fit(epochs)                                  # or MNE Epochs (labels from events)

``fit`` fits the encoder's statistics (per channel mean and standard deviation: the
standardisation) on the training epochs only, encodes them into time-major spikes
``[T, n_epochs, L]`` and trains a feedforward SNN (``linear -> neuron`` per hidden layer,
then ``linear -> non-spiking integrator``) with the pipeline's fold trainer
(:func:`eegsnn.pipeline.snn.train_snn`: the same validation split before oversampling, the
same loss for the readout, :func:`eegsnn.train.fit`); ``predict_proba``
is the softmax of the readout (membrane mean/final/max, or spike counts). Results are
reproducible from ``random_state`` (weights, batch order, rate-code noise).

A 2-D ``X [n_samples, n_features]`` is read as one sample per feature
(``[n_samples, n_features, 1]``): each feature becomes a channel whose value the encoder
turns into spikes, so static feature vectors work too.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eegsnn.encode import EEGEncoder
from eegsnn.errors import ConfigError
from eegsnn.extras import require
from eegsnn.interop.mne import epochs_data, is_epochs
from eegsnn.model import build_model
from eegsnn.pipeline.metrics import softmax
from eegsnn.pipeline.modelspec import check_neuron_layers, validate_model_spec
from eegsnn.pipeline.snn import train_snn

_sk = require("sklearn", "sklearn", "SNNClassifier")

from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.preprocessing import LabelEncoder  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

__all__ = ["SNNClassifier"]

#: Windows encoded per chunk (bounds the encoder's peak memory).
ENCODE_CHUNK = 256


class SNNClassifier(ClassifierMixin, BaseEstimator):
    """Spiking neural network classifier for epoch arrays (scikit-learn API).

    Args:
        encoder: ``"delta"`` (default; deterministic), ``"rate"`` or ``"threshold"``, a dict
            of :class:`~eegsnn.encode.EEGEncoder` arguments, or an unfitted ``EEGEncoder``
            (its parameters are used). The ``"rate"`` code is stochastic: its noise
            depends on ``random_state`` and on an epoch's position in the ``X`` passed
            (chunks of :data:`ENCODE_CHUNK` share a key), so its predictions are
            reproducible for the same ``X`` but not invariant to reordering ``X``.
        num_steps: time steps ``T`` the encoder produces per epoch.
        encoder_params: more ``EEGEncoder`` arguments (``threshold``, ``bands``...).
        sfreq_hz: sampling rate of array input (read from ``info`` for MNE Epochs); needed
            by filter banks and ``spikes_per_s``.
        model: a study config's ``model`` section (:mod:`eegsnn.pipeline.modelspec`), e.g.
            ``{"family": "band_power"}``, ``{"family": "spiking_eegnet", "kernel_s": 0.4}``
            or ``{"layers": [...]}``; when given, ``hidden``, ``neuron``, ``beta``,
            ``readout`` and ``dropout`` are not used. Families with options in seconds
            need ``sfreq_hz`` (or MNE input) and ``encoder_params["spikes_per_s"]``.
        hidden: hidden layer size(s), int or tuple.
        neuron: ``"leaky"``, ``"if"``, ``"synaptic"``, ... or a neuron layer dict
            (``{"type": "leaky", "beta": 0.9}``).
        beta: membrane decay of ``"leaky"``/``"synaptic"`` neurons given by name.
        readout: ``"mean"``, ``"final"``, ``"max"`` (membrane of a non-spiking output
            layer) or ``"count"`` (spike counts).
        dropout: dropout after each hidden neuron layer.
        epochs, batch_size, lr, optimizer: training (``optimizer``: an
            :mod:`mlx.optimizers` name).
        balance: ``None`` or ``"oversample"``: repeat epochs of the smaller classes
            (drawn with ``random_state``) until every class has as many training epochs
            as the largest (for unbalanced data such as seizure or sleep windows); the
            validation epochs are split off first and never repeated.
        val_fraction, patience: hold out a stratified validation part and stop early after
            ``patience`` epochs without improvement of its loss (0: off).
        random_state: int for reproducible fits, ``None`` for a random seed.
        verbose: show progress bars.

    Attributes (after ``fit``): ``classes_``, ``n_features_in_`` (channels),
    ``encoder_`` (fitted ``EEGEncoder``), ``model_`` (:class:`~eegsnn.model.SpikingNet`),
    ``history_`` (per-epoch records), ``seed_``.
    """

    def __init__(self, encoder: str | Mapping[str, Any] | Any = "delta", *,
                 num_steps: int = 64, encoder_params: Mapping[str, Any] | None = None,
                 sfreq_hz: float | None = None, model: Mapping[str, Any] | None = None,
                 hidden: int | Sequence[int] = 64,
                 neuron: str | Mapping[str, Any] = "leaky", beta: float = 0.9,
                 readout: str = "mean", dropout: float = 0.0, epochs: int = 20,
                 batch_size: int = 32, lr: float = 1e-3, optimizer: str = "adam",
                 balance: str | None = None, val_fraction: float = 0.0, patience: int = 0,
                 random_state: int | None = None, verbose: bool = False) -> None:
        self.encoder = encoder
        self.num_steps = num_steps
        self.encoder_params = encoder_params
        self.sfreq_hz = sfreq_hz
        self.model = model
        self.hidden = hidden
        self.neuron = neuron
        self.beta = beta
        self.readout = readout
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.balance = balance
        self.val_fraction = val_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ sklearn plumbing

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ input

    def _read_X(self, X: Any, what: str, reset: bool
                ) -> tuple[np.ndarray, list[str] | None, float | None]:
        """``X`` -> float32 ``[B, C, N]``, channel names (MNE) and sampling rate (MNE).

        Sets (``reset``) or checks ``n_features_in_`` (the number of channels). A list of
        Epochs (what scikit-learn's splitters make of one ``Epochs``: ``[epochs[i] for i
        in idx]``) is read as their concatenation."""
        parts = _epochs_list(X)
        if parts is not None:
            arr, names, sfreq = _concat_epochs(parts, what)
        elif is_epochs(X):
            arr, _, _, names, sfreq = epochs_data(X)
        if parts is not None or is_epochs(X):
            if reset:
                self.n_features_in_ = int(arr.shape[1])
            elif arr.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {arr.shape[1]} features, but SNNClassifier is "
                                 f"expecting {self.n_features_in_} features as input")
            return arr, names, sfreq
        try:
            from sklearn.utils.validation import validate_data
        except ImportError:  # scikit-learn < 1.6
            def validate_data(est: Any, X: Any, **kw: Any) -> Any:
                return est._validate_data(X, **kw)

        arr = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32,
                            ensure_min_samples=1)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"SNNClassifier.{what}: X must be [n_epochs, n_channels, "
                             f"n_times] (or [n_samples, n_features]), got shape {arr.shape}")
        return arr, None, None

    def _encoder_kwargs(self, sfreq: float | None) -> dict[str, Any]:
        if isinstance(self.encoder, str):
            kwargs: dict[str, Any] = {"method": self.encoder}
        elif isinstance(self.encoder, Mapping):
            kwargs = dict(self.encoder)
        elif isinstance(self.encoder, EEGEncoder):
            kwargs = self.encoder.get_params()
        else:
            raise ConfigError(f"SNNClassifier: encoder must be a method name, a dict or an "
                              f"EEGEncoder, got {type(self.encoder).__name__}")
        kwargs.update(self.encoder_params or {})
        if kwargs.get("spikes_per_s") is None and kwargs.get("num_steps") is None:
            kwargs["num_steps"] = int(self.num_steps)  # the encoder's own T wins
        kwargs.setdefault("on_flat", "silence")
        rate = sfreq if sfreq is not None else self.sfreq_hz
        if rate is not None:
            kwargs["sfreq_hz"] = float(rate)
        return kwargs

    def _encode(self, arr: np.ndarray, names: list[str] | None, key_offset: int,
                sfreq: float | None = None) -> Any:
        import mlx.core as mx

        parts = []
        rate = self.encoder_.sfreq_hz if self.encoder_.sfreq_hz is not None else sfreq
        for i, start in enumerate(range(0, arr.shape[0], ENCODE_CHUNK)):
            chunk: Any = arr[start:start + ENCODE_CHUNK]
            if names is not None:  # keep the names check of MNE input
                chunk = _NamedWindows(chunk, names, rate)
            spikes = self.encoder_.transform(chunk, key=self.seed_ + key_offset + i)
            mx.eval(spikes)
            parts.append(spikes)
        return parts[0] if len(parts) == 1 else mx.concatenate(parts, axis=1)

    def _model_spec(self) -> dict[str, Any]:
        """The study-config ``model`` section this estimator trains (one builder for the
        pipeline and the estimator: :func:`~eegsnn.pipeline.modelspec.build_model_config`)."""
        if self.model is not None:
            return dict(self.model)
        hidden = [self.hidden] if isinstance(self.hidden, (int, np.integer)) else \
            list(self.hidden)
        if not hidden or not all(isinstance(h, (int, np.integer)) and h > 0 for h in hidden):
            raise ConfigError(f"SNNClassifier: hidden must be positive ints, got {self.hidden!r}")
        if isinstance(self.neuron, Mapping):
            neuron = dict(self.neuron)
        else:
            neuron = {"type": str(self.neuron)}
            if neuron["type"] in ("leaky", "synaptic", "alif"):
                neuron["beta"] = float(self.beta)
        return {"hidden": [int(h) for h in hidden], "neuron": neuron,
                "dropout": float(self.dropout), "readout": self.readout}

    # ------------------------------------------------------------------ API

    def fit(self, X: Any, y: Any = None) -> SNNClassifier:
        """Fit the encoder on ``X`` and train the network.

        Args:
            X: ``[n_epochs, n_channels, n_times]`` array, ``[n_samples, n_features]``, or an
                ``mne.Epochs``.
            y: ``[n_epochs]`` labels (any hashable values); for MNE Epochs, ``None`` takes
                them from ``epochs.events`` / ``event_id``.
        """
        if y is None:
            y = _epochs_labels(X, "fit")
        arr, names, sfreq = self._read_X(X, "fit", reset=True)
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import column_or_1d

        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if y.shape[0] != arr.shape[0]:
            raise ValueError(f"SNNClassifier.fit: X has {arr.shape[0]} epochs but y has "
                             f"{y.shape[0]} labels")
        # the options, before the (slow) encoder fit and encoding
        model_spec = validate_model_spec(self._model_spec())
        check_neuron_layers(model_spec)
        if self.balance not in (None, "oversample"):
            raise ConfigError(f"SNNClassifier: balance must be None or 'oversample', got "
                              f"{self.balance!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            whole = isinstance(value, (int, np.integer)) or (
                isinstance(value, (float, np.floating)) and float(value).is_integer())
            if isinstance(value, bool) or not whole or value < 1:
                raise ConfigError(f"SNNClassifier: {name} must be a whole number >= 1, got "
                                  f"{value!r}")
        val_fraction = float(self.val_fraction)
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"SNNClassifier: val_fraction must be in [0, 1), got "
                              f"{self.val_fraction!r}")
        labels = LabelEncoder().fit(y)
        self.classes_ = labels.classes_
        y_idx = labels.transform(y).astype(np.int64)
        self.seed_ = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        kwargs = self._encoder_kwargs(sfreq)
        known = set(inspect.signature(EEGEncoder).parameters)
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ConfigError(f"SNNClassifier: encoder / encoder_params: unknown EEGEncoder "
                              f"argument(s) {', '.join(unknown)} (known: "
                              f"{', '.join(sorted(known))})")
        self.encoder_ = EEGEncoder(**kwargs)
        self.encoder_.fit(arr if names is None else _NamedWindows(arr, names, sfreq), y_idx)
        if self.encoder_.ch_names_ is None:  # fit names every input line
            raise RuntimeError("SNNClassifier.fit: the encoder kept no channel names")
        self.ch_names_ = list(self.encoder_.ch_names_)
        spikes = self._encode(arr, names, 0)
        n_classes = max(len(self.classes_), 2)
        steps_per_s = None
        if self.encoder_.sfreq_hz is not None:
            steps_per_s = int(spikes.shape[0]) * self.encoder_.sfreq_hz / arr.shape[2]
        train = {"epochs": int(self.epochs), "batch_size": int(self.batch_size),
                 "seed": self.seed_,
                 "optimizer": {"type": self.optimizer, "learning_rate": float(self.lr)},
                 "early_stopping": {"patience": int(self.patience), "metric": "val_loss"}
                 if self.patience and val_fraction > 0 else None,
                 "checkpoint_every": 0, "log_every": 10**6}
        # the pipeline's fold trainer: validation split, then oversampling, loss, fit
        result = train_snn(model_spec, spikes, y_idx, n_classes, train,
                           balance=self.balance, val_fraction=val_fraction,
                           val_seed=self.seed_, steps_per_s=steps_per_s,
                           progress=bool(self.verbose))
        self.model_ = result.model
        self.model_.eval()
        self.history_ = result.history
        return self

    def _logits(self, X: Any) -> np.ndarray:
        """Readout logits ``[n_epochs, n_classes]`` (``[n, 2]`` for a single class)."""
        check_is_fitted(self, ("model_", "encoder_"))
        import mlx.core as mx

        arr, names, sfreq = self._read_X(X, "predict", reset=False)
        if sfreq is not None and self.encoder_.sfreq_hz is not None and \
                abs(sfreq - self.encoder_.sfreq_hz) > 1e-6 * sfreq:
            raise ValueError(f"Epochs sampled at {sfreq} Hz, the classifier was fitted at "
                             f"{self.encoder_.sfreq_hz} Hz")
        fitted = getattr(self.encoder_, "n_samples_", None)
        if (fitted is not None and self.encoder_.num_steps is not None
                and arr.shape[2] != int(fitted)):
            # (a 2-D X is [n, features, 1]): another length would be squeezed or stretched
            # to the fixed number of steps, another time scale than the one trained on
            # (with spikes_per_s or one step per sample the steps follow the length)
            raise ValueError(f"SNNClassifier.predict: X holds windows of {arr.shape[2]} "
                             f"sample(s) per channel, the classifier was fitted on windows "
                             f"of {int(fitted)}")
        spikes = self._encode(arr, names, 1_000_003, sfreq)
        logits = []
        for start in range(0, arr.shape[0], 1000):
            out = self.model_(spikes[:, start:start + 1000])
            logits.append(np.array(out["logits"], dtype=np.float64))
        mx.eval(self.model_.parameters())
        return np.concatenate(logits, axis=0)

    def decision_function(self, X: Any) -> np.ndarray:
        """Readout logits ``[n_epochs, n_classes]``; for two classes the scikit-learn
        convention ``[n_epochs]``: logit of ``classes_[1]`` minus that of ``classes_[0]``."""
        logits = self._logits(X)
        if len(self.classes_) <= 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n_epochs, n_classes]``: softmax of the readout."""
        logits = self._logits(X)
        if len(self.classes_) == 1:
            return np.ones((logits.shape[0], 1))
        return softmax(logits)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each epoch (values of ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Accuracy on ``X``; for MNE Epochs, ``y=None`` takes the labels from their events
        (as :meth:`fit` does, so ``cross_val_score(clf, epochs)`` scores without ``y``)."""
        if y is None:
            y = _epochs_labels(X, "score")
        return float(super().score(X, y, sample_weight=sample_weight))

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        """Picklable state (for joblib, ``n_jobs``, saving): the trained network is stored
        as its config and NumPy weights (its neurons hold MLX closures)."""
        state = dict(self.__dict__)
        model = state.pop("model_", None)
        if model is not None:
            from mlx.utils import tree_flatten

            weights: Any = tree_flatten(model.parameters())  # [(name, array)]
            state["_model_record"] = {"config": model.config,
                                      "weights": {k: np.array(v) for k, v in weights}}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        record = state.pop("_model_record", None)
        self.__dict__.update(state)
        if record is not None:
            import mlx.core as mx
            from mlx.utils import tree_unflatten

            model = build_model(record["config"])
            model.update(tree_unflatten([(k, mx.array(v))
                                         for k, v in record["weights"].items()]))
            model.eval()
            self.model_ = model


def _epochs_labels(X: Any, what: str) -> np.ndarray:
    """``[n_epochs]`` labels (``event_id`` names) of Epochs or a list of them; ``ValueError``
    for anything else (only Epochs carry their labels)."""
    parts = _epochs_list(X) or ([X] if is_epochs(X) else None)
    if parts is None:
        raise ValueError(f"SNNClassifier.{what} requires y to be passed, but the target y is "
                         "None (only MNE Epochs carry their labels)")
    labels_of = [epochs_data(p) for p in parts]
    return np.concatenate([np.asarray(n)[c] for _, c, n, _, _ in labels_of])


def _epochs_list(X: Any) -> list[Any] | None:
    """``X`` as a list of Epochs when it is a non-empty list/tuple of them, else ``None``."""
    if isinstance(X, (list, tuple)) and X and all(is_epochs(x) for x in X):
        return list(X)
    return None


def _concat_epochs(parts: list[Any], what: str) -> tuple[np.ndarray, list[str], float]:
    """``(X [B, C, N] float32 µV, ch_names, sfreq)`` of several Epochs (same channels and
    rate, else ``ValueError`` naming the first that differs)."""
    arrays, names, sfreq = [], None, None
    for k, ep in enumerate(parts):
        arr, _, _, ch, rate = epochs_data(ep)
        if names is None or sfreq is None:
            names, sfreq = ch, rate
        elif ch != names or abs(rate - sfreq) > 1e-6 * rate:
            raise ValueError(f"SNNClassifier.{what}: Epochs {k} has other channels or another "
                             f"sampling rate than Epochs 0 ({len(ch)} ch at {rate} Hz vs "
                             f"{len(names)} at {sfreq} Hz)")
        arrays.append(arr)
    assert names is not None and sfreq is not None
    return np.concatenate(arrays, axis=0), names, sfreq


class _NamedWindows:
    """Array windows that carry channel names and a rate, read by ``EEGEncoder`` like MNE."""

    def __init__(self, data: np.ndarray, names: list[str], sfreq: float | None) -> None:
        self._data = data
        self.ch_names = list(names)
        self.info = {"sfreq": sfreq}

    def get_data(self) -> np.ndarray:
        return self._data
