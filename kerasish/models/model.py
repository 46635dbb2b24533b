"""Model: a Layer that trains. ``Model(inputs, outputs)`` is functional; subclass it for custom models."""

from __future__ import annotations

import numbers

import jax

from kerasish.backend import StatelessScope
from kerasish.engine.trainer import Trainer
from kerasish.errors import ConfigError, InputError, NotBuiltError
from kerasish.layers.base import Layer
from kerasish.layers.core import InputLayer
from kerasish.layers.symbolic import to_spec

_FUNCTIONAL_SUBCLASSES: dict[type, type] = {}


def _functional_subclass(cls: type) -> type:
    """``cls`` over a functional graph: a subclass of ``cls`` and of Functional (made once per class),
    which a ``cls`` instance becomes when its ``Model.__init__`` gets ``(inputs, outputs)``.
    ``isinstance(model, cls)`` holds and its name is ``cls``'s."""
    made = _FUNCTIONAL_SUBCLASSES.get(cls)
    if made is None:
        made = type(cls.__name__, (cls, Model.functional_class), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                                      "__doc__": cls.__doc__})
        _FUNCTIONAL_SUBCLASSES[cls] = made
    return made


def _functional_arguments(args: tuple, kwargs: dict) -> bool:
    """Keras's test for ``Model(inputs, outputs)``: two positional arguments, or inputs and outputs by name."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


def flatten_struct(s) -> list:
    """A structure's entries in order: dict values in insertion order, list items, or the single item."""
    if isinstance(s, dict):
        return list(s.values())
    if isinstance(s, (list, tuple)):
        return list(s)
    return [s]


def adjust_rank(x, shape):
    """As Keras: data one axis short of an Input's rank gains a trailing axis when that axis is 1; data with
    one extra trailing axis of size 1 loses it."""
    ndim = getattr(x, "ndim", None)
    if ndim is None:
        return x
    if ndim == len(shape) - 1 and shape and shape[-1] == 1:
        return x[..., None]
    if ndim == len(shape) + 1 and x.shape[-1] == 1:
        return x[..., 0]
    return x


def _is_shape(s) -> bool:
    """One shape (dims: ints, None, or symbolic dims of jax.export), not a structure of shapes."""
    return isinstance(s, tuple) and not any(isinstance(d, (tuple, list, dict)) for d in s)


def _known(d) -> bool:
    return isinstance(d, numbers.Integral)


def check_call_shapes(model, input_shape) -> None:
    """Raise InputError when a model called directly (``model(x)``, or as a layer of another model) gets inputs
    that do not fit its Inputs (``model._input_specs()``), before anything is computed; it runs when a step is
    traced, not at every step.

    ``input_shape`` is the call's structure of shapes (one tuple, a list, or a dict by input name). As Keras:
    the batch axis is not compared, ``None`` matches any size, and one missing or one extra trailing axis of
    size 1 is allowed (the call adds or drops it). Refused: another number of inputs, another rank, a known
    size that differs."""
    specs = model._input_specs()
    if not specs:
        return
    names = [n for n, _ in specs]
    if isinstance(input_shape, dict):
        missing = [n for n in names if n not in input_shape]
        if missing:
            raise InputError(f"Model {model.name!r} expects inputs named {names}, but was called with a dict with "
                             f"keys {sorted(input_shape)}.")
        given = [input_shape[n] for n in names]
    elif _is_shape(input_shape):
        given = [input_shape]
    elif isinstance(input_shape, (list, tuple)):
        given = list(input_shape)
    else:
        return
    if len(given) != len(specs):
        raise InputError(f"Model {model.name!r} expects {len(specs)} input(s) {names}, but was called with "
                         f"{len(given)}.")
    for (name, want), got in zip(specs, given):
        if not _is_shape(got):
            continue  # a nested structure for one input: the layers check it
        want = tuple(want)
        adjusted = got
        if len(got) == len(want) - 1 and want and want[-1] == 1:
            adjusted = got + (1,)
        elif len(got) == len(want) + 1 and _known(got[-1]) and got[-1] == 1:
            adjusted = got[:-1]
        if len(adjusted) != len(want) or any(_known(w) and _known(g) and w != g
                                             for w, g in zip(want[1:], adjusted[1:])):
            raise InputError(f"Input {name!r} of model {model.name!r} expects shape {want} (batch first, None: any "
                             f"size; a missing or extra trailing axis of size 1 is allowed), but the model was "
                             f"called on shape {got}.")


class Model(Trainer, Layer):
    """A model: ``compile``, ``fit``, ``evaluate``, ``predict`` over layers.

    Three ways to make one, as in Keras:

    * ``kerasish.Sequential([...])``;
    * functional: ``kerasish.Model(inputs, outputs)`` from ``kerasish.Input`` tensors;
    * subclassing: ``class M(kerasish.Model)`` with layers set in ``__init__`` and a
      ``call(self, x, training=False)``; the model builds on the first data it sees.

    Example:
        >>> inputs = kerasish.Input(shape=(20,))
        >>> outputs = kerasish.layers.Dense(10, activation="softmax")(inputs)
        >>> model = kerasish.Model(inputs, outputs)
    """

    is_model = True  # for saving: a config naming this class describes a whole model
    functional_class: type  # Functional, set by kerasish.models.functional as it is defined
    config_holds_graph = False  # a subclass's config has no layer graph: it builds from its first input

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            return object.__new__(Model.functional_class)
        return object.__new__(cls)

    def __init__(self, *args, name: str | None = None, trainable: bool = True, **kwargs):
        if _functional_arguments(args, kwargs):
            # A subclass constructed as Model(inputs, outputs) (Keras's custom train_step guides do it):
            # it becomes that functional model, with the subclass's methods (as Keras does).
            functional = Model.functional_class
            if not isinstance(self, functional):
                object.__setattr__(self, "__class__", _functional_subclass(type(self)))
            functional.__init__(self, *args, name=name, trainable=trainable, **kwargs)
            return
        if args:
            raise ConfigError("Model(...) takes (inputs, outputs) for a functional model; a subclass takes no "
                              f"positional arguments in super().__init__(), got {len(args)}.")
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self._init_trainer()
        self._build_input_shape = None
        self._output_spec = None

    # -- structure ----------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in ``model.layers``."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ConfigError(f"get_layer: index {index} is out of range for {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"No layer named {name!r} in model {self.name!r}; layers are "
                          f"{[l.name for l in self._layers]}.")

    def build(self, input_shape) -> None:
        """Create the weights by tracing ``call`` on an input of this shape (``None`` for the batch)."""
        if self.built:
            return
        specs = jax.tree.map(lambda s: to_spec(s, "float32", batch=2), input_shape,
                             is_leaf=lambda s: isinstance(s, tuple))

        def run(x):
            with StatelessScope({}, rng=jax.random.PRNGKey(0), training=False):
                return self.call(x, **({"training": False} if self._call_has_training else {}))

        self._output_spec = jax.eval_shape(run, specs)
        self._build_input_shape = input_shape
        self.built = True

    def call(self, inputs, training=False):
        raise ConfigError(f"Model {self.name!r}: a subclassed model must override call(self, inputs, training=False).")

    @property
    def output_names(self) -> list[str]:
        spec = self._output_spec
        if spec is None:
            raise NotBuiltError(f"Model {self.name!r} is not built yet.")
        if isinstance(spec, dict):
            return list(spec)
        if isinstance(spec, (list, tuple)):
            return [f"output_{i + 1}" for i in range(len(spec))]
        return ["output"]

    def _output_shapes(self) -> list[tuple]:
        return [(None,) + tuple(s.shape[1:]) for s in flatten_struct(self._output_spec)]

    def _input_specs(self):
        # A subclassed model's call may accept many input shapes: like Keras, don't check them.
        return None

    def summary(self, line_length: int | None = None, print_fn=None, expand_nested: bool = False,
                show_trainable: bool = False) -> None:
        """Print a table of layers, output shapes and parameter counts (HTML in Jupyter)."""
        from kerasish.models.summary import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable)

    # -- saving (kerasish.saving and kerasish.export do the work) ---------------------------------
    def _saved_compile_config(self) -> dict | None:
        """The compile arguments as Keras 3 serializes them (``serialize_keras_object`` writes this under a
        compiled model's ``compile_config``), or None when not compiled or not serializable (with a warning)."""
        if not self.compiled:
            return None
        from kerasish.saving.compile_config import compile_config

        return compile_config(self)

    def _compile_from_saved_config(self, config: dict, custom_objects: dict) -> None:
        """Compile from a Keras 3 (or kerasish) ``compile_config``, as ``deserialize_keras_object`` does."""
        from kerasish.saving.compile_config import compile_kwargs

        self.compile(**compile_kwargs(config, custom_objects))

    def save(self, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
        """Save architecture, weights, compile arguments and optimizer state to one file.

        ``.keras``: Keras 3's format, which Keras and kerasish both load (``kerasish.models.load_model``);
        ``.kerasish``: kerasish's own (safetensors, a sha256 per member). Both are zip archives without
        pickle or code, written atomically. See :mod:`kerasish.saving.api`.

        Args:
            filepath: a path ending in ``.keras`` or ``.kerasish``.
            overwrite: if False, refuse to replace an existing file.
            zipped: None or True (a model file is always one zip archive).
            **kwargs: ``include_optimizer`` (default True): also save the optimizer state.
        """
        from kerasish.saving.api import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Save the weights to ``.weights.h5`` (Keras 3's format; sharded behind a ``.weights.json`` index with
        ``max_shard_size`` in GB) or ``.weights.safetensors`` (kerasish's)."""
        from kerasish.saving.api import save_weights

        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch: bool = False, **kwargs) -> None:
        """Load weights into this built model from ``.weights.h5``, ``.weights.json`` (sharded), ``.keras``,
        legacy ``.h5`` (``by_name=True`` matches layers by name), ``.weights.safetensors`` or ``.kerasish``.

        Every weight is checked (count, shapes) before any is assigned. With ``skip_mismatch=True`` the
        layers whose saved weights do not fit keep theirs (with a warning).
        """
        from kerasish.saving.api import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (``kerasish.models.model_from_json`` reads it back)."""
        from kerasish.saving.model_file import to_json

        return to_json(self, **kwargs)

    def export(self, filepath, format: str = "jax_export", input_signature=None, platforms=None) -> None:
        """Export the inference function (weights included) for serving without the model's code.

        See :func:`kerasish.export.export_model`; :func:`kerasish.export.load` reads it back.
        """
        from kerasish.export import export_model

        export_model(self, filepath, format=format, input_signature=input_signature, platforms=platforms)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        if "input_layers" in config:
            return Model.functional_class.from_config(config, custom_objects=custom_objects)
        return cls(**config)

    def get_config(self) -> dict:
        """A subclassed model's base config (``name``, ``trainable``, ``dtype``), for a subclass's own
        ``get_config`` to extend with its ``__init__`` arguments (``{**super().get_config(), "units": ...}``),
        as in Keras. A subclass that does not override ``get_config`` cannot be serialized: ConfigError."""
        if type(self).get_config is Model.get_config:
            raise ConfigError(f"Model {self.name!r} is a subclassed model: override get_config() to serialize it "
                              "(Sequential and functional models serialize themselves).")
        return super().get_config()
