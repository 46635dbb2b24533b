"""The GPT-2 workload (benchmarks/gpt2.py) at its tiny size: parameter counts, the attention path, agreement
with the hand-written twin, a short fit and the runner's report (no timing checks)."""

import math

import jax
import numpy as np
import pytest

from benchmarks import gpt2

TINY = gpt2.CONFIGS["tiny"]


def _count_by_hand(vocab, context, layers, width):
    """Parameters of a tied-embedding GPT-2, layer by layer."""
    embeddings = vocab * width + context * width
    layer_norm = 2 * width
    attention = 4 * (width * width + width)               # query, key, value, output: kernel and bias
    mlp = (width * 4 * width + 4 * width) + (4 * width * width + width)
    return embeddings + layers * (2 * layer_norm + attention + mlp) + layer_norm


def test_weight_decay_reaches_the_matrices_and_embeddings_only_as_in_the_twin():
    model = gpt2.build_kerasish(TINY)
    gpt2.compile_kerasish(model, total_steps=10)
    model.optimizer.build(model.trainable_variables)
    ours = sum(int(np.prod(v.shape)) for v, decays in zip(model.trainable_variables, model.optimizer._decay_mask)
               if decays)
    from flax import nnx

    twin = jax.tree.leaves(nnx.state(gpt2.build_nnx(TINY), nnx.Param))
    theirs = sum(int(p.size) for p in twin if p.ndim >= 2)  # the twin's optax mask
    assert ours == theirs  # the same weights decay: matrices and embeddings (MultiHeadAttention's biases are 2-D)
    assert 0 < ours < model.count_params()


def test_parameter_counts_agree_with_the_formula_and_the_twin():
    model = gpt2.build_kerasish(TINY)
    expected = _count_by_hand(256, 64, 2, 64)
    assert model.count_params() == expected == gpt2.param_count(TINY)
    assert gpt2.nnx_param_count(gpt2.build_nnx(TINY)) == expected
    # GPT-2 small as published has 124,439,808 parameters; the padded vocabulary adds 47 rows of 768.
    assert gpt2.param_count(gpt2.GPTConfig(50257, 1024, 12, 12, 768)) == 124_439_808
    assert gpt2.param_count(gpt2.CONFIGS["small"]) == 124_439_808 + 47 * 768
    n = gpt2.param_count(TINY) - 64 * 64
    assert gpt2.flops_per_token(TINY) == 6 * n + 12 * 2 * 2 * 32 * 64


def test_causal_attention_goes_through_jax_nn_dot_product_attention(monkeypatch):
    calls = []
    original = jax.nn.dot_product_attention

    def recording(q, k, v, *args, **kwargs):
        calls.append(kwargs)
        return original(q, k, v, *args, **kwargs)

    monkeypatch.setattr(jax.nn, "dot_product_attention", recording)
    x, _ = gpt2.make_tokens(TINY, 2)
    model = gpt2.build_kerasish(TINY)
    calls.clear()  # building traced the graph once
    masks = jax.jit(lambda t: (model(t), [c["mask"] for c in calls])[1])(x)  # the masks' values, out of the trace
    assert len(calls) == TINY.layers, calls
    causal = np.tril(np.ones((TINY.context, TINY.context), bool))
    for mask in masks:
        np.testing.assert_array_equal(np.asarray(mask).reshape(TINY.context, TINY.context), causal)
    calls.clear()
    jax.eval_shape(gpt2.build_nnx(TINY), x)
    assert [c.get("is_causal") for c in calls] == [True] * TINY.layers


def _copy_into_twin(model, twin):
    """kerasish's weights into the twin (query/key/value kernels concatenated into its fused projection)."""
    w = {v.path: np.asarray(v.value) for v in model.weights}
    d = TINY.width
    twin.wte.embedding[...] = w["wte/embeddings"]
    twin.wpe[...] = w["wpe/position"]
    twin.ln_f.scale[...], twin.ln_f.bias[...] = w["ln_f/gamma"], w["ln_f/beta"]
    for i, block in enumerate(twin.blocks):
        p = f"b{i}_"
        for ln in ("ln1", "ln2"):
            getattr(block, ln).scale[...] = w[p + ln + "/gamma"]
            getattr(block, ln).bias[...] = w[p + ln + "/beta"]
        qkv = ("query", "key", "value")
        block.qkv.kernel[...] = np.concatenate([w[f"{p}attn/{n}/kernel"].reshape(d, d) for n in qkv], axis=1)
        block.qkv.bias[...] = np.concatenate([w[f"{p}attn/{n}/bias"].reshape(d) for n in qkv])
        block.proj.kernel[...] = w[p + "attn/attention_output/kernel"].reshape(d, d)
        block.proj.bias[...] = w[p + "attn/attention_output/bias"]
        for a, b in (("fc", "fc"), ("proj", "out")):
            getattr(block, b).kernel[...] = w[f"{p}{a}/kernel"]
            getattr(block, b).bias[...] = w[f"{p}{a}/bias"]


def test_logits_agree_with_the_twin_in_float32():
    model = gpt2.build_kerasish(TINY, policy="float32")
    twin = gpt2.build_nnx(TINY, seed=1, compute_dtype="float32")
    _copy_into_twin(model, twin)
    x, _ = gpt2.make_tokens(TINY, 3, seed=5)
    ours = np.asarray(jax.jit(lambda t: model(t))(x))
    theirs = np.asarray(jax.jit(lambda t: twin(t))(x))
    assert ours.shape == theirs.shape == (3, TINY.context, TINY.vocab)
    assert ours.std() > 0.1  # the comparison is not between two near-zero outputs
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_runner_reports_tokens_per_second_and_mfu():
    # Tokens that count up by one: a rule both models learn in these 30 steps (mixed bfloat16, AdamW).
    report = gpt2.run("tiny", ["kerasish", "hw"], steps=10, batch=16, epochs=2, repeats=1, peak_tflops=0.5,
                      data="count", in_process=True, echo=None)
    flops = gpt2.flops_per_token(TINY)
    assert report["meta"]["params_formula"] == gpt2.param_count(TINY)
    for r in report["results"]:
        assert r["ok"] and r["tokens_per_s"] > 0 and r["params"] == gpt2.param_count(TINY)
        assert r["mfu"] == pytest.approx(r["tokens_per_s"] * flops / 0.5e12)
        assert r["device_peak_mb"] is not None or r["peak_rss_mb"] > 0
        losses = r["losses"]
        assert len(losses) == 3 and all(math.isfinite(v) for v in losses), losses
        assert losses[0] < math.log(TINY.vocab) + 0.5 and losses[-1] < losses[0] - 0.3, (r["variant"], losses)
    stats = report["stats"]
    assert stats["hw"]["ratio_to_hw"] == 1.0 and stats["kerasish"]["ratio_to_hw"] > 0
    text = gpt2.table(report)
    assert "kerasish" in text and "MFU" in text and "FAILED" not in text


def test_mfu_needs_a_peak_on_cpu():
    assert gpt2.peak_flops("cpu", "cpu", None) is None
    assert gpt2.peak_flops("NVIDIA H100 80GB HBM3", "gpu", None) == 989e12
    assert gpt2.peak_flops("NVIDIA A100-SXM4-40GB", "gpu", None) == 312e12
    assert gpt2.peak_flops("cpu", "cpu", 2.0) == 2e12


def test_cli_refuses_an_unknown_variant(capsys):
    with pytest.raises(SystemExit):
        gpt2.main(["--size", "tiny", "--variants", "kerasish,keras"])
    assert "unknown GPT-2 variant(s) ['keras']" in capsys.readouterr().err
