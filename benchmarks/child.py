"""One measurement in a fresh process: ``python -m benchmarks.child '<json spec>'``.

The runner (``benchmarks.run``) starts one of these per (workload, variant, repeat,
mode), so compilation caches, allocator state and peak memory never leak from one
measurement into the next. The result is printed as one line ``BENCH_RESULT {json}``.

Spec keys: ``workload``, ``variant``, ``mode`` (``"throughput"``, ``"first_step"`` or
``"probe"``), ``samples``, ``epochs``, ``cache_dir`` (``None``: persistent compilation
cache off).

A Keras variant's child imports only ``jax``, ``numpy``, ``keras`` and this package's ``workloads``
(which imports its frameworks lazily): the ``keras_nightly`` variants run it with the Python of a venv
that has ``keras-nightly`` and nothing of kerasish's (``benchmarks/nightly.py``).

Timing conventions (all ``time.perf_counter``):

* ``t0`` is taken after imports, data generation and JAX backend start-up, just before
  the model is constructed. Everything after it (model construction, compile, tracing,
  XLA compilation, the first step) counts toward "first step".
* throughput: epochs (or evaluate/predict calls) 2..E, from the end of the warm-up epoch
  to the end of the last one, each end taken once its result was on the host.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("jax", "jaxlib", "flax", "optax", "keras", "keras-nightly", "numpy", "kerasish"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _configure_cache(cache_dir: str | None) -> dict:
    """Persistent compilation cache: off unless a directory is given. Returns what was found and set."""
    import jax

    found = {"dir_after_imports": jax.config.jax_compilation_cache_dir,
             "enabled_after_imports": bool(jax.config.jax_enable_compilation_cache)}
    if cache_dir is None:
        jax.config.update("jax_enable_compilation_cache", False)
    else:
        jax.config.update("jax_enable_compilation_cache", True)
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        # Cache every program, however small or quick to compile (the same rule for all frameworks).
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    found["dir"] = cache_dir
    return found


def _device_info() -> dict:
    import jax

    d = jax.devices()[0]
    return {"platform": d.platform, "device_kind": d.device_kind, "device_count": jax.device_count()}


def _device_peak_mb() -> float | None:
    import jax

    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - not every backend has memory stats
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20


# ---------------------------------------------------------------------------------------------
# kerasish and Keras: the same driver, with each framework's Callback base class.
# ---------------------------------------------------------------------------------------------
def _framework(variant: str):
    """(build, compile, Callback base, steps_per_execution) for a kerasish or Keras variant."""
    from benchmarks import workloads

    spe = None
    if "_spe" in variant:
        spe = int(variant.rsplit("_spe", 1)[1])
    if variant.startswith("kerasish"):
        import kerasish

        return workloads.build_kerasish, workloads.compile_kerasish, kerasish.callbacks.Callback, spe
    import keras

    return workloads.build_keras, workloads.compile_keras, keras.callbacks.Callback, spe or 1


class Batches:
    """The data as a re-iterable of ``(x, y)`` batches (``x`` alone without ``y``): the ``kerasish_gen*``
    variants. Each pass draws a new order when ``shuffle`` (as fit does over arrays) and gathers its batches
    on the host, one per step, the last one short."""

    def __init__(self, x, y, batch_size: int, shuffle: bool):
        import numpy as np

        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return -(-self.x.shape[0] // self.batch_size)

    def __iter__(self):
        import numpy as np

        n = self.x.shape[0]
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for i in range(0, n, self.batch_size):
            index = order[i:i + self.batch_size]
            yield self.x[index] if self.y is None else (self.x[index], self.y[index])


def _run_framework(w, variant: str, mode: str, x, y, epochs: int, t0_ref: list) -> dict:
    build, compile_fn, Callback, spe = _framework(variant)
    stream = variant.startswith("kerasish_gen")  # the same data as batches from Python
    if variant.startswith("kerasish_gen_pf"):  # prefetch depth forced
        import kerasish

        kerasish.config.set_prefetch(int(variant.removeprefix("kerasish_gen_pf")))

    class FirstStep(Callback):
        """Blocks on the first batch's loss, notes the time, and stops training."""

        def __init__(self):
            super().__init__()
            self.seconds = None

        def on_train_batch_end(self, batch, logs=None):
            if self.seconds is None:
                float(logs["loss"])
                self.seconds = time.perf_counter() - t0_ref[0]
                self.model.stop_training = True

    class EpochEnds(Callback):
        """Notes when each epoch's loss is on the host (epoch logs are floats; float() makes sure)."""

        def __init__(self):
            super().__init__()
            self.ends = []

        def on_epoch_end(self, epoch, logs=None):
            float(logs["loss"])
            self.ends.append(time.perf_counter())

    t0_ref[0] = time.perf_counter()
    model = build(w)
    compile_fn(model, spe)
    bs = w.batch_size
    if w.task == "train":
        data = {"x": Batches(x, y, bs, shuffle=True)} if stream else {"x": x, "y": y, "batch_size": bs}
        if mode == "first_step":
            cb = FirstStep()
            model.fit(**data, epochs=1, verbose=0, callbacks=[cb])
            return {"first_s": cb.seconds}
        cb = EpochEnds()
        model.fit(**data, epochs=epochs, verbose=0, callbacks=[cb])
        return {"first_s": None, "ends": cb.ends, "samples_per_epoch": x.shape[0]}

    ends = []
    for _ in range(epochs):
        if w.task == "evaluate":
            data = {"x": Batches(x, y, bs, shuffle=False)} if stream else {"x": x, "y": y, "batch_size": bs}
            float(model.evaluate(**data, verbose=0))
        else:
            data = {"x": Batches(x, None, bs, shuffle=False)} if stream else {"x": x, "batch_size": bs}
            out = model.predict(**data, verbose=0)
            assert out.shape == (x.shape[0], w.num_classes), out.shape
        ends.append(time.perf_counter())
    return {"first_s": ends[0] - t0_ref[0], "ends": ends, "samples_per_epoch": x.shape[0]}


def _run_handwritten(w, variant: str, x, y, epochs: int, t0_ref: list) -> dict:
    from benchmarks import handwritten, workloads

    name = variant.removeprefix("hw_")
    factory = lambda: workloads.build_nnx(w)
    t0_ref[0] = time.perf_counter()
    if w.task == "train":
        return handwritten.train(name, factory, x, y, w.batch_size, epochs, t0_ref[0])
    return handwritten.infer(w.task, name, factory, x, y, w.batch_size, epochs, t0_ref[0])


def measure(spec: dict) -> dict:
    """Run one measurement described by ``spec`` (see the module docstring)."""
    load_start = os.getloadavg()
    mode = spec["mode"]
    variant = spec.get("variant", "")
    if variant.startswith("keras") and not variant.startswith("kerasish"):
        os.environ["KERAS_BACKEND"] = "jax"
    if mode == "probe":
        import jax

        return {"ok": True, "device": _device_info(), "versions": _versions(), "cpu_count": os.cpu_count(),
                "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                "jax_backend": jax.default_backend()}

    from benchmarks import workloads

    w = workloads.WORKLOADS[spec["workload"]]
    x, y = workloads.make_data(w, spec["samples"])
    epochs = spec["epochs"]
    # Import the framework under test (and nothing else) before the clock starts.
    if variant.startswith("kerasish"):
        import kerasish  # noqa: F401
    elif variant.startswith("keras"):
        import keras  # noqa: F401
    else:
        import flax.nnx  # noqa: F401
        import optax  # noqa: F401
    import jax

    cache = _configure_cache(spec.get("cache_dir"))
    device = _device_info()
    jax.block_until_ready(jax.numpy.zeros(()))  # backend start-up is not part of "first step"
    base_rss = _rss_mb()
    t0_ref = [time.perf_counter()]
    if variant.startswith("hw_"):
        res = _run_handwritten(w, variant, x, y, epochs, t0_ref)
    else:
        res = _run_framework(w, variant, mode, x, y, epochs, t0_ref)

    out = {"ok": True, "workload": w.name, "variant": variant, "mode": mode, "samples": spec["samples"],
           "epochs": epochs, "first_step_s": res.get("first_s"), "samples_per_s": None, "timed_seconds": None,
           "peak_rss_mb": _peak_rss_mb(), "base_rss_mb": base_rss, "device_peak_mb": _device_peak_mb(),
           "device": device, "cache": cache, "loadavg_start": load_start, "loadavg_end": os.getloadavg()}
    if variant.startswith("keras") and not variant.startswith("kerasish"):
        import keras

        out["keras_version"] = keras.__version__  # 3.15 here, 3.16 dev in the nightly venv
    out["python"] = sys.executable
    cache["dir_at_end"] = jax.config.jax_compilation_cache_dir
    cache["enabled_at_end"] = bool(jax.config.jax_enable_compilation_cache)
    ends = res.get("ends")
    if mode == "throughput" and ends:
        out["epoch_ends_s"] = [e - t0_ref[0] for e in ends]
        if len(ends) >= 2:
            out["timed_seconds"] = ends[-1] - ends[0]
            out["samples_timed"] = res["samples_per_epoch"] * (len(ends) - 1)
            out["samples_per_s"] = out["samples_timed"] / out["timed_seconds"]
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(argv[0])
    result = measure(spec)
    sys.stdout.flush()
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
