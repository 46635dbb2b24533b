"""The training engine: state pytree, pure step functions, data adapters and loops."""
