"""Saves that fail: leftovers of killed saves are removed by the next save, and a full disk (or a file-size
limit) during any save is one StorageError saying "no space left" and where, with the old file intact."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import StorageError
from kerasish.saving import files

pytestmark = pytest.mark.faults  # the fault-injection suite: python -m pytest -m faults

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_model(trained: bool = True):
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", steps_per_execution=1)
    if trained:
        model.fit(np.ones((4, 4), "float32"), np.zeros((4, 2), "float32"), batch_size=4, verbose=0)
    return model


def temps(directory) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


# -- leftovers of interrupted saves ------------------------------------------------------------------
KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from kerasish.saving import files

    def write(f):
        f.write(b"x" * 100_000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)  # killed here, mid-write

    files.atomic_write(sys.argv[1], write)
""")


@pytest.mark.faults
def test_the_next_save_removes_leftovers_of_killed_saves_but_not_a_live_writers(tmp_path):
    target = tmp_path / "m.kerasish"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE,
                             text=True, env=ENV, cwd=ROOT)
    assert child.stdout.readline().strip() == "writing"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed = temps(tmp_path)
    assert len(killed) == 1 and f".{child.pid}@" in killed[0] and not target.exists()

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = files._HOST
        live_temp = tmp_path / f".m.kerasish.{live.pid}@{host}.0badc0de.tmp"
        other_host = tmp_path / f".m.kerasish.{child.pid}@some-other-host.0badc0de.tmp"
        old_style = tmp_path / ".m.kerasish.0123456789ab.tmp"  # kerasish before the pid in the name
        fresh_old_style = tmp_path / ".m.kerasish.ba9876543210.tmp"
        other_file = tmp_path / ".other.kerasish.0123456789ab.tmp"  # another destination's
        not_ours = tmp_path / ".m.kerasish.notours.tmp"
        for p in (live_temp, other_host, old_style, fresh_old_style, other_file, not_ours):
            p.write_bytes(b"partial")
        hour_ago = time.time() - 3600
        for p in (old_style, other_file):
            os.utime(p, (hour_ago, hour_ago))

        make_model(trained=False).save(target)
        assert kerasish.models.load_model(target).count_params() == 58
        left = temps(tmp_path)
        assert killed[0] not in left and old_style.name not in left  # the dead writer's and the old one
        # A live writer's, another host's, a fresh old-style one, another destination's and a foreign name stay.
        assert left == sorted(p.name for p in (live_temp, other_host, fresh_old_style, other_file, not_ours))
    finally:
        live.kill()
        live.wait()


def test_a_temp_this_process_is_writing_is_never_removed(tmp_path):
    target = tmp_path / "w.weights.safetensors"
    seen = {}

    def write(f):
        (mine,) = temps(tmp_path)
        seen["removed"] = files.remove_leftover_temps(target)  # e.g. another thread saving to the same place
        seen["still"] = temps(tmp_path) == [mine]
        f.write(b"data")

    files.atomic_write(target, write)
    assert seen == {"removed": [], "still": True} and target.read_bytes() == b"data" and temps(tmp_path) == []
    # Once its writer is done (a leftover of this process, e.g. its unlink failed), it is removed.
    leftover = tmp_path / f".w.weights.safetensors.{os.getpid()}@{files._HOST}.00000000.tmp"
    leftover.write_bytes(b"x")
    assert files.remove_leftover_temps(target) == [str(leftover)]


# -- a full disk --------------------------------------------------------------------------------------
def _full_disk_after(monkeypatch, limit: int):
    """Every file kerasish opens for a save accepts ``limit`` bytes, then fails with ENOSPC."""
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, data):
            self.n += len(data)
            if self.n > limit:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Full(real(fd, *a, **k)))


SAVES = {
    "kerasish": ("m.kerasish", lambda m, p: m.save(p)),
    "keras": ("m.keras", lambda m, p: m.save(p)),
    "weights.h5": ("m.weights.h5", lambda m, p: m.save_weights(p)),
    "safetensors": ("m.weights.safetensors", lambda m, p: m.save_weights(p)),
    "sharded": ("m.weights.json", lambda m, p: m.save_weights(p, max_shard_size=2e-7)),
}


@pytest.mark.parametrize("kind", sorted(SAVES))
@pytest.mark.parametrize("limit", [0, 300])
def test_full_disk_during_any_save_is_one_storage_error_and_the_old_file_survives(tmp_path, monkeypatch, kind,
                                                                                   limit):
    name, save = SAVES[kind]
    model = make_model()
    path = tmp_path / name
    save(model, path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert (len(before) > 2) == (kind == "sharded")
    model.layers[0].kernel.assign(np.zeros((4, 8), "float32"))
    with monkeypatch.context() as patch:
        _full_disk_after(patch, limit)
        with pytest.raises(StorageError, match="no space left") as err:
            save(model, path)
    assert str(path) in str(err.value) or kind == "sharded" and str(tmp_path) in str(err.value)
    assert err.value.errno == errno.ENOSPC and isinstance(err.value, OSError)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old files intact, no temp left


FSIZE_CHILD = textwrap.dedent("""
    import os, resource, signal, sys
    import numpy as np
    import kerasish
    from kerasish import layers

    model = kerasish.Sequential([kerasish.Input(shape=(64,)), layers.Dense(512), layers.Dense(2)])
    out = sys.argv[1]
    model.save(os.path.join(out, "m.keras"))
    model.save_weights(os.path.join(out, "m.weights.json"), max_shard_size=2e-4)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # ulimit -f: EFBIG past 20 KB
    model.layers[0].kernel.assign(np.zeros((64, 512), "float32"))
    for name, save in (("m.keras", model.save), ("m.weights.json", lambda p: model.save_weights(
            p, max_shard_size=1e-3))):
        try:
            save(os.path.join(out, name))
        except kerasish.errors.StorageError as e:
            print(type(e).__name__, e.errno, e)
        else:
            print("saved", name)
""")


@pytest.mark.faults
def test_a_file_size_limit_is_a_storage_error_and_the_old_files_survive(tmp_path):
    done = subprocess.run([sys.executable, "-c", FSIZE_CHILD, str(tmp_path)], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stdout
    for line, name in zip(lines, ("m.keras", "m.weights.json")):
        assert line.startswith(f"StorageError {errno.EFBIG} ") and "no space left" in line, line
        assert str(tmp_path / name) in line or str(tmp_path) in line
    assert temps(tmp_path) == []
    model = kerasish.models.load_model(tmp_path / "m.keras", compile=False)
    assert np.abs(model.layers[0].kernel.numpy()).sum() > 0  # the old file, not the zeros
    model.load_weights(tmp_path / "m.weights.json")
    assert np.abs(model.layers[0].kernel.numpy()).sum() > 0
