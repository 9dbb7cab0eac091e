r"""Exchange feedforward spiking networks with the Neuromorphic Intermediate Representation.

NIR (https://neuroir.org, the ``nir`` package, optional extra ``eegsnn[nir]``) describes
neurons by continuous-time ODEs; eegsnn simulates discrete-time recurrences with a step
``dt``. This module converts between the two with one documented mapping (``docs/nir.md``):

.. code-block:: python

    from eegsnn.interop.nir import export_nir, import_nir, save_nir, load_nir

    graph = export_nir(model, dt_s=1e-3)          # SpikingNet -> nir.NIRGraph
    save_nir(model, "net.nir", dt_s=1e-3)         # ... written to HDF5 (atomic)
    model2 = load_nir("net.nir")                  # -> SpikingNet, same outputs
    model3 = import_nir(other_graph, dt_s=1e-4)   # a graph from another tool: give dt

The mapping
-----------
Every NIR neuron used here integrates ``tau dv/dt = (v_leak - v) + r I``. Over one step
``dt`` both discretisations eegsnn supports give the same form

.. math::

    v[t] = \beta\,v[t-1] + (1 - \beta)\,(v_\mathrm{leak} + r\,I[t]),

with :math:`\beta = 1 - \Delta t/\tau` (``method="euler"``, forward Euler: what snnTorch,
Norse and Spyx use, the default) or :math:`\beta = e^{-\Delta t/\tau}` (``method="exp"``,
exact decay with the input held over the step). eegsnn's ``Leaky`` adds its input with gain
1 (:math:`U[t] = \beta U[t-1] + X[t]`), so export writes

.. math::

    \tau = \frac{\Delta t}{1-\beta}\ (\text{euler}) \text{ or } \frac{-\Delta t}{\ln\beta}\
    (\text{exp}), \qquad r = \frac{1}{1 - \beta}, \qquad v_\mathrm{leak} = 0,

(for ``euler`` this is snnTorch's ``tau = dt/(1-beta)``, ``r = tau/dt``), and import folds
the input gain :math:`g = (1-\beta)\,r` and the leak drive :math:`(1-\beta) v_\mathrm{leak}`
into the weights and bias of the preceding ``Affine``/``Linear`` (exactly; a diagonal linear
layer is inserted when there is none). ``CubaLIF`` adds the synapse
``tau_syn dI/dt = -I + w_in S`` with :math:`\alpha` from ``tau_syn`` the same way and
``w_in = 1/(1-alpha)``; the membrane uses the *new* current (synapse first, as snnTorch's
``Synaptic``). ``IF``: :math:`dv/dt = r I`, so ``r = 1/dt``. In the native form non-spiking
readouts (``reset_mechanism="none"``) become ``LI`` / ``I`` / ``CubaLI``.

Resets. NIR has one reset: on :math:`v > v_\mathrm{thr}` emit a spike and set
:math:`v \leftarrow v_\mathrm{reset}` at once. eegsnn's ``Leaky``/``IF`` ``"zero"`` reset
gives the same spikes with the default delayed reset (the stored trace shows the
pre-reset value at spike steps) and is exported exactly. ``Synaptic``'s delayed ``"zero"``
(snnTorch's) clears the whole next membrane, input included: not NIR; ``reset_delay=False``
is. ``"subtract"`` (the default of eegsnn and snnTorch) has no one-node NIR form; the
default ``form="portable"`` writes it exactly as a ``CubaLIF`` whose synaptic current holds
the membrane (its own membrane memoryless, ``tau_mem = dt``) with a loop feeding
``-thr`` times the previous step's spikes back, and a non-spiking integrator (the readout)
as an identity ``Linear`` with a ``beta`` loop: forms snnTorch 1.0 and Norse 1.1 import and
run with the same spikes and predictions (``tests/peers``; cycles carry one step of delay,
the discrete backends' convention). ``form="native"`` writes one NIR neuron node per layer
(``LI`` readout) and refuses the subtract reset (:class:`~eegsnn.errors.ConfigError`) or,
with ``on_unsupported="warn"``, writes NIR's reset-to-zero with a :class:`RuntimeWarning`.
The original eegsnn neuron config is always kept in the node's ``metadata["eegsnn"]``
(JSON), so an eegsnn round trip is exact while other tools run what the NIR nodes say.
:func:`export_reservoir` writes an LSM reservoir the same way.

The graph's ``metadata["eegsnn"]`` records ``dt_s``, ``method``, the readout and the input
shape; :func:`import_nir` uses them unless overridden. A graph from another tool has no
``dt_s``: pass it (snnTorch writes its graphs with ``dt = 1e-4``).

:func:`simulate_nir` is an independent NumPy (float64) simulator of the NIR semantics above
(any graph, cycles with one step of delay), used to check exports against what a NIR
backend would run.

Modules: :mod:`~eegsnn.interop.nir.mapping` (the discretisations, ``tau`` <-> ``beta``, how a
graph is read), :mod:`~eegsnn.interop.nir.export` (:func:`export_nir`, :func:`export_reservoir`,
:func:`save_nir`),
:mod:`~eegsnn.interop.nir.importer` (:func:`nir_to_config`, :func:`import_nir`,
:func:`load_nir`), :mod:`~eegsnn.interop.nir.simulate` (:func:`simulate_nir`).
"""

from eegsnn.interop.nir.export import export_nir, export_reservoir, save_nir
from eegsnn.interop.nir.importer import import_nir, load_nir, nir_to_config
from eegsnn.interop.nir.mapping import METHODS, beta_to_tau, tau_to_beta
from eegsnn.interop.nir.simulate import simulate_nir

__all__ = [
    "METHODS",
    "beta_to_tau",
    "export_nir",
    "export_reservoir",
    "import_nir",
    "load_nir",
    "nir_to_config",
    "save_nir",
    "simulate_nir",
    "tau_to_beta",
]
