"""General spike encoders: defining properties, hand-computed values, NumPy references."""

from __future__ import annotations

import itertools
import warnings

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn.encode import (
    bin_counts,
    bin_mean,
    delta,
    latency,
    latency_times,
    level_crossings,
    rate,
    rate_from_thresholds,
    send_on_delta_counts,
    snr_db,
    uniform16,
)
from eegsnn.errors import ConfigError, DataError

# ------------------------------------------------------------------------------------ rate


def test_rate_empirical_rate_within_binomial_tolerance():
    p = np.array([[0.0, 0.05, 0.3, 0.5, 0.77, 1.0]], dtype=np.float32)
    t = 4000
    spikes = np.asarray(rate(p, t, key=mx.random.key(3)))
    assert spikes.shape == (t, 1, 6)
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    est = spikes.mean(axis=0)[0]
    sd = np.sqrt(p[0] * (1 - p[0]) / t)
    # 5 sigma: fails with probability ~1e-6 per value if the code were right
    assert np.all(np.abs(est - p[0]) <= 5 * sd + 1e-12)
    assert est[0] == 0.0 and est[-1] == 1.0


def test_rate_clips_and_applies_gain_offset():
    x = np.array([-1.0, 0.25, 2.0], dtype=np.float32)
    s = np.asarray(rate(x, 3000, key=1, gain=2.0, offset=0.1))
    est = s.mean(axis=0)
    assert est[0] == 0.0  # clip(-1.9) = 0
    assert est[2] == 1.0  # clip(4.1) = 1
    assert abs(est[1] - 0.6) < 5 * np.sqrt(0.24 / 3000)


def test_rate_reproducible_under_fixed_key_and_differs_across_keys():
    x = np.full((4, 8), 0.4, dtype=np.float32)
    a = np.asarray(rate(x, 50, key=mx.random.key(7)))
    b = np.asarray(rate(x, 50, key=mx.random.key(7)))
    c = np.asarray(rate(x, 50, key=7))  # int seed == mx.random.key(7)
    d = np.asarray(rate(x, 50, key=mx.random.key(8)))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, d)


def test_rate_bad_input():
    with pytest.raises(ConfigError, match="PRNG key"):
        rate(np.ones(3), 5, key=None)
    with pytest.raises(DataError, match="NaN"):
        rate(np.array([0.5, np.nan]), 5, key=0)
    with pytest.raises(ConfigError, match="num_steps"):
        rate(np.ones(3), 0, key=0)


# ------------------------------------------------------------------------------------ latency


def test_latency_linear_normalized_matches_snntorch_example():
    # snntorch.spikegen.latency(tensor([0.02, 0.5, 1]), num_steps=5, normalize=True,
    # linear=True) -> spikes at steps 4, 2, 0 (times 3.92, 2.0, 0.0)
    a = np.array([0.02, 0.5, 1.0], dtype=np.float32)
    times = np.asarray(latency_times(a, 5, normalize=True, linear=True))
    np.testing.assert_allclose(times, [3.92, 2.0, 0.0], atol=1e-6)
    spikes = np.asarray(latency(a, 5, normalize=True, linear=True))
    expected = np.zeros((5, 3))
    expected[4, 0] = expected[2, 1] = expected[0, 2] = 1
    np.testing.assert_array_equal(spikes, expected)


def test_latency_log_times_hand_computed_and_ordering():
    x = np.array([0.2, 0.5, 0.95], dtype=np.float32)
    tau, thr = 10.0, 0.1
    times = np.asarray(latency_times(x, 20, tau=tau, threshold=thr))
    np.testing.assert_allclose(times, tau * np.log(x / (x - thr)), rtol=1e-5)
    spikes = np.asarray(latency(x, 20, tau=tau, threshold=thr))
    first = spikes.argmax(axis=0)
    assert list(first) == [7, 2, 1]  # 10 ln 2 = 6.93, 10 ln 1.25 = 2.23, 10 ln(.95/.85) = 1.11
    assert np.all(spikes.sum(axis=0) == 1)
    assert first[0] > first[1] > first[2]  # larger values fire earlier


def test_latency_below_threshold_last_step_or_clipped():
    x = np.array([0.0, 0.005, 1.0], dtype=np.float32)
    s = np.asarray(latency(x, 10, normalize=True))
    assert list(s.argmax(axis=0)[:2]) == [9, 9]
    sc = np.asarray(latency(x, 10, normalize=True, clip=True))
    assert sc[:, :2].sum() == 0 and sc[:, 2].sum() == 1


def test_latency_log_normalization_is_data_independent():
    a = np.array([[0.3, 0.6]], dtype=np.float32)
    b = np.array([[0.3, 0.6], [0.011, 0.02]], dtype=np.float32)  # extra, very late sample
    ta = np.asarray(latency_times(a, 50, normalize=True))
    tb = np.asarray(latency_times(b, 50, normalize=True))
    np.testing.assert_allclose(ta[0], tb[0])
    assert tb.max() <= 49.0


def test_latency_overflow_and_range_errors():
    x = np.array([0.011], dtype=np.float32)  # log time ~ 2.4 * tau
    with pytest.raises(ConfigError, match="exceeds num_steps"):
        latency(x, 5, tau=10.0)
    dropped = np.asarray(latency(x, 5, tau=10.0, overflow="drop"))
    assert dropped.sum() == 0
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        latency(np.array([1.5]), 5)


# ------------------------------------------------------------------------------------ delta


def test_delta_matches_snntorch_examples():
    a = np.array([1, 2, 2.9, 3, 3.9], dtype=np.float32)
    on = np.asarray(delta(a, 1.0, output="on", initial="zero"))
    np.testing.assert_array_equal(on, [1, 1, 0, 0, 0])
    on = np.asarray(delta(a, 1.0, output="on", initial="first"))
    np.testing.assert_array_equal(on, [0, 1, 0, 0, 0])
    b = np.array([1, 2, 0, 2, 2.9], dtype=np.float32)
    np.testing.assert_array_equal(
        np.asarray(delta(b, 1.0, output="signed", initial="zero")), [1, 1, -1, 1, 0]
    )
    split = np.asarray(delta(b[:, None], 1.0, output="split", initial="zero"))
    assert split.shape == (5, 1, 2)
    np.testing.assert_array_equal(split[:, 0, 0], [1, 1, 0, 1, 0])
    np.testing.assert_array_equal(split[:, 0, 1], [0, 0, 1, 0, 0])


def test_delta_bad_threshold():
    with pytest.raises(ConfigError, match="threshold"):
        delta(np.zeros(4), 0.0)


def _send_on_delta_loop(x: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    r = np.zeros(x.shape[1:])
    on = np.zeros_like(x, dtype=np.float64)
    off = np.zeros_like(on)
    for n in range(x.shape[0]):
        k = np.trunc((x[n] - r) / thr)
        r = r + k * thr
        on[n] = np.maximum(k, 0)
        off[n] = np.maximum(-k, 0)
    return on, off


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    snap=st.booleans(),
)
def test_send_on_delta_matches_sequential_loop(n, seed, snap):
    rng = np.random.default_rng(seed)
    thr = 0.25  # dyadic: no rounding differences between the two formulations
    x = (rng.standard_normal((n, 3)).cumsum(axis=0) * 0.4).astype(np.float32)
    if snap:  # samples exactly on the threshold grid exercise the >= convention
        x[::2] = np.round(x[::2] / thr) * thr
    on, off = send_on_delta_counts(x, thr)
    ref_on, ref_off = _send_on_delta_loop(x.astype(np.float64), thr)
    np.testing.assert_array_equal(np.asarray(on), ref_on)
    np.testing.assert_array_equal(np.asarray(off), ref_off)


def test_send_on_delta_hand_example_and_error_bound():
    x = np.array([0.3, 1.1, 1.0, -0.2, 2.5], dtype=np.float32)
    on, off = send_on_delta_counts(x, 0.5)
    # reference: 0 -> 0 (0.3<0.5) -> 1.0 (2 ON) -> 1.0 -> 0.0 (2 OFF) -> 2.5 (5 ON)
    np.testing.assert_array_equal(np.asarray(on), [0, 2, 0, 0, 5])
    np.testing.assert_array_equal(np.asarray(off), [0, 0, 0, 2, 0])
    recon = 0.5 * np.cumsum(np.asarray(on) - np.asarray(off))
    assert np.all(np.abs(x - recon) < 0.5)


def test_send_on_delta_reconstruction_error_falls_with_threshold():
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 20, 2000))[:, None] + 0.1 * rng.standard_normal((2000, 1))
    snrs = []
    for thr in (0.4, 0.2, 0.1, 0.05):
        on, off = send_on_delta_counts(x.astype(np.float32), thr)
        recon = thr * np.cumsum(np.asarray(on) - np.asarray(off), axis=0)
        assert np.max(np.abs(x - recon)) < thr + 1e-6
        snrs.append(float(snr_db(x, recon)))
    assert all(a < b for a, b in itertools.pairwise(snrs)), snrs


# ------------------------------------------------------------------------------------ levels


def test_level_crossings_numpy_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 2, 3)).astype(np.float32)
    x[5] = 0.5  # exactly on a level
    levels = np.array([-1.0, 0.0, 0.5, 1.0], dtype=np.float32)
    ev = np.asarray(level_crossings(x, levels))
    assert ev.shape == (200, 2, 3, 4, 2)
    prev = np.concatenate([np.zeros((1, 2, 3)), x[:-1]])[..., None]
    cur = x[..., None]
    up = (prev < levels) & (cur >= levels)
    down = (prev >= levels) & (cur < levels)
    np.testing.assert_array_equal(ev[..., 0], up)
    np.testing.assert_array_equal(ev[..., 1], down)
    # the band index recovered from the events equals the true band index
    band = (levels <= 0).sum() + np.cumsum((ev[..., 0] - ev[..., 1]).sum(-1), axis=0)
    np.testing.assert_array_equal(band, (x[..., None] >= levels).sum(-1))


def test_level_crossings_rejects_unsorted_levels():
    with pytest.raises(ConfigError, match="increasing"):
        level_crossings(np.zeros((3, 1)), [0.5, 0.1])


# ------------------------------------------------------------------------------------ binning


def test_bin_counts_downsampling_sums_every_event():
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 3, size=(103, 4)).astype(np.float32)
    out = np.asarray(bin_counts(mx.array(counts), 10, overflow="count"))
    assert out.shape == (10, 4)
    np.testing.assert_array_equal(out.sum(axis=0), counts.sum(axis=0))
    edges = [int(np.ceil(b * 103 / 10)) for b in range(11)]
    ref = np.stack([counts[edges[b] : edges[b + 1]].sum(0) for b in range(10)])
    np.testing.assert_array_equal(out, ref)


def test_bin_counts_upsampling_spreads_events_losslessly():
    counts = np.array([[2], [0], [3], [1]], dtype=np.float32)
    out = np.asarray(bin_counts(mx.array(counts), 12))  # 3 bins per sample
    np.testing.assert_array_equal(out[:, 0], [1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0])


def test_bin_counts_overflow_policies():
    counts = mx.array(np.array([[2], [0], [1]], dtype=np.float32))
    with pytest.raises(ConfigError, match="num_steps >= 6"):
        bin_counts(counts, 3)
    with pytest.warns(RuntimeWarning, match="1 events"):
        clipped = np.asarray(bin_counts(counts, 3, overflow="clip"))
    np.testing.assert_array_equal(clipped[:, 0], [1, 0, 1])
    np.testing.assert_array_equal(
        np.asarray(bin_counts(counts, 3, overflow="count"))[:, 0], [2, 0, 1]
    )
    up = np.asarray(bin_counts(counts, 6, overflow="count"))[:, 0]
    np.testing.assert_array_equal(up, [1, 1, 0, 0, 1, 0])
    up3 = np.asarray(bin_counts(mx.array(np.array([[3.0]])), 2, overflow="count"))[:, 0]
    np.testing.assert_array_equal(up3, [1, 2])  # excess kept in the sample's last bin
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bin_counts(mx.array(np.ones((4, 1), dtype=np.float32)), 4)  # no overflow, no warning


def test_bin_mean_average_and_hold():
    x = mx.array(np.arange(6, dtype=np.float32)[:, None])
    np.testing.assert_allclose(np.asarray(bin_mean(x, 3))[:, 0], [0.5, 2.5, 4.5])
    np.testing.assert_allclose(np.asarray(bin_mean(x, 12))[:, 0], np.repeat(np.arange(6), 2))


def test_snr_db_hand_value():
    ref = np.array([1.0, -1.0, 1.0, -1.0])
    est = ref + 0.1
    assert snr_db(ref, est) == pytest.approx(10 * np.log10(4 / 0.04))


def _splitmix64_low16(stream: int, counter: int) -> int:
    """SplitMix64 output number ``counter`` of ``stream`` in plain Python integers."""
    mask = (1 << 64) - 1
    z = (stream + counter * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) & 0xFFFF


def test_uniform16_is_splitmix64_of_the_key_stream():
    key = mx.random.key(11)
    words = [int(w) for w in np.asarray(key)]
    stream = (words[0] << 32) | words[1]
    u = np.asarray(uniform16(key, (3, 5, 7)))
    assert u.dtype == np.uint32 and u.shape == (3, 5, 7)
    flat = u.reshape(-1)
    for n in (0, 1, 2, 36, 57, 104):
        assert int(flat[n]) == _splitmix64_low16(stream, n)
    np.testing.assert_array_equal(np.asarray(uniform16(11, (3, 5, 7))), u)  # int seed


@pytest.mark.parametrize("shape", [(), (7,), (4, 9), (3, 4, 5), (0, 3)])
def test_rate_same_spikes_from_c_kernel_and_from_mlx_under_compile(shape):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    direct = np.asarray(rate(x, 6, key=5))
    threshold = mx.round(mx.array(x) * 65536.0).astype(mx.uint32)
    traced = np.asarray(mx.compile(lambda q: rate_from_thresholds(q, 6, key=5))(threshold))
    assert direct.shape == traced.shape == (6, *shape)
    np.testing.assert_array_equal(direct, traced)
    # rate() draws on the C kernel when it is built: the same spikes as the MLX operations
    u = np.asarray(uniform16(5, (6, *shape)))
    np.testing.assert_array_equal(direct, (u < np.asarray(threshold)).astype(np.float32))


def test_rate_draws_the_fused_steps_spikes():
    """encode.rate on x / 255 gives the spikes the fused MNIST step draws for the key."""
    from eegsnn.kernels import kernels_available, unavailable_reason
    from eegsnn.kernels import rate_projection as rp

    if not kernels_available():
        pytest.skip(unavailable_reason())
    x = np.random.default_rng(1).integers(0, 256, (16, 49), dtype=np.uint8)
    key = mx.random.key(4)
    fused = rp.rate_spikes(rp.rate_thresholds(x.astype(np.float32) / 255.0),
                           rp.key_to_uint64(np.asarray(key)), 10)
    np.testing.assert_array_equal(np.asarray(rate(x.astype(np.float32) / 255.0, 10, key=key)),
                                  fused.astype(np.float32))


def test_rate_reads_uint8_as_x_over_255_and_never_fires_on_nan():
    x = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    s = np.asarray(rate(x, 4000, key=2))
    np.testing.assert_allclose(s.mean(axis=0)[0], [0, 1 / 255, 128 / 255, 1.0], atol=0.025)
    np.testing.assert_array_equal(np.asarray(rate(mx.array(x), 50, key=2)), s[:50])
    doubled = np.minimum(2.0 * x.astype(np.float32) / 255, 1.0)
    np.testing.assert_array_equal(np.asarray(rate(x, 50, key=2, gain=2.0)),
                                  np.asarray(rate(doubled, 50, key=2)))
    y = np.array([0.5, np.nan, np.inf, -np.inf, 0.5], dtype=np.float32)
    direct = np.asarray(rate(y, 200, key=1, check=False))
    traced = np.asarray(mx.compile(lambda v: rate(v, 200, key=1, check=False))(mx.array(y)))
    np.testing.assert_array_equal(direct, traced)
    np.testing.assert_array_equal(direct.mean(axis=0)[1:4], [0.0, 1.0, 0.0])


def test_rate_keys_and_thresholds_are_checked():
    with pytest.raises(ConfigError, match=r"\[0, 2\*\*64\)"):
        rate(np.ones(3), 5, key=-1)
    np.testing.assert_array_equal(np.asarray(rate(np.full(6, 0.5), 9, key=np.asarray(
        mx.random.key(3)))), np.asarray(rate(np.full(6, 0.5), 9, key=3)))
    with pytest.raises(ConfigError, match="integers in 1/65536 units"):
        rate_from_thresholds(mx.array([0.5, 1.0]), 3, key=0)
    q = np.array([70000, -1, 0, 65536], dtype=np.int64)  # clipped to [0, 65536]
    np.testing.assert_array_equal(np.asarray(rate_from_thresholds(q, 3, key=0)),
                                  np.tile([1.0, 0.0, 0.0, 1.0], (3, 1)))
