"""``Progbar``: a text progress bar for custom loops (Keras's ``keras.utils.Progbar``)."""

from __future__ import annotations

import logging
import sys
import time

import numpy as np

from kerasish.errors import ConfigError


def _write(text: str, line_done: bool) -> None:
    """To stdout while interactive logging is on (see ``kerasish.config``), else to the ``kerasish`` logger."""
    from kerasish import settings

    if settings._INTERACTIVE_LOGGING:
        sys.stdout.write(text)
        sys.stdout.flush()
    elif line_done and text.strip():
        logging.getLogger("kerasish").info(text.strip("\r\n"))


class Progbar:
    """A progress bar with running averages of the values it is given.

    Args:
        target: the total number of steps, or None if unknown.
        width: the width of the bar, in characters.
        verbose: 0 (silent), 1 (a bar redrawn in place) or 2 (one line when the target is reached).
        interval: the least time between two redraws, in seconds.
        stateful_metrics: names of values shown as given (not averaged over steps).
        stateless_metrics: the other way round: only these names are averaged, all others shown as given.
        unit_name: the unit shown in the timing (``"step"``).

    Example:
        >>> bar = kerasish.utils.Progbar(100)
        >>> for step in range(100):
        ...     bar.update(step + 1, values=[("loss", 0.5)])
    """

    def __init__(self, target, width: int = 20, verbose: int = 1, interval: float = 0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name: str = "step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ConfigError("Progbar: give stateful_metrics or stateless_metrics, not both.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = set(stateless_metrics) if stateless_metrics is not None else None
        self._dynamic = bool(getattr(sys.stdout, "isatty", lambda: False)()) or "ipykernel" in sys.modules
        self._seen_so_far = 0
        self._values: dict[str, list] = {}
        self._start = time.time()
        self._last_update = 0.0
        self._prev_width = 0

    def _averaged(self, name: str) -> bool:
        if self.stateless_metrics is not None:
            return name in self.stateless_metrics
        return name not in self.stateful_metrics

    def update(self, current: int, values=None, finalize: bool | None = None) -> None:
        """Move the bar to step ``current``; ``values`` is a list of ``(name, value)`` pairs."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        steps = max(current - self._seen_so_far, 1)
        for name, value in values or []:
            value = np.asarray(value, dtype=np.float64).mean() if not isinstance(value, str) else value
            if self._averaged(name) and not isinstance(value, str):
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * steps, count + steps]
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current
        now = time.time()
        if self.verbose == 1:
            if not finalize and now - self._last_update < self.interval:
                return
            self._last_update = now
            line = self._bar(current) + self._timing(current, now, finalize) + self._metrics()
            pad = max(self._prev_width - len(line), 0)
            self._prev_width = len(line)
            _write(("\r" if self._dynamic else "\n") + line + " " * pad + ("\n" if finalize else ""), finalize)
        elif self.verbose == 2 and finalize:
            _write(self._bar(current, bar=False) + self._timing(current, now, True) + self._metrics() + "\n", True)

    def add(self, n: int, values=None) -> None:
        """Advance the bar by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    def _bar(self, current: int, bar: bool = True) -> str:
        if self.target is None:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        text = f"{current:{digits}d}/{self.target}"
        if bar:
            filled = int(self.width * min(current / max(self.target, 1), 1.0))
            arrow = ">" if filled < self.width else "="
            text += " [" + "=" * max(filled - 1, 0) + (arrow if filled else "") + "." * (self.width - filled) + "]"
        return text

    def _timing(self, current: int, now: float, finalize: bool) -> str:
        elapsed = now - self._start
        per_unit = elapsed / current if current else 0.0
        if finalize or self.target is None:
            return f" {elapsed:.0f}s {per_unit * 1e3:.0f}ms/{self.unit_name}"
        return f" - ETA: {per_unit * (self.target - current):.0f}s"

    def _metrics(self) -> str:
        parts = []
        for name, (value, count) in self._values.items():
            if isinstance(value, str):
                parts.append(f" - {name}: {value}")
            else:
                mean = value / max(count, 1)
                parts.append(f" - {name}: {mean:.4f}" if abs(mean) > 1e-3 else f" - {name}: {mean:.4e}")
        return "".join(parts)
