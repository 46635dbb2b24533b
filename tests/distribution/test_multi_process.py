"""Two processes on localhost (jax.distributed, gloo CPU collectives, 2 simulated devices each) train one
model together on NumPy arrays and a PyDataset, against the single-process run (mp_script.py)."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError

SCRIPT = Path(__file__).with_name("mp_script.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(out: Path, phase: str, with_single: bool = False) -> dict:
    """Run the two workers (and the single-process reference) at once; their exit codes and outputs."""
    port = str(_free_port())
    cmds = {f"worker{i}": [sys.executable, str(SCRIPT), "worker", str(out), str(i), port, phase] for i in (0, 1)}
    if with_single:
        cmds["single"] = [sys.executable, str(SCRIPT), "single", str(out)]
    procs = {k: subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k, c in cmds.items()}
    try:
        outputs = {k: p.communicate(timeout=300)[0] for k, p in procs.items()}
    finally:
        for p in procs.values():  # a process left waiting on a lost peer must not outlive the test
            if p.poll() is None:
                p.kill()
    return {k: (procs[k].returncode, outputs[k]) for k in cmds}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_process")
    main = _launch(out, "main", with_single=True)
    for name, (rc, text) in main.items():
        assert rc == 0, f"{name} failed:\n{text[-3000:]}"
    crash = _launch(out, "crash")
    backup_after_crash = sorted(p.name for p in (out / "backup-worker").iterdir()) \
        if (out / "backup-worker").is_dir() else []
    resume = _launch(out, "resume")
    for name, (rc, text) in resume.items():
        assert rc == 0, f"{name} failed on resume:\n{text[-3000:]}"

    def load(name):
        return json.loads((out / f"{name}.json").read_text())

    return {"out": out, "main": main, "crash": crash, "backup_after_crash": backup_after_crash,
            "single": load("single-main"), "w0": load("worker0-main"), "w1": load("worker1-main"),
            "r0": load("worker0-resume"), "r1": load("worker1-resume")}


def test_two_processes_train_as_one_and_match_the_single_process_run(runs):
    single, w0, w1 = runs["single"], runs["w0"], runs["w1"]
    assert w0["process_count"] == 2 and len(w0["devices"]) == 4 and single["devices"] == ["cpu:0"]
    for key in ("weights_after_fit", "weights_after_pydataset"):
        assert w0[key] == w1[key], f"{key}: the two processes' replicas differ"
        np.testing.assert_allclose(w0[key], single[key], rtol=1e-4, atol=1e-6, err_msg=key)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(w0["history"][key], single["history"][key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(w0["evaluate"], single["evaluate"], rtol=1e-4)
    # predict returns every row on every process (gathered from both)
    assert np.shape(w0["predict"]) == (200, 3) and w0["predict"] == w1["predict"]
    np.testing.assert_allclose(w0["predict"], single["predict"], rtol=1e-4, atol=1e-5)


def test_each_process_reads_only_its_rows_of_every_batch(runs):
    # fit over arrays: 3 epochs of 200 rows (6 batches of 32, then 8 rows padded to 32) and 3 validations of
    # 64 rows. Process 0's devices hold rows 0-15 of each batch of 32, process 1's rows 16-31: the last
    # batch's 8 real rows are all process 0's.
    for worker in ("w0", "w1"):
        assert runs[worker]["read"]["rows_in_batches"] == 3 * 200 + 3 * 64
    assert runs["w0"]["read"]["rows_read"] == 3 * (6 * 16 + 8) + 3 * 2 * 16
    assert runs["w1"]["read"]["rows_read"] == 3 * (6 * 16) + 3 * 2 * 16
    assert runs["single"]["read"] == {"rows_read": 0, "rows_in_batches": 0}  # one process gathers whole batches


def test_model_parallel_across_processes_matches_the_single_process_run(runs):
    single, w0, w1 = runs["single"], runs["w0"], runs["w1"]
    # the hidden kernel (10, 16) is split by columns between the processes: each holds (10, 8)
    for worker in (w0, w1):
        assert worker["mp_kernel"] == {"spec": "P(None, 'model')", "fully_addressable": False,
                                       "local_shard_shapes": [[10, 8]]}
    assert w0["mp_weights"] == w1["mp_weights"]
    np.testing.assert_allclose(w0["mp_weights"], single["mp_weights"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w0["mp_predict"], single["mp_predict"], rtol=1e-4, atol=1e-5)


def test_only_process_0_writes_progress_csv_and_tensorboard(runs):
    out = runs["out"]
    text0, text1 = runs["main"]["worker0"][1], runs["main"]["worker1"][1]
    assert "Epoch 3/3" in text0 and "Epoch" not in text1
    assert not [p for p in (out / "worker1").rglob("*") if p.is_file()], "process 1 wrote logs"
    rows = (out / "worker0" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    assert len(list((out / "worker0" / "tb" / "train").glob("events.out.tfevents.*"))) == 1


def test_an_orbax_checkpoint_written_by_two_processes_restores_in_one(runs):
    model = kerasish.Sequential([kerasish.Input((10,)), kerasish.layers.Dense(16, activation="relu", name="hidden"),
                                 kerasish.layers.BatchNormalization(), kerasish.layers.Dropout(0.2),
                                 kerasish.layers.Dense(3, name="logits")])
    meta = kerasish.callbacks.load_checkpoint(model, runs["out"] / "ckpt-worker-orbax")
    assert meta["epoch"] == 3
    restored = np.concatenate([np.ravel(w) for w in model.get_weights()])
    np.testing.assert_array_equal(restored, np.asarray(runs["w0"]["weights_after_fit"], np.float32))


def test_backup_and_restore_resumes_a_run_of_two_processes(runs):
    assert [rc for rc, _ in runs["crash"].values()] == [17, 17], "both processes should have died in epoch 2"
    assert runs["backup_after_crash"], "no backup was committed before the crash"
    r0, r1 = runs["r0"], runs["r1"]
    assert 0 < r0["batches_run"] < 21, f"the resumed run trained {r0['batches_run']} batches: it did not resume"
    assert r0["epochs_in_history"] == [0, 1, 2]
    assert r0["backup_weights"] == r1["backup_weights"]
    np.testing.assert_allclose(r0["backup_weights"], runs["single"]["backup_weights"], rtol=1e-4, atol=1e-6)
    assert not (runs["out"] / "backup-worker").exists(), "the finished run's backups should be deleted"


def test_initialize_errors():
    with pytest.raises(ConfigError, match=r"process_id must be in \[0, 2\), got 2"):
        kerasish.distribution.initialize("localhost:1", num_processes=2, process_id=2)
    with pytest.raises(ConfigError, match="must be integers"):
        kerasish.distribution.initialize("localhost:1", num_processes="two", process_id=0)
    kerasish.distribution.list_devices()  # JAX is in use in this process: too late to join a run
    with pytest.raises(ConfigError, match=r"before anything uses JAX"):
        kerasish.distribution.initialize("localhost:1", num_processes=2, process_id=0)
    assert kerasish.distribution.process_count() == 1 and kerasish.distribution.process_index() == 0
