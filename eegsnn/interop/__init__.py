"""Interoperability with the tools EEG researchers already use; each part is optional.

* :mod:`eegsnn.interop.nir` — export/import feedforward networks to/from the
  Neuromorphic Intermediate Representation (extra ``nir``; see ``docs/nir.md``).
* :mod:`eegsnn.interop.sklearn` — :class:`~eegsnn.interop.sklearn.SNNClassifier`, a
  scikit-learn estimator over the encoder and training engine (extra ``sklearn``).
* :mod:`eegsnn.interop.mne` — MNE ``Raw``/``Epochs`` to and from
  :class:`~eegsnn.preprocess.WindowSet` (MNE is a core dependency).

Submodules are imported on demand, so a missing extra only matters when it is used; it
then raises :class:`MissingExtraError` with a one-line message naming the extra
(:func:`eegsnn.extras.require`, re-exported here).
"""

from __future__ import annotations

from eegsnn.errors import MissingExtraError
from eegsnn.extras import require

__all__ = ["MissingExtraError", "require"]
