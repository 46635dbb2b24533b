"""``Config``: a dict whose entries are also attributes, which can be frozen (Keras's ``keras.utils.Config``)."""

from __future__ import annotations

import copy
import difflib
import json

from kerasish.errors import ConfigError

_OWN = frozenset({"_config", "_frozen"})


class Config:
    """Settings held as attributes (``config.learning_rate``) and as items (``config["learning_rate"]``).

    ``freeze()`` makes it read-only (a write raises ConfigError) until ``unfreeze()``.

    Example:
        >>> config = kerasish.utils.Config(learning_rate=0.1, momentum=0.9)
        >>> config.epochs = 10
        >>> config.freeze()
        >>> config.as_dict()
        {'learning_rate': 0.1, 'momentum': 0.9, 'epochs': 10}
    """

    def __init__(self, **kwargs):
        object.__setattr__(self, "_config", dict(kwargs))
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self) -> bool:
        """Whether the config is read-only."""
        return self._frozen

    def freeze(self) -> None:
        """Make the config read-only."""
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        """Make the config writable again."""
        object.__setattr__(self, "_frozen", False)

    def _check_writable(self) -> None:
        if self._frozen:
            raise ConfigError("Cannot mutate attribute(s) because the config is frozen.")

    def as_dict(self) -> dict:
        """A shallow copy of the entries as a dict."""
        return copy.copy(self._config)

    def to_json(self) -> str:
        """The entries as a JSON string."""
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def get(self, keyname, value=None):
        return self._config.get(keyname, value)

    def pop(self, *args):
        self._check_writable()
        return self._config.pop(*args)

    def update(self, *args, **kwargs) -> None:
        self._check_writable()
        self._config.update(*args, **kwargs)

    def __setattr__(self, name, value) -> None:
        if name in _OWN or hasattr(type(self), name):
            raise ConfigError(f"Config: {name!r} is a method or property of Config, not a settable entry.")
        self._check_writable()
        self._config[name] = value

    def __getattr__(self, name):
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        msg = f"Unknown attribute: '{name}'."
        close = difflib.get_close_matches(name, list(config), n=1, cutoff=0.7)
        if close:
            msg += f" Did you mean '{close[0]}'?"
        raise AttributeError(msg)

    def __setitem__(self, key, item) -> None:
        self._check_writable()
        self._config[key] = item

    def __getitem__(self, key):
        return self._config[key]

    def __delitem__(self, key) -> None:
        self._check_writable()
        del self._config[key]

    def __contains__(self, item) -> bool:
        return item in self._config

    def __iter__(self):
        return iter(sorted(self._config))

    def __len__(self) -> int:
        return len(self._config)

    def __repr__(self) -> str:
        return f"<Config {self._config}>"
