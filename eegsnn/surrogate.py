r"""Surrogate gradients: a Heaviside spike forward, a smooth derivative backward.

A spiking neuron emits :math:`S = H(x)` with :math:`x = U - U_\mathrm{thr}` (membrane minus
threshold) and the Heaviside step

.. math:: H(x) = 1 \text{ if } x > 0 \text{ else } 0,

so a membrane exactly *at* threshold does **not** spike (the same ``x > 0`` test as
snnTorch 1.0). :math:`H` has zero derivative almost everywhere, which stops
backpropagation; a surrogate keeps the exact forward pass and replaces
:math:`\partial S/\partial x` in the backward pass by the derivative of a smooth function.

Every surrogate here is built with :func:`mlx.core.custom_function` and a real VJP (and JVP),
so it works with :func:`mlx.core.grad`, :func:`mlx.nn.value_and_grad`, :func:`mlx.core.compile`
and :func:`mlx.core.vmap`. Hyperparameters are Python floats captured by the function: they
are constants, not trained. The derivative scalings are snnTorch 1.0's, so hyperparameters
carry over unchanged:

==========================  ===================================================  ===========
factory                     backward :math:`\partial S/\partial x`                default
==========================  ===================================================  ===========
``fast_sigmoid(slope)``     :math:`1 / (1 + k|x|)^2`                              k = 25
``atan(alpha)``             :math:`(\alpha/2) / (1 + (\pi \alpha x / 2)^2)`       α = 2
``sigmoid(slope)``          :math:`k\,\sigma(kx)\,(1 - \sigma(kx))`               k = 25
``triangular(width)``       :math:`\max(0, 1 - |x|/w) / w`                        w = 1
``straight_through()``      :math:`1`
``custom(grad_fn)``         user-defined
==========================  ===================================================  ===========

``atan(alpha=2)`` is the default surrogate of every eegsnn neuron, as in snnTorch 1.0.

``triangular`` deliberately differs from ``snntorch.surrogate.triangular``: snnTorch's
backward returns :math:`+U_\mathrm{thr}` for every :math:`x < 0` and
:math:`-U_\mathrm{thr}` for :math:`x \ge 0` (a sign-flipped, non-local gradient); here it is
the usual triangle (Esser et al. 2016; Bellec et al. 2018) of half-width ``width`` and unit
area.

Example::

    import eegsnn                       # before mlx.core (fast BLAS)
    import mlx.core as mx
    from eegsnn import surrogate

    spike_fn = surrogate.fast_sigmoid(slope=25.0)
    x = mx.array([-0.1, 0.0, 0.2])
    spike_fn(x)                          # array([0, 0, 1])
    mx.grad(lambda v: spike_fn(v).sum())(x)   # 1 / (1 + 25|x|)^2
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import mlx.core as mx

from eegsnn.errors import ConfigError

__all__ = [
    "Surrogate",
    "atan",
    "custom",
    "fast_sigmoid",
    "get",
    "heaviside",
    "sigmoid",
    "straight_through",
    "triangular",
]


def heaviside(x: mx.array) -> mx.array:
    """Spike forward pass: ``1`` where ``x > 0``, else ``0``, in ``x``'s float dtype.

    Args:
        x: Any shape; usually membrane minus threshold.

    Returns:
        Array of ``x``'s shape; float32 for integer or boolean input.
    """
    dtype = x.dtype if mx.issubdtype(x.dtype, mx.floating) else mx.float32
    return (x > 0).astype(dtype)


def _positive(name: str, value: float, factory: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"surrogate.{factory}: {name} must be a number, got {value!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"surrogate.{factory}: {name} must be a finite number > 0, got {value}")
    return value


class Surrogate:
    """A spike function ``x -> H(x)`` with a custom derivative, callable like a function.

    Instances are what the factories (:func:`fast_sigmoid`, :func:`atan`, ...) return.

    Attributes:
        name: Factory name, e.g. ``"fast_sigmoid"`` (``"custom"`` for :func:`custom`).
        params: Hyperparameters as a dict of floats, e.g. ``{"slope": 25.0}``; together with
            ``name`` they rebuild the surrogate via :func:`get` (for configs).

    Args:
        name: See above.
        params: See above.
        derivative: ``x -> dS/dx``, elementwise, used by the VJP and JVP.
        vjp: Optional full VJP ``(x, cotangent, spikes) -> grad``; overrides ``derivative``
            in the backward pass (snnTorch's ``custom_surrogate`` calling convention).
    """

    def __init__(
        self,
        name: str,
        params: dict[str, float],
        derivative: Callable[[mx.array], mx.array],
        vjp: Callable[[mx.array, mx.array, mx.array], mx.array] | None = None,
    ) -> None:
        self.name = name
        self.params = dict(params)
        self.derivative = derivative

        @mx.custom_function
        def spike(x: mx.array) -> mx.array:
            return heaviside(x)

        if vjp is None:

            @spike.vjp
            def _spike_vjp(x: mx.array, cotangent: mx.array, output: mx.array) -> mx.array:
                return (cotangent * derivative(x)).astype(x.dtype)

        else:

            @spike.vjp
            def _spike_vjp(x: mx.array, cotangent: mx.array, output: mx.array) -> mx.array:
                return mx.array(vjp(x, cotangent, output)).astype(x.dtype)

        @spike.jvp
        def _spike_jvp(x: mx.array, tangent: mx.array) -> mx.array:
            return (tangent * derivative(x)).astype(x.dtype)

        self._fn = spike

    def __call__(self, x: mx.array) -> mx.array:
        """``H(x)`` (``x > 0``), with this surrogate's derivative in the backward pass."""
        return self._fn(x)  # type: ignore[return-value]  # mlx stubs: custom_function returns object

    def grad(self, x: mx.array) -> mx.array:
        """The surrogate derivative ``dS/dx`` evaluated elementwise at ``x`` (for plots/tests)."""
        return self.derivative(x)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"surrogate.{self.name}({args})"


def fast_sigmoid(slope: float = 25.0) -> Surrogate:
    r"""Fast-sigmoid surrogate (Zenke & Ganguli 2018, SuperSpike; snnTorch's ``fast_sigmoid``).

    Backward: :math:`\partial S/\partial x = 1 / (1 + k|x|)^2` with :math:`k` = ``slope``
    (the derivative of :math:`x / (1 + k|x|)` up to scale; peak 1 at :math:`x = 0`).

    Args:
        slope: Steepness :math:`k` > 0 (1/threshold units). snnTorch default 25.
    """
    k = _positive("slope", slope, "fast_sigmoid")

    def derivative(x: mx.array) -> mx.array:
        return 1.0 / mx.square(1.0 + k * mx.abs(x))

    return Surrogate("fast_sigmoid", {"slope": k}, derivative)


def atan(alpha: float = 2.0) -> Surrogate:
    r"""Arctangent surrogate (Fang et al. 2021; snnTorch's ``atan``, the default of its neurons).

    Backward: :math:`\partial S/\partial x = (\alpha/2) / (1 + (\pi \alpha x / 2)^2)`, the
    derivative of :math:`\arctan(\pi \alpha x / 2)/\pi + 1/2`; peak :math:`\alpha/2` at 0.

    Args:
        alpha: Width parameter :math:`\alpha` > 0. snnTorch default 2.
    """
    a = _positive("alpha", alpha, "atan")
    half_a = a / 2.0
    scale = math.pi * a / 2.0

    def derivative(x: mx.array) -> mx.array:
        return half_a / (1.0 + mx.square(scale * x))

    return Surrogate("atan", {"alpha": a}, derivative)


def sigmoid(slope: float = 25.0) -> Surrogate:
    r"""Sigmoid surrogate (snnTorch's ``sigmoid``).

    Backward: :math:`\partial S/\partial x = k\,\sigma(kx)(1 - \sigma(kx))
    = k e^{-kx} / (1 + e^{-kx})^2`, the derivative of :math:`\sigma(kx)`; peak :math:`k/4`.

    Args:
        slope: Steepness :math:`k` > 0. snnTorch default 25.
    """
    k = _positive("slope", slope, "sigmoid")

    def derivative(x: mx.array) -> mx.array:
        # sigma(kx) * sigma(-kx) == sigma(kx) (1 - sigma(kx)), without float32 cancellation
        kx = k * x
        return k * mx.sigmoid(kx) * mx.sigmoid(-kx)

    return Surrogate("sigmoid", {"slope": k}, derivative)


def triangular(width: float = 1.0) -> Surrogate:
    r"""Triangular (piecewise-linear) surrogate (Esser et al. 2016; Bellec et al. 2018).

    Backward: :math:`\partial S/\partial x = \max(0, 1 - |x|/w) / w` with :math:`w` =
    ``width``: a triangle of half-width :math:`w` and unit area, zero for :math:`|x| \ge w`.
    (Not snnTorch's ``triangular``, whose backward is sign-flipped; see the module docs.)

    Args:
        width: Half-width :math:`w` > 0, in the units of membrane minus threshold.
    """
    w = _positive("width", width, "triangular")

    def derivative(x: mx.array) -> mx.array:
        return mx.maximum(1.0 - mx.abs(x) / w, 0.0) / w

    return Surrogate("triangular", {"width": w}, derivative)


def straight_through() -> Surrogate:
    r"""Straight-through estimator (Bengio et al. 2013): :math:`\partial S/\partial x = 1`."""

    def derivative(x: mx.array) -> mx.array:
        return mx.ones_like(x)

    return Surrogate("straight_through", {}, derivative)


def custom(grad_fn: Callable[..., mx.array]) -> Surrogate:
    r"""A surrogate with a user-defined backward pass.

    ``grad_fn`` may have either signature:

    * ``grad_fn(x) -> dS/dx``: the surrogate derivative, elementwise (the VJP multiplies it
      by the incoming gradient); e.g. ``lambda x: 1 / (1 + 10 * mx.abs(x)) ** 2``.
    * ``grad_fn(x, grad_output, spikes) -> grad_x``: snnTorch's ``custom_surrogate``
      convention, the whole VJP (``spikes`` is the forward output). The JVP then uses
      ``grad_fn(x, 1, spikes)`` as the derivative.

    Args:
        grad_fn: Callable of one or three positional arguments returning an array of
            ``x``'s shape (or broadcastable to it).

    Raises:
        ConfigError: ``grad_fn`` is not callable or takes neither 1 nor 3 arguments.
    """
    if not callable(grad_fn):
        raise ConfigError(f"surrogate.custom: grad_fn must be callable, got {grad_fn!r}")
    try:
        params = [
            p
            for p in inspect.signature(grad_fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        n_args = len(params)
    except (TypeError, ValueError):  # builtins without a signature: assume derivative form
        n_args = 1
    if n_args == 1:
        return Surrogate("custom", {}, lambda x: grad_fn(x))
    if n_args == 3:

        def derivative(x: mx.array) -> mx.array:
            return grad_fn(x, mx.ones_like(x), heaviside(x))

        return Surrogate("custom", {}, derivative, vjp=grad_fn)
    raise ConfigError(
        "surrogate.custom: grad_fn must take 1 argument (x -> dS/dx) or 3 arguments "
        f"(x, grad_output, spikes -> grad_x), got {n_args}"
    )


_FACTORIES: dict[str, Callable[..., Surrogate]] = {
    "fast_sigmoid": fast_sigmoid,
    "atan": atan,
    "sigmoid": sigmoid,
    "triangular": triangular,
    "straight_through": straight_through,
}


def get(spec: str | Surrogate | Callable | None = None, **params: float) -> Surrogate | Callable:
    """Resolve a surrogate from a name (configs), an instance, or ``None`` (the default).

    Args:
        spec: ``None`` -> ``atan(alpha=2.0)`` (snnTorch 1.0's default); a name among
            ``fast_sigmoid, atan, sigmoid, triangular, straight_through`` (built with
            ``params``); a :class:`Surrogate` or any callable ``x -> spikes`` (returned as is).
        **params: Hyperparameters for a named surrogate, e.g. ``slope=25``.

    Raises:
        ConfigError: Unknown name, bad hyperparameters, or ``params`` given with a non-name.
    """
    if spec is None:
        return atan(**params) if params else atan()
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        if key not in _FACTORIES:
            raise ConfigError(
                f"unknown surrogate {spec!r}; expected one of {', '.join(sorted(_FACTORIES))}"
            )
        try:
            return _FACTORIES[key](**params)
        except TypeError as exc:
            raise ConfigError(f"surrogate {key!r}: bad parameters {params}: {exc}") from exc
    if params:
        raise ConfigError("surrogate parameters can only be given together with a surrogate name")
    if callable(spec):
        return spec
    raise ConfigError(f"surrogate must be a name, a callable or None, got {spec!r}")
