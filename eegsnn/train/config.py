"""Training configuration: a validated record built from a plain dict (JSON/YAML).

Example (the MNIST reference run)::

    {"epochs": 25, "batch_size": 128, "seed": 0,
     "optimizer": {"type": "adam", "learning_rate": 1e-3},
     "loss": {"type": "ce_membrane", "reduce": "final"}}

Fields are documented on :class:`TrainConfig`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eegsnn.errors import ConfigError
from eegsnn.train.augment import validate_augment
from eegsnn.train.losses import get_loss
from eegsnn.train.step import build_optimizer


def _is_number(v: Any) -> bool:
    """An int/float (NumPy scalars too), not a bool and not a string: ``1e-3`` in a YAML
    config is a float (:class:`eegsnn.io.files.ConfigLoader`); a string ``"1e-3"`` (quoted,
    or from Python) is refused, as it failed inside training (it was taken for a number)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _quoted_number(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        return math.isfinite(float(v))
    except ValueError:
        return False


#: value kinds of :func:`check_types`: (test, how the error names it)
VALUE_KINDS: dict[str, tuple[Any, str]] = {
    "int": (lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
            "an integer"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "mapping": (lambda v: isinstance(v, Mapping), "a mapping"),
    "list": (lambda v: isinstance(v, list | tuple), "a list"),
    "null": (lambda v: v is None, "null"),
}


def check_types(data: Mapping[str, Any], schema: Mapping[str, str], where: str) -> None:
    """Check the type of every value of ``data`` that ``schema`` names.

    Args:
        data: a (nested) config mapping.
        schema: dotted key -> kinds joined by ``|`` (see :data:`VALUE_KINDS`), e.g.
            ``{"optimizer.learning_rate": "number", "schedule": "mapping|null"}``. A key
            absent from ``data``, or under a value that is not a mapping, is skipped (the
            parent's own entry checks that).
        where: prefix of the error (e.g. ``"train config: "``, ``"study.yaml: train."``).

    Raises:
        ConfigError: one line naming the key, the value and the expected type, e.g.
            ``train config: optimizer.learning_rate must be a number, got 'fast' (str)``.
    """
    for key, kinds in schema.items():
        node: Any = data
        parts = key.split(".")
        for part in parts:
            if not isinstance(node, Mapping) or part not in node:
                break
            node = node[part]
        else:
            names = kinds.split("|")
            if not any(VALUE_KINDS[k][0](node) for k in names):
                expected = " or ".join(VALUE_KINDS[k][1] for k in names)
                hint = ("; write it without quotes" if "number" in names
                        and _quoted_number(node) else "")
                raise ConfigError(f"{where}{key} must be {expected}, got {node!r} "
                                  f"({type(node).__name__}){hint}")


#: value types of the train config (checked before anything reads the values)
TRAIN_TYPES: dict[str, str] = {
    "epochs": "int", "batch_size": "int", "seed": "int", "optimizer": "mapping",
    "optimizer.type": "str", "optimizer.learning_rate": "number",
    "optimizer.weight_decay": "number", "optimizer.momentum": "number",
    "schedule": "mapping|null", "schedule.type": "str", "loss": "mapping|str",
    "loss.type": "str", "regularizer": "mapping|null", "regularizer.low": "number",
    "regularizer.high": "number", "regularizer.weight_low": "number",
    "regularizer.weight_high": "number", "grad_clip": "number|null",
    "val_fraction": "number", "early_stopping": "mapping|null",
    "early_stopping.patience": "int", "early_stopping.metric": "str",
    "early_stopping.min_delta": "number", "early_stopping.restore_best": "bool",
    "compile": "bool", "engine": "str", "drop_last": "bool", "eval_batch_size": "int",
    "log_every": "int", "checkpoint_every": "int", "augment": "mapping|null",
}

#: Training-step implementations (see :class:`TrainConfig`).
ENGINES = ("auto", "mlx", "fused")
EARLY_STOP_METRICS = ("val_loss", "val_accuracy", "val_balanced_accuracy")


def _python_numbers(value: Any) -> Any:
    """``value`` with NumPy scalars (``np.int64(5)`` from a sweep over ``np.arange``,
    ``np.float64``, ``np.bool_``) as Python ones and tuples as lists (what the saved config
    reads back as: a resume compares them), inside mappings and lists too."""
    if isinstance(value, Mapping):
        return {k: _python_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_python_numbers(v) for v in value]
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()  # (NumPy is not imported here)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | int):
        return int(value)
    return value


@dataclass
class TrainConfig:
    """How to train.

    Attributes:
        epochs: number of passes over the training set.
        batch_size: samples per step.
        seed: seeds weights init, data order, encodings and dropout.
        optimizer: ``{"type": name, "learning_rate": lr, ...}`` (:mod:`mlx.optimizers`;
            weight decay: ``{"type": "adamw", "weight_decay": 1e-2}``).
        schedule: optional learning-rate schedule ``{"type": "cosine_decay", ...}``.
        loss: ``{"type": "ce_count" | "ce_membrane" | "mse_count", ...}``.
        regularizer: optional rate-regulariser options (``low``, ``high``, ``weight_low``,
            ``weight_high``), see :func:`eegsnn.train.losses.rate_regularizer`.
        grad_clip: maximum global gradient norm, or ``None``.
        val_fraction: fraction of the training set held out for validation (stratified);
            0 to use none (or pass a validation set to :func:`~eegsnn.train.loop.fit`).
        early_stopping: optional ``{"patience": int, "metric": "val_loss"|"val_accuracy"|
            "val_balanced_accuracy", "min_delta": float, "restore_best": bool}``.
        compile: compile the training step (:func:`mlx.core.compile`).
        engine: ``"auto"`` (default: the fused CPU step of :mod:`eegsnn.train.fused` when
            the model and encoder are eligible, else the MLX step), ``"mlx"`` (always the
            MLX step, :func:`~eegsnn.train.step.make_train_step`) or ``"fused"`` (an error
            when not eligible). The two draw different rate-coding spikes for one seed.
        drop_last: drop the last incomplete batch of an epoch (keeps one compiled shape).
        eval_batch_size: batch size of evaluation passes.
        log_every: steps between progress-bar updates (the only host reads in an epoch).
        checkpoint_every: epochs between checkpoints (0: only at the end).
        augment: optional training-batch augmentation ``{"crop_steps": int, "scale": float,
            "noise": float, "channel_dropout": float}`` (:mod:`eegsnn.train.augment`); the
            MLX step applies it, so it selects that engine.
    """

    epochs: int = 25
    batch_size: int = 128
    seed: int = 0
    optimizer: dict[str, Any] = field(default_factory=lambda: {"type": "adam",
                                                                "learning_rate": 1e-3})
    schedule: dict[str, Any] | None = None
    loss: dict[str, Any] = field(default_factory=lambda: {"type": "ce_membrane",
                                                           "reduce": "final"})
    regularizer: dict[str, float] | None = None
    grad_clip: float | None = None
    val_fraction: float = 0.0
    early_stopping: dict[str, Any] | None = None
    compile: bool = True
    engine: str = "auto"
    drop_last: bool = True
    eval_batch_size: int = 1000
    log_every: int = 50
    checkpoint_every: int = 1
    augment: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # NumPy numbers (np.int64(3)) as Python ones,
            setattr(self, f.name, _python_numbers(getattr(self, f.name)))  # nested too
        check_types(dataclasses.asdict(self), TRAIN_TYPES, "train config: ")
        for name in ("epochs", "batch_size", "eval_batch_size", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"train config: {name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"train config: seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ConfigError("train config: checkpoint_every must be an integer >= 0")
        lr = self.optimizer.get("learning_rate", 1e-3)
        if not 0 <= float(lr) < math.inf:
            raise ConfigError(f"train config: optimizer.learning_rate must be a finite number "
                              f">= 0, got {lr!r}")
        if not 0.0 <= float(self.val_fraction) < 1.0:
            raise ConfigError(f"train config: val_fraction must be in [0, 1), got "
                              f"{self.val_fraction}")
        if self.grad_clip is not None and not 0 < float(self.grad_clip) < math.inf:
            raise ConfigError(f"train config: grad_clip must be a finite number > 0 (or null "
                              f"for none), got {self.grad_clip}")
        try:  # every option of both, before any data is read (a cheap object)
            build_optimizer(self.optimizer, self.schedule)
        except ConfigError as exc:
            raise ConfigError(f"train config: {exc}") from None
        self.augment = validate_augment(self.augment)
        if self.engine not in ENGINES:
            raise ConfigError(f"train config: engine must be one of {', '.join(ENGINES)}, "
                              f"got {self.engine!r}")
        get_loss(self.loss)
        if self.regularizer is not None:
            allowed = {"low", "high", "weight_low", "weight_high"}
            extra = set(self.regularizer) - allowed
            if extra:
                raise ConfigError(f"train config: regularizer has unknown option(s) "
                                  f"{sorted(extra)}; allowed: {sorted(allowed)}")
        if self.early_stopping is not None:
            es = self.early_stopping
            allowed = {"patience", "metric", "min_delta", "restore_best"}
            extra = set(es) - allowed
            if extra:
                raise ConfigError(f"train config: early_stopping has unknown option(s) "
                                  f"{sorted(extra)}; allowed: {sorted(allowed)}")
            if es.get("metric", "val_loss") not in EARLY_STOP_METRICS:
                raise ConfigError(f"train config: early_stopping metric must be one of "
                                  f"{', '.join(EARLY_STOP_METRICS)}")
            patience = es.get("patience", 5)
            if not isinstance(patience, int) or patience < 1:
                raise ConfigError("train config: early_stopping patience must be an int >= 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainConfig:
        """Build from a dict; unknown keys are a :class:`ConfigError` naming them."""
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - names
        if extra:
            raise ConfigError(f"train config: unknown key(s) {sorted(extra)}; allowed: "
                              f"{sorted(names)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
