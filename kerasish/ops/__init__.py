"""``kerasish.ops``: Keras 3's ``keras.ops`` on JAX.

Each op is its JAX function at trace time (a thin layer over ``jax.numpy`` / ``jax.nn`` / ``jax.lax`` /
``jax.image``, with Keras's semantics only where they differ); on symbolic ``KerasTensor``s it records a node
of the functional graph instead (``kerasish.ops._dispatch``).
"""

from kerasish.ops import core, image, linalg, math, nn, numpy
from kerasish.ops.core import *  # noqa: F403
from kerasish.ops.linalg import *  # noqa: F403
from kerasish.ops.math import *  # noqa: F403
from kerasish.ops.nn import *  # noqa: F403
from kerasish.ops.numpy import *  # noqa: F403

__all__ = [*core.__all__, *linalg.__all__, *math.__all__, *nn.__all__, *numpy.__all__, "image", "linalg", "nn",
           "numpy"]
