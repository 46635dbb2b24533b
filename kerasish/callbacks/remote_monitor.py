"""RemoteMonitor: post every epoch's logs to an HTTP server (Keras's arguments), with the standard library."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from kerasish.callbacks.base import Callback


class RemoteMonitor(Callback):
    """Sends ``{"epoch": epoch, **logs}`` to ``root + path`` with an HTTP POST at the end of every epoch.

    By default the body is a form field, ``field=<the JSON text>`` (``application/x-www-form-urlencoded``,
    as Keras sends it); ``send_as_json=True`` sends the JSON itself (``application/json``). An unreachable
    server gives a warning, not an error, so training goes on.

    Args:
        root: the server's root URL.
        path: the path the events are posted to.
        field: the form field holding the JSON text.
        headers: extra HTTP headers, a dict.
        send_as_json: send the JSON as the body instead of a form field.
        timeout: seconds to wait for the server (a kerasish addition; Keras waits as long as it takes).
    """

    def __init__(self, root: str = "http://localhost:9000", path: str = "/publish/epoch/end/", field: str = "data",
                 headers: dict | None = None, send_as_json: bool = False, timeout: float = 10.0):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json
        self.timeout = timeout

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            # NumPy or JAX scalars are not JSON: send their Python value
            send[key] = np.asarray(value).item() if hasattr(value, "__array__") else value
        if self.send_as_json:
            body, content_type = json.dumps(send).encode(), "application/json"
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode()
            content_type = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.root + self.path, data=body, method="POST",
                                         headers={"Content-Type": content_type, **(self.headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as err:
            warnings.warn(f"RemoteMonitor: could not reach the server at {self.root} ({err}).", stacklevel=2)
