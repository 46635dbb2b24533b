"""Faults of ``kerasish run``: concurrent runs, read-only and uncreatable roots, a full disk.

Each file-system failure must end in one ``kerasish run: error: ...`` line with exit code 2 (never a
traceback), and a run directory that exists is marked failed in its ``run.json``.
"""

import datetime
import errno
import fcntl
import json
import os
import struct
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from kerasish import cli as command
from kerasish.errors import ConfigError, StorageError
from kerasish.runs import runner
from kerasish.runs.config import load_recipe

STAMP = "20300102-030405"
FREEZE = """
import datetime, sys, types
from kerasish.runs import runner
class Frozen(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2030, 1, 2, 3, 4, 5)
runner.datetime = types.SimpleNamespace(datetime=Frozen)
"""
CHEAP = ["fit.epochs=1", "data.samples=64"]

pytestmark = pytest.mark.faults


class _Frozen(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2030, 1, 2, 3, 4, 5)


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every run directory is stamped 20300102-030405: a collision is certain, not a matter of timing."""
    monkeypatch.setattr(runner, "datetime", types.SimpleNamespace(datetime=_Frozen))


def _cli_env(project):
    return {**os.environ, "JAX_PLATFORMS": "cpu", "KERASISH_DATA_DIR": str(project / "empty-cache"),
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}


def _stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- read-only places: chmod for a user; root ignores permissions, the immutable attribute holds for it too --
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def _set_immutable(path: Path, on: bool) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        flags = struct.unpack_from("i", buf)[0]
        flags = flags | _FS_IMMUTABLE_FL if on else flags & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, bytearray(struct.pack("i", flags) + bytes(4)), True)
    finally:
        os.close(fd)


class ReadOnly:
    """Makes folders unwritable (for root too) and undoes it at teardown, so tmp_path can be removed."""

    def __init__(self):
        self.done: list[tuple[Path, bool]] = []

    def __call__(self, path: Path) -> Path:
        if os.geteuid() != 0:
            path.chmod(0o555)
            self.done.append((path, False))
        else:
            try:
                _set_immutable(path, True)
            except OSError as e:
                pytest.skip(f"running as root and {path}'s file system has no immutable attribute ({e}): "
                            "nothing else makes a folder read-only for root")
            self.done.append((path, True))
        try:
            (path / ".probe").mkdir()
        except OSError:
            return path
        pytest.skip(f"{path} stays writable after chmod 0o555 / chattr +i on this system")

    def undo(self):
        for path, immutable in reversed(self.done):
            if immutable:
                _set_immutable(path, False)
            else:
                path.chmod(0o755)


@pytest.fixture
def read_only():
    ro = ReadOnly()
    yield ro
    ro.undo()


# -- 1. unique run directories ------------------------------------------------------------------------
def test_run_dirs_made_at_the_same_moment_are_distinct(tmp_path, frozen_clock):
    n = 12
    barrier, made, errors = threading.Barrier(n), [], []

    def make():
        barrier.wait()
        try:
            made.append(runner._new_run_dir(tmp_path / "runs", "tiny"))
        except BaseException as e:  # noqa: BLE001 -- the test reports it
            errors.append(e)

    threads = [threading.Thread(target=make) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in made) == sorted([STAMP] + [f"{STAMP}-{i}" for i in range(1, n)])
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)


def test_a_directory_taken_between_check_and_create_gets_the_next_suffix(tmp_path, frozen_clock, monkeypatch):
    """Another process creates <stamp> after this one looked and before it creates: the next name is taken."""
    real_mkdir = Path.mkdir

    def racing_mkdir(self, *args, **kwargs):
        if self.name == STAMP and not self.exists():
            real_mkdir(self, parents=True)  # the other process wins the race exactly now
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    assert runner._new_run_dir(tmp_path / "runs", "tiny").name == f"{STAMP}-1"


def test_two_runs_started_together_both_complete_in_distinct_directories(project):
    """Two real `kerasish run` processes of one config in the same (frozen) second."""
    args = [sys.executable, "-c", FREEZE + "from kerasish.cli import main\nsys.exit(main())",
            "run", "configs/tiny.yaml", "--root", "out", *CHEAP]
    procs = [subprocess.Popen(args, cwd=project, env=_cli_env(project), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for rc, _, err in results:
        assert rc == 0, err
    dirs = sorted(p.name for p in (project / "out" / "tiny").iterdir())
    assert dirs == [STAMP, f"{STAMP}-1"]
    for name in dirs:
        meta = json.loads((project / "out" / "tiny" / name / "run.json").read_text())
        assert meta["status"] == "completed"
        assert (project / "out" / "tiny" / name / "model.kerasish").is_file()


# -- 2. file-system failures: one line, exit 2 -------------------------------------------------------------
def test_a_read_only_root_is_one_line_and_exit_2(project, read_only, capsys):
    root = project / "ro"
    root.mkdir()
    read_only(root)
    assert command.main(["run", "configs/tiny.yaml", "--root", str(root), *CHEAP]) == 2
    err = _stderr_lines(capsys.readouterr().err)
    assert len(err) == 1, err
    assert err[0].startswith("kerasish run: error: Cannot create the run directory")
    assert str(root / "tiny") in err[0] and ("permission denied" in err[0] or "read-only" in err[0])
    assert sorted(p.name for p in root.iterdir()) == []


@pytest.mark.parametrize("below", ["", "runs"], ids=["root-is-a-file", "root-under-a-file"])
def test_a_root_that_cannot_be_created_is_one_line_and_exit_2(project, capsys, below):
    blocker = project / "a-file"
    blocker.write_text("not a folder")
    root = blocker / below if below else blocker
    assert command.main(["run", "configs/tiny.yaml", "--root", str(root), *CHEAP]) == 2
    err = _stderr_lines(capsys.readouterr().err)
    assert err == [f"kerasish run: error: Cannot create the run directory {str(root / 'tiny')!r}: "
                   f"{str(blocker)!r} is a file, not a directory."]
    assert blocker.read_text() == "not a folder"


def test_a_run_directory_that_turns_read_only_says_it_could_not_be_marked_failed(project, read_only, monkeypatch,
                                                                                capsys):
    made = []

    def new_run_dir(root, name):
        made.append(read_only(real(root, name)))
        return made[-1]

    real = runner._new_run_dir
    monkeypatch.setattr(runner, "_new_run_dir", new_run_dir)
    assert command.main(["run", "configs/tiny.yaml", "--root", "out", *CHEAP]) == 2
    err = _stderr_lines(capsys.readouterr().err)
    (run_dir,) = made
    assert len(err) == 2, err
    assert err[0].startswith("kerasish run: error: Cannot ") and str(run_dir.absolute()) in err[0]
    assert err[1].startswith(f"kerasish run: the run directory {run_dir} could not be marked failed: Cannot ")
    assert "Traceback" not in "".join(err)


def test_a_full_disk_under_ulimit_f_is_one_line_exit_2_and_the_run_marked_failed(project):
    """`ulimit -f` (RLIMIT_FSIZE) of 2000 bytes: config.yaml and run.json (with the error) fit, the best-model
    checkpoint (about 2.6 kB) does not. Its write fails with EFBIG (SIGXFSZ is ignored: CPython does so at
    startup and the command makes sure). TensorBoard's background writer failing the same way is tested in
    tests/callbacks/test_tensorboard.py (one StorageError, no hang)."""
    limit = 2000
    # the limit is set by the child itself, first thing (as `ulimit -f` in a shell would before exec): a
    # preexec_fn would fork this multithreaded (JAX) process
    ulimit_then_kerasish = (f"import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, "
                            f"{limit})); sys.argv[0] = 'kerasish'; runpy.run_module('kerasish', run_name='__main__')")
    done = subprocess.run(
        [sys.executable, "-c", ulimit_then_kerasish, "run", "configs/tiny.yaml", "--root", "out", *CHEAP,
         "callbacks.tensorboard=false", "callbacks.checkpoint=true", "callbacks.backup=false",
         "callbacks.csv_log=false", "output.save_model=false"],
        cwd=project, env=_cli_env(project), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
    err = _stderr_lines(done.stderr)
    errors = [line for line in err if line.startswith("kerasish run: error: ")]
    assert len(errors) == 1 and all(line.startswith("kerasish run: ") for line in err), err
    (run_dir,) = (project / "out" / "tiny").iterdir()
    assert "no space left" in errors[0] and str(run_dir) in errors[0]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "failed" and "no space left" in meta["error"], done.stderr
    assert (run_dir / "config.yaml").stat().st_size < limit


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full (writes fail with ENOSPC) is Linux's")
def test_a_console_log_that_fills_up_stops_and_the_run_goes_on(project, monkeypatch, capsys):
    """console.log on /dev/full: every write to it fails with ENOSPC, as on a full disk."""
    real = runner._new_run_dir

    def new_run_dir(root, name):
        path = real(root, name)
        (path / "console.log").symlink_to("/dev/full")
        return path

    monkeypatch.setattr(runner, "_new_run_dir", new_run_dir)
    assert command.main(["run", "configs/tiny.yaml", "--root", "out", *CHEAP]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in _stderr_lines(captured.err) if "console.log is no longer written" in line]
    assert len(warnings) == 1 and "no space left on the device" in warnings[0]
    assert "Data: synthetic regression" in captured.out and "Done: final_loss=" in captured.out
    (run_dir,) = (project / "out" / "tiny").iterdir()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "completed" and "no space left" in meta["console_log_error"]


def test_background_write_failures_are_one_line_and_other_errors_keep_their_hook(capsys):
    seen = []
    previous = threading.excepthook
    guards = command._ProcessGuards()
    try:
        threading.excepthook = lambda args: seen.append(args.exc_type)
        with guards.installed(keep=False):
            def full():
                raise OSError(errno.ENOSPC, "No space left on device")

            def bug():
                raise ValueError("not a storage failure")

            for target in (full, bug):
                t = threading.Thread(target=target, name="writer")
                t.start()
                t.join()
            assert threading.excepthook is not previous
        err = _stderr_lines(capsys.readouterr().err)
        assert err == ["kerasish run: warning: a background write (thread writer) failed: no space left on the "
                       "device; what it had not written yet is lost."]
        assert seen == [ValueError]  # the hook installed before got what is not a storage failure
    finally:
        threading.excepthook = previous


# -- 3. load_recipe takes str and path-like -----------------------------------------------------------------
def test_load_recipe_takes_str_and_pathlike(project):
    for path in ("recipes/tiny.py", project / "recipes" / "tiny.py"):
        module = load_recipe(path)
        assert callable(module.run) and module.SECTIONS["data"].__name__ == "Data"
    with pytest.raises(ConfigError, match="recipes/missing.py' does not exist"):
        load_recipe("recipes/missing.py")
    with pytest.raises(ConfigError, match="must be a path to a .py file, got int"):
        load_recipe(3)


def test_resume_of_an_unreadable_run_json_is_a_config_error(project):
    run_dir = project / "out" / "tiny" / STAMP
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text((project / "configs" / "tiny.yaml").read_text())
    (run_dir / "run.json").write_text("{not json")
    with pytest.raises(ConfigError, match="run.json cannot be read as a run's JSON record"):
        runner.run(resume=run_dir)


def test_only_failing_writes_become_storage_errors(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    full = OSError(errno.ENOSPC, "No space left on device")  # a write to an open file: no file name
    wrapped = ValueError("RESOURCE_EXHAUSTED: writing failed")
    wrapped.__cause__ = full
    for exc in (full, wrapped):
        err = runner._as_storage_error(exc, run_dir)
        assert isinstance(err, StorageError) and isinstance(err, OSError) and err.errno == errno.ENOSPC
        assert str(err) == f"Cannot write in {str(run_dir)!r}: no space left on the device."
    denied = PermissionError(errno.EACCES, "Permission denied", str(run_dir / "metrics.json"))
    assert str(runner._as_storage_error(denied, run_dir)) == (f"Cannot access {str(run_dir / 'metrics.json')!r}: "
                                                              "permission denied.")
    missing = FileNotFoundError(errno.ENOENT, "No such file", str(run_dir / "history.csv"))  # a recipe's read
    outside = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "data.npz"))
    for exc in (missing, outside, ValueError("a bug")):
        assert runner._as_storage_error(exc, run_dir) is exc
