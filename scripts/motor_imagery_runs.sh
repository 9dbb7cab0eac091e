#!/usr/bin/env bash
# The motor-imagery runs behind results/pipelines/README.md ("four S001 tasks"): the shipped
# configs with seeds 0, 1, 2 (band_power SNN, CSP + LDA on the same folds), the liquid state
# machine on the same folds and inputs, two reference models (spiking EEGNet on the 21
# channels, and the earlier default: delta code into a dense layer), and a second baseline,
# tangent space + logistic regression (baseline ts_lr, the riemann extra: pip install -e
# ".[riemann]"), beside the seed-0 SNN on the same folds. Run folders go to runs/;
# results/pipelines/summarize.py turns them into summary.json.
#   bash scripts/motor_imagery_runs.sh [TASK ...]     (default: all four tasks)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=("${@:-imagery_lr real_lr imagery_ff real_ff}")
read -r -a TASKS <<< "${TASKS[*]}"
LSM='model={type: lsm, reservoir: {n_neurons: 500, topology: {kind: random, p: 0.1}, frac_excitatory: 0.8, spectral_radius: 0.9, input_connectivity: 0.3, input_gain: 1.0, neuron: {model: Leaky, beta: 0.95, threshold: 1.0}, seed: 0}, features: {kind: counts, bins: 4}, readout: {type: ridge, alpha: [0.1, 1, 10, 100, 1000, 10000]}}'
EEGNET_ENC='encoder={method: direct, spikes_per_s: 80, bands: null, polarity: signed, gain: 1.0, spatial_filter: null}'
DELTA_ENC='encoder={method: delta, threshold: 2.0, bands: [[mu, 8, 13], [beta, 13, 30]], spikes_per_s: 40, spatial_filter: null, polarity: signed}'
train() { .venv/bin/eegsnn train --no-progress --overwrite "$@" 2>&1 | grep -E "held-out|baseline|train:" || true; }
for task in "${TASKS[@]}"; do
  cfg="configs/eegmmidb_${task}.yaml"
  for seed in 0 1 2; do
    echo "== $task band_power seed $seed"
    train --config "$cfg" --out "runs/mi_${task}-seed${seed}" --set "train.seed=${seed}"
  done
  echo "== $task tangent space + LR baseline (beside the seed-0 SNN)"
  train --config "$cfg" --out "runs/mi_${task}-tslr" --set "baseline=ts_lr" --report none
  echo "== $task lsm"
  train --config "$cfg" --out "runs/mi_${task}-lsm" --set "$LSM" --report none
  echo "== $task spiking_eegnet (21 channels, direct, no CSP)"
  train --config "$cfg" --out "runs/mi_${task}-eegnet" --set "$EEGNET_ENC" \
    --set "model={family: spiking_eegnet, kernel_s: 0.4}" --set "train.optimizer.learning_rate=0.002" \
    --set "train.augment={crop_steps: 240, noise: 0.1, scale: 0.2}" --report none
  echo "== $task earlier default (delta code, 84-32-2)"
  train --config "$cfg" --out "runs/mi_${task}-delta" --set "$DELTA_ENC" \
    --set "model={hidden: [32], readout: mean, dropout: 0.1}" --set "train.epochs=80" \
    --set "train.optimizer.learning_rate=0.002" --report none
done
