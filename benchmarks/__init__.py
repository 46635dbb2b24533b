"""Side-by-side speed benchmarks: kerasish vs hand-written flax.nnx + optax vs Keras 3 (JAX backend).

Run ``python -m benchmarks.run --help``; see ``benchmarks/README.md`` for what is measured.
"""
