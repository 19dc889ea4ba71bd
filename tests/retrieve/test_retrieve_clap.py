"""The CLAP encoder through the production from_pretrained path, with a tiny random ClapModel
saved to disk; a CLAP index (zero-shot tags, text queries, audio queries); clear errors."""

import shutil

import numpy as np
import pytest
from retrieve.retrieve_library import SEGMENT_S, TRACKS
from tiny.clap import save_tiny_clap

from vmb.errors import IndexFileError, ModelUnavailable
from vmb.retrieve import MusicIndex, Retriever, build_index, load_encoder
from vmb.retrieve.encoders.clap import ClapEncoder
from vmb.vocab import load_vocab


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    return save_tiny_clap(tmp_path_factory.mktemp("tiny_clap"))


@pytest.fixture(scope="module")
def clap(clap_dir):
    return load_encoder("clap", str(clap_dir), device="cpu")


@pytest.fixture(scope="module")
def clap_index(clap, make_library, tmp_path_factory):
    root = tmp_path_factory.mktemp("clap_lib")
    rows = [TRACKS[0], TRACKS[1], (*TRACKS[4][:4], {"caption": "no tags here"})]
    manifest = make_library(root, rows)
    info = build_index(
        manifest, root / "index", encoder=clap, segment_s=SEGMENT_S, hop_s=SEGMENT_S, progress=False
    )
    return root, info


def test_encoder_loads_from_a_saved_folder(clap, clap_dir):
    enc = clap.main
    assert isinstance(enc, ClapEncoder) and clap.audio is enc and clap.kind == "clap"
    assert enc.id == f"clap:{clap_dir.resolve()}" and enc.dim == 32 and enc.sample_rate == 48000
    text = enc.embed_text(["a calm piano piece", "fast jazz drums", ""])
    assert text.shape == (3, 32) and text.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(text[0], text[1])


def test_audio_embeddings_resample_and_average_windows_deterministically(clap):
    enc = clap.main
    rng = np.random.default_rng(0)
    long = (0.1 * rng.standard_normal((2, 22050 * 25))).astype(
        np.float32
    )  # stereo, 25 s, 22.05 kHz
    short = long[:, : 22050 * 4]
    a = enc.embed_audio([(long, 22050), (short, 22050)])
    b = enc.embed_audio([(long, 22050), (short, 22050)])
    assert a.shape == (2, 32)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert len(enc._windows(long, 22050)) == 3  # 0-10, 10-20, 20-25 s


def test_clap_index_holds_audio_embeddings_and_zero_shot_tags(clap, clap_index):
    root, info = clap_index
    assert info.encoder == clap.id and info.audio is None and info.dim == 32
    assert info.tag_sources["genre"] == "manifest+clap-zero-shot"
    index = MusicIndex.load(root / "index")
    assert sorted(p.name for p in index.path.iterdir()) == [
        "clips.parquet",
        "index.faiss",
        "info.json",
    ]
    clips = index.clips()
    vocab = load_vocab()
    untagged = [c for c in clips if c.track_id == "audio/ambient_space.wav"]
    for c in untagged:
        assert c.attributes.genre in vocab.genres
        assert len(c.attributes.mood) == 2 and set(c.attributes.mood) <= set(vocab.moods)
        assert len(c.attributes.instruments) == 3 and set(c.attributes.instruments) <= set(
            vocab.instruments
        )
    tagged = next(c for c in clips if c.track_id == "audio/rock_anthem.wav")
    assert tagged.attributes.genre == "rock"  # the manifest wins
    # index.faiss row i is the CLAP audio embedding of clip i
    from vmb.media import read_audio

    c = clips[1]
    audio, sr = read_audio(c.path, mono=True, start_s=c.start_s, duration_s=c.duration_s)
    np.testing.assert_allclose(
        index.index.reconstruct(1), clap.main.embed_audio([(audio, sr)])[0], atol=1e-4
    )


def test_text_query_searches_the_audio_embeddings_directly(clap, clap_index):
    root, _ = clap_index
    index = MusicIndex.load(root / "index")
    result = Retriever(index, clap).search("a driving rock anthem", k_broad=3)
    query = clap.main.embed_text(["a driving rock anthem"])[0]
    vectors = index.index.reconstruct_n(0, len(index))
    best_per_track: dict[str, float] = {}
    for i, c in enumerate(index.clips()):
        best_per_track[c.track_id] = max(
            best_per_track.get(c.track_id, -2.0), float(vectors[i] @ query)
        )
    expected = sorted(best_per_track, key=lambda t: -best_per_track[t])
    assert [h.clip.track_id for h in result] == expected
    np.testing.assert_allclose(
        [h.score for h in result], [best_per_track[t] for t in expected], atol=1e-5
    )


def test_pinned_audio_finds_itself_in_a_clap_index(clap, clap_index, tmp_path):
    root, _ = clap_index
    copy = tmp_path / "ref.wav"
    shutil.copy(root / "audio" / "rock_anthem.wav", copy)
    result = Retriever(MusicIndex.load(root / "index"), clap).search(
        None, pinned=[str(copy)], k_broad=1
    )
    assert result[0].track == "pinned" and result[1].clip.track_id == "audio/rock_anthem.wav"


def test_querying_with_another_encoder_names_both(clap, library_index):
    out, _ = library_index
    with pytest.raises(
        IndexFileError,
        match=r"built with encoder minilm:all-MiniLM-L6-v2 but queried with clap:.*--encoder builtin",
    ):
        Retriever(MusicIndex.load(out), clap)


def test_missing_weights_are_model_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelUnavailable) as err:
        ClapEncoder.from_pretrained("laion/larger_clap_music", device="cpu")
    message = str(err.value)
    assert (
        "laion/larger_clap_music" in message
        and "--encoder builtin" in message
        and "not in the Hugging Face cache" in message
        and "HF_HUB_OFFLINE is set" in message
    )
    (tmp_path / "empty_model").mkdir()
    with pytest.raises(ModelUnavailable, match=r"holds no loadable model \(no config.json\).*--encoder builtin"):
        ClapEncoder.from_pretrained(str(tmp_path / "empty_model"), device="cpu")
