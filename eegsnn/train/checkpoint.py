"""Checkpoints: weights and optimizer state as safetensors, plus the config that built them.

A checkpoint is a folder::

    checkpoint/
      model.safetensors       model parameters (flattened names, e.g. ``layers.0.weight``)
      optimizer.safetensors   optimizer state (Adam moments, step, learning rate)
      state.json              format version, model config, train config, epoch/step
                              counters, seed, history, early-stopping state, and the
                              sha256 of the two safetensors files (``sha256``)

It is written into a temporary sibling folder and swapped in with ``os.replace``, so a run
killed while saving leaves the previous checkpoint intact. :func:`load_checkpoint` refuses a
checkpoint whose model config differs from the model it is loaded into (``ConfigError``),
and one whose safetensors files no longer have the sha256 that ``state.json`` recorded when
it was written ("checkpoint <file> changed since it was written", ``DataError``: a resumed
run never continues from edited weights). Checkpoints written before the record pass.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, cast

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten, tree_unflatten

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import current_umask, json_default, sha256_file

FORMAT = "eegsnn-checkpoint"
VERSION = 1
TENSOR_FILES = ("model.safetensors", "optimizer.safetensors")




def publish_mode(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a temp file/folder (created 0600/0700 by ``tempfile``) the usual permissions
    (0666/0777 minus the umask) before it is moved into place."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def _model_config(model: nn.Module) -> dict[str, Any] | None:
    return getattr(model, "config", None)


def save_checkpoint(directory: str | os.PathLike, model: nn.Module,
                    optimizer: optim.Optimizer | None = None,
                    state: dict[str, Any] | None = None) -> Path:
    """Save ``model`` (+ ``optimizer`` and a JSON-able ``state`` dict) to ``directory``.

    ``state`` typically holds ``epoch``, ``global_step``, ``seed``, ``train_config``,
    ``history``; the model config and the current MLX RNG key are added here.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.tmp-"))
    try:
        weights = dict(tree_flatten(model.parameters()))
        mx.save_safetensors(str(tmp / "model.safetensors"), weights)
        if optimizer is not None:
            opt_state = dict(tree_flatten(optimizer.state))
            mx.save_safetensors(str(tmp / "optimizer.safetensors"),
                                {k: mx.array(v) for k, v in opt_state.items()})
        record = {
            "format": FORMAT,
            "version": VERSION,
            "model_config": _model_config(model),
            # Every PRNG stream of training (data order, encodings, dropout) is derived from
            # (seed, epoch, step) - see eegsnn.train.data - so no global RNG state is needed
            # to resume; the scheme is recorded for readers.
            "rng": "numpy SeedSequence([seed, epoch]) order, SeedSequence([seed, epoch, step])"
                   " step keys",
            **(state or {}),
            "sha256": {name: sha256_file(tmp / name) for name in TENSOR_FILES
                       if (tmp / name).is_file()},
        }
        (tmp / "state.json").write_text(json.dumps(record, indent=2, default=json_default)
                                        + "\n", encoding="utf-8")
        publish_mode(tmp, directory=True)
        old = None
        if directory.exists():
            old = directory.parent / f".{directory.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_checkpoint_state(directory: str | os.PathLike) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint (raises ``DataError`` if missing or corrupt)."""
    path = Path(directory) / "state.json"
    if not path.is_file():
        raise DataError(f"{path}: checkpoint state not found")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: corrupt checkpoint state ({exc})") from exc
    if record.get("format") != FORMAT:
        raise DataError(f"{path}: not an eegsnn checkpoint (format={record.get('format')!r})")
    if record.get("version", 0) > VERSION:
        raise DataError(f"{path}: checkpoint version {record['version']} is newer than this "
                        f"eegsnn supports ({VERSION})")
    return record


def _load_tensors(path: Path) -> dict[str, mx.array]:
    """The tensors of a safetensors file, refused (naming the file and the first bad
    tensor) when unreadable or holding NaN/infinite values: no training step writes those
    (a diverging run stops before its checkpoint), so the file is corrupt or was altered."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        # A .safetensors file without return_metadata loads as a dict (mx.load's stub
        # returns the union over all formats).
        tensors = cast("dict[str, mx.array]", mx.load(str(path)))
    except (RuntimeError, ValueError, OSError) as exc:
        raise DataError(f"corrupt checkpoint {path}: cannot read safetensors ({exc})") from exc
    for name, value in tensors.items():
        if mx.issubdtype(value.dtype, mx.floating) and not bool(mx.all(mx.isfinite(value))):
            kind = "NaN" if bool(mx.any(mx.isnan(value))) else "infinite"
            raise DataError(f"corrupt checkpoint {path}: {kind} weights in {name}; restore "
                            "the file or train the run again (--overwrite)")
    return tensors


def load_checkpoint(directory: str | os.PathLike, model: nn.Module,
                    optimizer: optim.Optimizer | None = None) -> dict[str, Any]:
    """Load weights (and optimizer state) into ``model``/``optimizer`` in place.

    Returns:
        The checkpoint's ``state.json`` record.

    Raises:
        ConfigError: the checkpoint was made by a model with a different config, or its
            parameter names/shapes do not match ``model``.
        DataError: missing or corrupt files.
    """
    directory = Path(directory)
    record = read_checkpoint_state(directory)
    saved_config = record.get("model_config")
    config = _model_config(model)
    if saved_config is not None and config is not None and saved_config != config:
        raise ConfigError(f"{directory}: checkpoint was saved from a different model config "
                          f"(saved layers: {_summary(saved_config)}; this model: "
                          f"{_summary(config)})")
    weights = _load_tensors(directory / "model.safetensors")  # (NaN: "corrupt checkpoint")
    verify_checkpoint(directory, record)
    expected = dict(tree_flatten(model.parameters()))
    if set(weights) != set(expected):
        missing, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
        raise ConfigError(f"{directory}: checkpoint parameters do not match the model "
                          f"(missing {missing}, unexpected {extra})")
    for name, value in weights.items():
        if value.shape != expected[name].shape:
            raise ConfigError(f"{directory}: parameter {name} has shape {list(value.shape)} in "
                              f"the checkpoint but {list(expected[name].shape)} in the model")
    model.update(tree_unflatten(list(weights.items())))
    if optimizer is not None:
        opt_path = directory / "optimizer.safetensors"
        if opt_path.is_file():
            optimizer.state = tree_unflatten(list(_load_tensors(opt_path).items()))
    mx.eval(model.parameters())
    return record


def verify_checkpoint(directory: str | os.PathLike, record: dict[str, Any] | None = None
                      ) -> None:
    """Check the checkpoint's safetensors files against the sha256 its ``state.json``
    recorded when it was written (``record``: that state, read when ``None``).

    Raises:
        DataError: "checkpoint <file> changed since it was written" (or is missing).
    """
    directory = Path(directory)
    record = read_checkpoint_state(directory) if record is None else record
    digests = record.get("sha256") or {}
    if not isinstance(digests, dict):
        raise DataError(f"{directory / 'state.json'}: corrupt checkpoint state (sha256 is "
                        "not a mapping)")
    for name, digest in sorted(digests.items()):
        path = directory / str(name)
        if not path.is_file():
            raise DataError(f"checkpoint {path} is missing (state.json lists it); restore "
                            "it or train the run again (--overwrite)")
        if sha256_file(path) != digest:
            raise DataError(f"checkpoint {path} changed since it was written (its sha256 "
                            "differs from state.json); restore it or train the run again "
                            "(--overwrite)")


def _summary(config: dict[str, Any]) -> str:
    layers = config.get("layers", [])
    parts = []
    for layer in layers:
        size = layer.get("out_features") or layer.get("out_channels")
        parts.append(f"{layer.get('type')}{'(' + str(size) + ')' if size else ''}")
    return "-".join(parts) or "?"
