"""keras.ops.numpy on JAX: NumPy's API with Keras's defaults and dtype rules."""

from kerasish.ops import _arrays, _elementwise, _reductions
from kerasish.ops._arrays import *  # noqa: F403
from kerasish.ops._elementwise import *  # noqa: F403
from kerasish.ops._reductions import *  # noqa: F403

__all__ = sorted({*_arrays.__all__, *_elementwise.__all__, *_reductions.__all__})
