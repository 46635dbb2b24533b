"""GPT-2 workload: kerasish ``fit`` against a hand-written flax.nnx + optax twin, in tokens/s and MFU.

Usage::

    python -m benchmarks.gpt2 [--size small|tiny] [--variants kerasish,hw] [--steps N] [--batch B]
                              [--epochs E] [--repeats R] [--json OUT] [--peak-tflops X]

The model (both variants, the same architecture and parameter count): GPT-2 with learned position
embeddings, pre-LayerNorm blocks (epsilon 1e-5), causal multi-head self-attention, a 4x GELU (tanh) MLP,
a final LayerNorm and logits by the transposed token embedding (tied input/output embedding). Every
weight starts from N(0, 0.02), biases and LayerNorm shifts from zero, LayerNorm scales from one; no
dropout. ``small`` is GPT-2 small with the vocabulary padded from 50257 to 50304 (a multiple of 64, as
nanoGPT does): 124,475,904 parameters (124,439,808 unpadded). ``tiny`` (vocab 256, context 64, 2 layers,
2 heads, width 64) runs on a 2-core CPU in seconds.

Training: synthetic tokens drawn uniformly from a fixed NumPy seed, ``x = tokens[:, :-1]``,
``y = tokens[:, 1:]``, sparse categorical crossentropy from logits (float32), mixed bfloat16 (float32
weights), AdamW (lr 6e-4 after a linear warmup over the first 10% of the steps from 0, cosine decay to
6e-5, betas 0.9/0.95, epsilon 1e-8, weight decay 0.1 on the matrices and embeddings only, as nanoGPT: kerasish
excludes the biases and LayerNorm scales and offsets by name (``exclude_from_weight_decay(var_names=["bias",
"gamma", "beta"])``), the twin by an optax mask of the parameters with two or more dimensions).

* ``kerasish``: a functional ``kerasish.Model`` of plain layers (``ReversibleEmbedding``,
  ``LayerNormalization``, ``MultiHeadAttention(...)(x, x, use_causal_mask=True)``, ``Dense``, ``ops.gelu``)
  and one small custom layer for the position embedding; ``compile`` + ``fit`` with defaults otherwise
  (``steps_per_execution="auto"``, shuffling). MultiHeadAttention runs ``jax.nn.dot_product_attention``
  with an explicit boolean causal mask (the query pre-scaled), which JAX computes with its XLA
  implementation.
* ``hw``: the twin, one jitted train step with donated parameters and optimizer state, a fused
  ``(d, 3d)`` query/key/value projection and ``jax.nn.dot_product_attention(is_causal=True)`` (XLA
  implementation); ``hw_cudnn``: the same with ``implementation="cudnn"`` (a GPU only).

Every variant runs ``E + 1`` epochs of ``N`` steps of ``B`` sequences each in a fresh process; the first
epoch (compilation and kerasish's ``auto`` probe) is the warm-up, tokens/s counts the last ``E``. Repeats
alternate the order of the variants. MFU = tokens/s x FLOPs per token / peak FLOP/s, with FLOPs per token
``6 * N + 12 * L * H * Q * T`` (nanoGPT's estimate after PaLM: N the parameters less the position
embedding, L layers, H heads, Q head size, T context; attention counted as if not causal). Peak FLOP/s
comes from the device kind (H100/H200 989 TFLOP/s, A100 312 TFLOP/s, dense bfloat16) or ``--peak-tflops``;
on a CPU MFU is reported only with ``--peak-tflops``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("kerasish", "hw", "hw_cudnn")
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense bfloat16, by a substring of device_kind
INIT_STD = 0.02


@dataclass(frozen=True)
class GPTConfig:
    vocab: int
    context: int
    layers: int
    heads: int
    width: int

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


CONFIGS = {
    "small": GPTConfig(vocab=50304, context=1024, layers=12, heads=12, width=768),
    "tiny": GPTConfig(vocab=256, context=64, layers=2, heads=2, width=64),
}
DEFAULTS = {"small": {"batch": 16, "steps": 50, "epochs": 2}, "tiny": {"batch": 16, "steps": 20, "epochs": 2}}


def param_count(cfg: GPTConfig) -> int:
    """Parameters of the model, by the formula (tied embedding: the logits add none)."""
    d = cfg.width
    block = 2 * 2 * d + (4 * d * d + 4 * d) + (d * 4 * d + 4 * d + 4 * d * d + d)
    return cfg.vocab * d + cfg.context * d + cfg.layers * block + 2 * d


def flops_per_token(cfg: GPTConfig) -> float:
    """Training (forward and backward) FLOPs per token: ``6 * N + 12 * L * H * Q * T`` (see the module doc)."""
    n = param_count(cfg) - cfg.context * cfg.width
    return 6.0 * n + 12.0 * cfg.layers * cfg.heads * cfg.head_dim * cfg.context


def make_tokens(cfg: GPTConfig, sequences: int, seed: int = 0, data: str = "uniform"):
    """``(x, y)``: int32 ``(sequences, context)`` inputs and next-token targets. ``data="uniform"``: tokens
    drawn uniformly (nothing to learn beyond memorizing); ``"count"``: each token is the one before plus one
    (modulo the vocabulary) from a random start, a rule a model learns in a few dozen steps."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if data == "uniform":
        tokens = rng.integers(0, cfg.vocab, (sequences, cfg.context + 1))
    elif data == "count":
        tokens = (rng.integers(0, cfg.vocab, (sequences, 1)) + np.arange(cfg.context + 1)) % cfg.vocab
    else:
        raise ValueError(f"--data must be 'uniform' or 'count', got {data!r}")
    tokens = tokens.astype(np.int32)
    return tokens[:, :-1], tokens[:, 1:]


def schedule_steps(total_steps: int) -> tuple[int, int]:
    """``(warmup, decay)`` steps of the learning-rate schedule over a fit of ``total_steps`` steps."""
    warmup = max(1, total_steps // 10)
    return warmup, max(1, total_steps - warmup)


PEAK_LR, FINAL_FRACTION, BETAS, EPSILON, WEIGHT_DECAY = 6e-4, 0.1, (0.9, 0.95), 1e-8, 0.1


# ---------------------------------------------------------------------------------------------------------------
# kerasish
# ---------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _global_policy(name: str):
    from kerasish import mixed_precision

    before = mixed_precision.global_policy().name
    mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        mixed_precision.set_global_policy(before)


def _position_layer_class():
    import kerasish
    from kerasish import ops

    class PositionEmbedding(kerasish.layers.Layer):
        """Adds a learned ``(context, width)`` position embedding to ``(batch, time, width)`` inputs."""

        def __init__(self, context, **kwargs):
            super().__init__(**kwargs)
            self.context = context

        def build(self, input_shape):
            self.position = self.add_weight(shape=(self.context, input_shape[-1]), name="position",
                                            initializer=kerasish.initializers.RandomNormal(stddev=INIT_STD))

        def call(self, x):
            return x + ops.cast(self.position[:x.shape[1]], x.dtype)

        def get_config(self):
            return {**super().get_config(), "context": self.context}

    return PositionEmbedding


def build_kerasish(cfg: GPTConfig, policy: str = "mixed_bfloat16"):
    """The GPT-2 of ``cfg`` as a functional ``kerasish.Model`` (int32 tokens in, logits out) under ``policy``."""
    import kerasish
    from kerasish import layers, ops

    normal = kerasish.initializers.RandomNormal(stddev=INIT_STD)
    with _global_policy(policy):
        tokens = kerasish.Input(shape=(cfg.context,), dtype="int32", name="tokens")
        embed = layers.ReversibleEmbedding(cfg.vocab, cfg.width, embeddings_initializer=normal, name="wte")
        h = _position_layer_class()(cfg.context, name="wpe")(embed(tokens))
        for i in range(cfg.layers):
            a = layers.LayerNormalization(epsilon=1e-5, name=f"b{i}_ln1")(h)
            a = layers.MultiHeadAttention(cfg.heads, cfg.head_dim, kernel_initializer=normal,
                                          name=f"b{i}_attn")(a, a, use_causal_mask=True)
            h = layers.Add(name=f"b{i}_add1")([h, a])
            m = layers.LayerNormalization(epsilon=1e-5, name=f"b{i}_ln2")(h)
            m = layers.Dense(4 * cfg.width, kernel_initializer=normal, name=f"b{i}_fc")(m)
            m = layers.Dense(cfg.width, kernel_initializer=normal, name=f"b{i}_proj")(ops.gelu(m, approximate=True))
            h = layers.Add(name=f"b{i}_add2")([h, m])
        h = layers.LayerNormalization(epsilon=1e-5, name="ln_f")(h)
        logits = embed(h, reverse=True)
        return kerasish.Model(tokens, logits, name=f"gpt2_{cfg.layers}x{cfg.width}")


def compile_kerasish(model, total_steps: int) -> None:
    import kerasish

    warmup, decay = schedule_steps(total_steps)
    lr = kerasish.optimizers.schedules.CosineDecay(0.0, decay, alpha=FINAL_FRACTION, warmup_target=PEAK_LR,
                                                   warmup_steps=warmup)
    optimizer = kerasish.optimizers.AdamW(lr, weight_decay=WEIGHT_DECAY, beta_1=BETAS[0], beta_2=BETAS[1],
                                          epsilon=EPSILON)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])  # biases, LayerNorm (nanoGPT's rule)
    model.compile(optimizer=optimizer, loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))


def train_kerasish(cfg: GPTConfig, x, y, batch: int, epochs: int, model=None) -> dict:
    """Fit (mixed bfloat16 unless ``model`` is given) for ``epochs`` epochs; ``ends``/``losses`` per epoch."""
    import kerasish

    ends, losses = [], []

    class EpochEnds(kerasish.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            losses.append(float(logs["loss"]))  # on the host: the epoch's work is done
            ends.append(time.perf_counter())

    model = build_kerasish(cfg) if model is None else model
    compile_kerasish(model, epochs * -(-x.shape[0] // batch))
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[EpochEnds()])
    return {"ends": ends, "losses": losses, "params": model.count_params()}


# ---------------------------------------------------------------------------------------------------------------
# The hand-written twin: flax.nnx + optax
# ---------------------------------------------------------------------------------------------------------------
def build_nnx(cfg: GPTConfig, seed: int = 0, compute_dtype="bfloat16", attention: str | None = None):
    """The twin as an ``nnx.Module``: float32 parameters, ``compute_dtype`` arithmetic; ``attention`` is
    ``jax.nn.dot_product_attention``'s ``implementation`` (None: XLA)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    dtype = jnp.dtype(compute_dtype)
    normal = nnx.initializers.normal(INIT_STD)
    common = {"dtype": dtype, "param_dtype": jnp.float32}

    def linear(n_in, n_out, rngs):
        return nnx.Linear(n_in, n_out, kernel_init=normal, **common, rngs=rngs)

    class Block(nnx.Module):
        def __init__(self, rngs):
            d = cfg.width
            self.ln1 = nnx.LayerNorm(d, epsilon=1e-5, **common, rngs=rngs)
            self.qkv = linear(d, 3 * d, rngs)
            self.proj = linear(d, d, rngs)
            self.ln2 = nnx.LayerNorm(d, epsilon=1e-5, **common, rngs=rngs)
            self.fc = linear(d, 4 * d, rngs)
            self.out = linear(4 * d, d, rngs)

        def __call__(self, h):
            b, t, _ = h.shape
            q, k, v = jnp.split(self.qkv(self.ln1(h)).reshape(b, t, 3 * cfg.heads, cfg.head_dim), 3, axis=2)
            a = jax.nn.dot_product_attention(q, k, v, is_causal=True, implementation=attention)
            h = h + self.proj(a.reshape(b, t, cfg.width))
            return h + self.out(jax.nn.gelu(self.fc(self.ln2(h)), approximate=True))

    class GPT(nnx.Module):
        def __init__(self, rngs):
            self.wte = nnx.Embed(cfg.vocab, cfg.width, embedding_init=normal, **common, rngs=rngs)
            self.wpe = nnx.Param(normal(rngs.params(), (cfg.context, cfg.width), jnp.float32))
            self.blocks = nnx.List([Block(rngs) for _ in range(cfg.layers)])
            self.ln_f = nnx.LayerNorm(cfg.width, epsilon=1e-5, **common, rngs=rngs)

        def __call__(self, tokens):
            h = self.wte(tokens) + self.wpe[...][:tokens.shape[1]].astype(dtype)
            for block in self.blocks:
                h = block(h)
            return self.wte.attend(self.ln_f(h))

    return GPT(nnx.Rngs(seed))


def nnx_param_count(model) -> int:
    import jax
    from flax import nnx

    return sum(int(p.size) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


def train_nnx(cfg: GPTConfig, x, y, batch: int, epochs: int, attention: str | None = None, model=None) -> dict:
    """The twin's loop: shuffled full batches each epoch, one jitted step each, parameters and optimizer state
    donated; ``ends``/``losses`` (the epoch's mean loss, on the host) per epoch."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax import nnx

    model = build_nnx(cfg, attention=attention) if model is None else model
    graphdef, params = nnx.split(model, nnx.Param)
    steps = x.shape[0] // batch
    warmup, decay = schedule_steps(epochs * steps)
    lr = optax.warmup_cosine_decay_schedule(0.0, PEAK_LR, warmup, warmup + decay, PEAK_LR * FINAL_FRACTION)
    decays = lambda tree: jax.tree.map(lambda p: p.ndim >= 2, tree)  # matrices and embeddings (nanoGPT's rule)
    tx = optax.adamw(lr, b1=BETAS[0], b2=BETAS[1], eps=EPSILON, weight_decay=WEIGHT_DECAY, mask=decays)
    params = nnx.to_pure_dict(params)
    opt_state = tx.init(params)

    def loss_fn(params, xb, yb):
        logits = nnx.merge(graphdef, params)(xb).astype(jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def _step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(_step, donate_argnums=(0, 1))
    rng = np.random.default_rng(0)
    ends, losses = [], []
    for _ in range(epochs):
        order = rng.permutation(x.shape[0])
        total = 0.0
        for i in range(steps):
            idx = order[i * batch:(i + 1) * batch]
            params, opt_state, loss = step(params, opt_state, x[idx], y[idx])
            total = total + loss
        losses.append(float(total) / steps)
        ends.append(time.perf_counter())
    return {"ends": ends, "losses": losses, "params": sum(int(np.size(p)) for p in jax.tree.leaves(params))}


# ---------------------------------------------------------------------------------------------------------------
# One measurement, and the runner
# ---------------------------------------------------------------------------------------------------------------
def peak_flops(device_kind: str, platform: str, peak_tflops: float | None) -> float | None:
    """Peak FLOP/s: ``peak_tflops`` when given, else the table's entry for ``device_kind`` (None: unknown)."""
    if peak_tflops is not None:
        return peak_tflops * 1e12
    if platform == "cpu":
        return None
    return next((tf * 1e12 for key, tf in PEAK_TFLOPS.items() if key in device_kind), None)


def measure(spec: dict) -> dict:
    """Train one variant as ``spec`` says (keys: ``variant``, ``size``, ``batch``, ``steps``, ``epochs``,
    ``peak_tflops``, ``data``) and return its numbers: tokens/s over the epochs after the first, MFU, peak memory."""
    from benchmarks.child import _device_info, _device_peak_mb, _peak_rss_mb, _versions

    variant, cfg = spec["variant"], CONFIGS[spec["size"]]
    if variant not in VARIANTS:
        raise ValueError(f"unknown GPT-2 variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    batch, steps, epochs = spec["batch"], spec["steps"], spec["epochs"] + 1
    x, y = make_tokens(cfg, batch * steps, data=spec.get("data", "uniform"))
    if variant == "kerasish":
        import kerasish  # noqa: F401 - imported before the clock starts
    import jax

    jax.block_until_ready(jax.numpy.zeros(()))
    t0 = time.perf_counter()
    if variant == "kerasish":
        res = train_kerasish(cfg, x, y, batch, epochs)
    else:
        res = train_nnx(cfg, x, y, batch, epochs, attention="cudnn" if variant == "hw_cudnn" else None)
    ends = res["ends"]
    tokens_per_s = batch * steps * cfg.context * (len(ends) - 1) / (ends[-1] - ends[0])
    device = _device_info()
    peak = peak_flops(device["device_kind"], device["platform"], spec.get("peak_tflops"))
    fpt = flops_per_token(cfg)
    return {"ok": True, **spec, "config": asdict(cfg), "params": res["params"], "flops_per_token": fpt,
            "tokens_per_s": tokens_per_s, "first_epoch_s": ends[0] - t0, "losses": res["losses"],
            "peak_flops": peak, "mfu": None if peak is None else tokens_per_s * fpt / peak,
            "device_peak_mb": _device_peak_mb(), "peak_rss_mb": _peak_rss_mb(), "device": device,
            "versions": _versions()}


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    # No persistent compilation cache (nor a remembered steps_per_execution decision): every process compiles.
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.update({"JAX_ENABLE_COMPILATION_CACHE": "false", "KERASISH_COMPILATION_CACHE": "0", "KERAS_BACKEND": "jax"})
    return env


def run_child(spec: dict, timeout: float = 1800) -> dict:
    """``measure(spec)`` in a fresh process (``python -m benchmarks.gpt2 --child``); failures come back as
    ``{"ok": False, "error": ...}``."""
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.gpt2", "--child", json.dumps(spec)], cwd=REPO_ROOT,
                              env=_child_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout} s", **spec}
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("GPT2_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return {"ok": False, "error": f"exit {proc.returncode}: {proc.stderr[-3000:]}", **spec}
    return json.loads(line.removeprefix("GPT2_RESULT "))


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(results: list[dict], variants: list[str]) -> dict:
    """Per variant: tokens/s and MFU (median, min, max over repeats), peak memory, errors; ratios to ``hw``."""
    out = {}
    for v in variants:
        ok = [r for r in results if r["variant"] == v and r.get("ok")]
        s = {"errors": [r["error"] for r in results if r["variant"] == v and not r.get("ok")]}
        if ok:
            s["tokens_per_s"] = _stats([r["tokens_per_s"] for r in ok])
            s["mfu"] = None if ok[0]["mfu"] is None else _stats([r["mfu"] for r in ok])
            s["params"] = ok[0]["params"]
            dev = [r["device_peak_mb"] for r in ok if r["device_peak_mb"] is not None]
            s["peak_memory_mb"], s["peak_memory_kind"] = (max(dev), "device") if dev else \
                (max(r["peak_rss_mb"] for r in ok), "host RSS")
        out[v] = s
    ref = out.get("hw", {}).get("tokens_per_s")
    for s in out.values():
        if ref and "tokens_per_s" in s:
            s["ratio_to_hw"] = s["tokens_per_s"]["median"] / ref["median"]
    return out


def run(size: str = "tiny", variants=("kerasish", "hw"), steps: int | None = None, batch: int | None = None,
        epochs: int | None = None, repeats: int = 1, peak_tflops: float | None = None, data: str = "uniform",
        in_process: bool = False, echo=print) -> dict:
    """Run every variant ``repeats`` times (the order rotating each repeat) and return the report dict."""
    if size not in CONFIGS:
        raise ValueError(f"--size must be one of {', '.join(CONFIGS)}, got {size!r}")
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise ValueError(f"unknown GPT-2 variant(s) {bad}; expected some of {', '.join(VARIANTS)}")
    d = DEFAULTS[size]
    base = {"size": size, "batch": batch or d["batch"], "steps": steps or d["steps"],
            "epochs": epochs or d["epochs"], "peak_tflops": peak_tflops, "data": data}
    make_tokens(CONFIGS[size], 1, data=data)  # a bad --data fails here, not in every child
    results = []
    for r in range(repeats):
        for v in variants[r % len(variants):] + variants[:r % len(variants)]:
            spec = {**base, "variant": v}
            res = measure(spec) if in_process else run_child(spec)
            res["repeat"] = r
            results.append(res)
            if echo:
                what = f"{res['tokens_per_s']:,.0f} tokens/s" if res.get("ok") else "FAILED"
                echo(f"  repeat {r + 1}/{repeats} {v}: {what}", file=sys.stderr)
    cfg = CONFIGS[size]
    return {"meta": {**base, "config": asdict(cfg), "params_formula": param_count(cfg),
                     "flops_per_token": flops_per_token(cfg), "repeats": repeats,
                     "tokens_per_step": base["batch"] * cfg.context,
                     "device": next((r["device"] for r in results if r.get("ok")), None),
                     "versions": next((r["versions"] for r in results if r.get("ok")), None)},
            "stats": summarize(results, list(variants)), "results": results}


def table(report: dict) -> str:
    """The report as a text table: tokens/s (median, min-max), MFU, ratio to hw, peak memory."""
    m = report["meta"]
    lines = [f"== GPT-2 {m['size']}: {m['params_formula']:,} parameters, batch {m['batch']} x {m['config']['context']}"
             f" tokens, {m['steps']} steps x {m['epochs']} timed epochs, {m['repeats']} repeat(s), "
             f"device {(m['device'] or {}).get('device_kind')}",
             f"{'variant':<10} {'tokens/s':>12} {'(min-max)':>23} {'MFU':>7} {'/ hw':>6} {'peak MB':>9}"]
    for v, s in report["stats"].items():
        if "tokens_per_s" not in s:
            lines.append(f"{v:<10} FAILED: {s['errors'][0].strip().splitlines()[-1] if s['errors'] else '?'}")
            continue
        t = s["tokens_per_s"]
        mfu = "n/a" if s["mfu"] is None else f"{100 * s['mfu']['median']:.1f}%"
        ratio = f"{s['ratio_to_hw']:.2f}" if "ratio_to_hw" in s else "-"
        spread = f"({t['min']:,.0f}-{t['max']:,.0f})"
        lines.append(f"{v:<10} {t['median']:>12,.0f} {spread:>23} {mfu:>7} "
                     f"{ratio:>6} {s['peak_memory_mb']:>9,.0f}" + ("" if s["peak_memory_kind"] == "device" else
                                                                  " (host RSS)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        result = measure(json.loads(argv[1]))
        sys.stdout.flush()
        print("GPT2_RESULT " + json.dumps(result), flush=True)
        return
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpt2", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=sorted(CONFIGS), default="small")
    p.add_argument("--variants", default="kerasish,hw", help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=int, help="steps an epoch (small: 50, tiny: 20)")
    p.add_argument("--batch", type=int, help="sequences a step (default 16)")
    p.add_argument("--epochs", type=int, help="timed epochs after the warm-up epoch (default 2)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, help="peak FLOP/s for MFU, in TFLOP/s (default: by device kind)")
    p.add_argument("--data", choices=("uniform", "count"), default="uniform",
                   help="synthetic tokens: uniform (the benchmark) or a counting rule (to see the loss fall)")
    p.add_argument("--json", help="write the report here")
    args = p.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    try:
        report = run(args.size, variants, args.steps, args.batch, args.epochs, args.repeats, args.peak_tflops,
                     args.data)
    except ValueError as e:
        p.error(str(e))
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
