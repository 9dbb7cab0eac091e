"""Training engine: losses, regularisers, the (compiled) step, the loop, checkpoints."""

from eegsnn.train.checkpoint import load_checkpoint, read_checkpoint_state, save_checkpoint
from eegsnn.train.config import TrainConfig
from eegsnn.train.data import (
    ArrayDataset,
    BatchSource,
    StreamedBatches,
    epoch_order,
    oversample,
    rate_encoder,
    split_indices,
    step_seed,
)
from eegsnn.train.loop import EvalResult, FitResult, evaluate, fit
from eegsnn.train.losses import (
    ce_count,
    ce_membrane,
    get_loss,
    mse_count,
    rate_regularizer,
    readout,
)
from eegsnn.train.step import build_optimizer, make_eval_step, make_train_step

__all__ = [
    "ArrayDataset",
    "BatchSource",
    "EvalResult",
    "FitResult",
    "StreamedBatches",
    "TrainConfig",
    "build_optimizer",
    "ce_count",
    "ce_membrane",
    "epoch_order",
    "evaluate",
    "fit",
    "get_loss",
    "load_checkpoint",
    "make_eval_step",
    "make_train_step",
    "mse_count",
    "oversample",
    "rate_encoder",
    "rate_regularizer",
    "read_checkpoint_state",
    "readout",
    "save_checkpoint",
    "split_indices",
    "step_seed",
]
