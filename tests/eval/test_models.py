"""The model-based metrics on tiny random models loaded through vmb.hub.load_pretrained:
FAD on CLAP/EnCodec/AST, KL on AST, CLAP score; a missing model is one ModelUnavailable line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vmb.errors import ModelUnavailable
from vmb.eval import evaluate
from vmb.eval.embedders import load_embedder


def test_every_embedder_loads_through_the_production_path_and_embeds(tiny_models):
    y = np.random.default_rng(0).standard_normal(22050 * 12).astype(np.float32) * 0.1
    ast = load_embedder("ast", tiny_models["ast"], device="cpu")
    out = ast.embed(y, 22050)
    assert out["rows"].shape == (1, 32) and out["logits"].shape == (527,)
    enc = load_embedder("encodec", tiny_models["encodec"], device="cpu")
    rows = enc.embed(y, 22050)["rows"]
    assert rows.shape == (10, 16)  # 10 s window pooled per second (the 2 s tail is under half a window)
    clap = load_embedder("clap", tiny_models["clap"], device="cpu")
    assert clap.embed(y, 22050)["rows"].shape == (1, 32)
    assert np.allclose(np.linalg.norm(clap.embed_text(["calm piano"]), axis=1), 1.0, atol=1e-5)


def test_model_metrics_on_tiny_models(chord_sets, tiny_models, tmp_path):
    captions = tmp_path / "captions.json"
    captions.write_text(json.dumps({f"s{i}": "a calm piano chord" for i in range(5)}))
    report = evaluate(
        chord_sets["gen"], chord_sets["ref"], captions=captions,
        metrics="fd-clap,fd-encodec,fd-ast,kl-ast,clap-score", models=tiny_models, device="cpu",
        bootstrap=20, cache_dir=tmp_path / "cache",
    )
    for name in ("fd-clap", "fd-encodec", "fd-ast", "kl-ast", "clap-score"):
        m = report.metric(name)
        assert m.value is not None and np.isfinite(m.value), name
    assert report.metric("fd-encodec").value > 0
    clap_fd = report.metric("fd-clap").details
    assert clap_fd["bootstrap"] == 20 and 0 <= clap_fd["ci_low"] <= clap_fd["ci_high"]
    assert report.metric("kl-ast").value >= 0 and "PaSST" in report.metric("kl-ast").note
    assert -1 <= report.metric("clap-score").value <= 1
    assert all("kl_ast" in row and "clap_score" in row for row in report.items)
    assert report.settings["models"]["ast"] == tiny_models["ast"]


def test_kl_and_fd_of_a_set_against_itself_are_zero(chord_sets, tiny_models, tmp_path):
    report = evaluate(chord_sets["gen"], chord_sets["gen"], metrics="fd-ast,kl-ast,fd-features",
                      models=tiny_models, device="cpu", bootstrap=0, cache_dir=None)
    assert report.metric("kl-ast").value == pytest.approx(0.0, abs=1e-9)
    assert report.metric("fd-ast").value == pytest.approx(0.0, abs=1e-6)
    assert report.metric("fd-features").value == pytest.approx(0.0, abs=1e-6)


def test_a_named_metric_whose_model_is_missing_is_one_error(chord_sets, tmp_path):
    with pytest.raises(ModelUnavailable) as err:
        evaluate(chord_sets["gen"], chord_sets["ref"], metrics="fd-clap",
                 models={"clap": str(tmp_path / "no-such-clap")}, cache_dir=None)
    message = str(err.value)
    assert "no-such-clap" in message and "\n" not in message and "--clap-model" in message


def test_automatic_metrics_skip_absent_models_and_say_so(chord_sets, tmp_path):
    report = evaluate(chord_sets["gen"], chord_sets["ref"], models={"clap": str(tmp_path / "none"), "ast": str(tmp_path / "none"), "encodec": str(tmp_path / "none")}, cache_dir=None, bootstrap=0)
    assert [m.name for m in report.metrics] == ["fd-features"]
    assert any("fd-clap not computed" in n for n in report.notes)
    assert report.metric("fd-features").label.startswith("FD (built-in features")
    assert "FAD" not in report.metric("fd-features").label.replace("not FAD", "")
