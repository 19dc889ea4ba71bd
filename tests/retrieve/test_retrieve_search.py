"""Dual-track retrieval with real MiniLM caption embeddings: broad, targeted, pinned."""

import json
import shutil

import pytest

from vmb.errors import IndexFileError, UsageError
from vmb.retrieve import MusicIndex, Retriever
from vmb.retrieve.encoders.base import Encoder, IndexEncoder
from vmb.types import MusicDescription, Wants
from vmb.vocab import parse_wants


@pytest.fixture(scope="module")
def retriever(library_index, builtin_encoder):
    out, _ = library_index
    return Retriever(MusicIndex.load(out), builtin_encoder)


@pytest.mark.parametrize(
    "query, track",
    [
        ("a sad violin melody", "audio/violin_lament.wav"),
        ("loud guitars and heavy drums", "audio/rock_anthem.wav"),
        ("saxophone jazz late at night", "audio/jazz_club.wav"),
        ("spacey dreamy synthesizer pads", "audio/ambient_space.wav"),
        ("a cheerful summer pop hit", "audio/pop_summer.wav"),
    ],
)
def test_caption_queries_find_the_right_clip(retriever, query, track):
    result = retriever.search(query)
    assert [h.track for h in result] == ["broad"]
    assert result[0].clip.track_id == track
    assert 0 < result[0].score <= 1.0 and result[0].rank == 1


def test_wants_restrict_the_targeted_track_to_the_partition(retriever):
    wants = parse_wants(["genre=jazz"])
    result = retriever.search(
        MusicDescription(text="Dreamy ambient pads floating in space."), wants
    )
    assert result.text == "Dreamy ambient pads floating in space, in the style of jazz."
    assert result.partition_size == 4
    broad, targeted = result.by_track("broad"), result.by_track("targeted")
    assert broad[0].clip.track_id == "audio/ambient_space.wav"
    assert len(targeted) == 1 and targeted[0].clip.attributes.genre == "jazz"
    # several wants: every one must hold
    result = retriever.search(
        "something", parse_wants(["instrument=drums", "mood=energetic"]), k_targeted=5
    )
    hits = result.by_track("targeted")
    assert {h.clip.track_id for h in hits} == {"audio/rock_anthem.wav", "audio/jazz_bebop.wav"}
    assert all(
        "drums" in h.clip.attributes.instruments and "energetic" in h.clip.attributes.mood
        for h in hits
    )
    assert any("2 of 5 wanted" in n for n in result.notes)


def test_tempo_want_uses_the_measured_tempo_class(retriever):
    index = retriever.index
    slow = {c.track_id for c in index.clips() if c.attributes.tempo_class == "slow"}
    result = retriever.search("music", Wants(tempo="slow"), k_targeted=6)
    assert slow and {h.clip.track_id for h in result.by_track("targeted")} == slow - {
        h.clip.track_id for h in result.by_track("broad")
    }


def test_empty_partition_is_reported_not_widened(retriever):
    result = retriever.search("a rock anthem", parse_wants(["genre=metal"]))
    assert result.partition_size == 0
    assert result.by_track("targeted") == ()
    assert len(result.by_track("broad")) == 1
    assert any(
        "no clip of the index matches genre=metal" in n and "not widened" in n for n in result.notes
    )


def test_no_two_hits_from_one_track_unless_allowed(retriever):
    hits = retriever.search("music", k_broad=20)
    assert len(hits) == 6 and len({h.clip.track_id for h in hits}) == 6
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5, 6]
    assert list(hits) == sorted(hits, key=lambda h: -h.score)
    assert any("6 of 20" in n for n in hits.notes)
    same = Retriever(retriever.index, retriever.encoder, allow_same_track=True).search(
        "music", k_broad=12
    )
    assert len(same) == 12 and len({h.clip.track_id for h in same}) == 6


def test_pinned_references_come_first_and_their_tracks_are_not_repeated(retriever, library):
    rock = library.parent / "audio" / "rock_anthem.wav"
    result = retriever.search(
        "loud guitars and heavy drums", Wants(genre="rock"), pinned=[str(rock)]
    )
    assert result[0].track == "pinned" and result[0].clip.path == str(rock.resolve())
    assert result[0].score == 1.0 and result[0].clip.attributes.tempo_bpm == pytest.approx(
        150, rel=0.04
    )
    assert all(h.clip.track_id != "audio/rock_anthem.wav" for h in result[1:])
    assert result.by_track("targeted") == ()  # the only rock track is the pinned one
    data = json.loads(json.dumps(result.to_dict()))
    assert [h["track"] for h in data["hits"]][:1] == ["pinned"]
    assert data["hits"][0]["clip"]["path"] == str(rock.resolve())


def test_a_reference_alone_searches_by_sound(retriever, library, tmp_path):
    # a copy of a library track under another name: the same sound, not the same file
    copy = tmp_path / "my_reference.wav"
    shutil.copy(library.parent / "audio" / "ambient_space.wav", copy)
    result = retriever.search(None, pinned=[str(copy)], k_broad=2)
    assert [h.track for h in result] == ["pinned", "broad", "broad"]
    assert result[1].clip.track_id == "audio/ambient_space.wav"
    assert result[1].score > result[2].score + 0.2
    assert any("searched by the sound" in n for n in result.notes)
    # an excerpt that is exactly one indexed clip: the same features, cosine 1
    from vmb.media import read_audio, write_wav

    audio, sr = read_audio(copy, start_s=3.0, duration_s=3.0)
    write_wav(tmp_path / "excerpt.wav", audio, sr, subtype="FLOAT")
    excerpt = retriever.search(None, pinned=[str(tmp_path / "excerpt.wav")], k_broad=1)
    assert excerpt[1].clip.id == "audio/ambient_space.wav@3.00"
    assert excerpt[1].score == pytest.approx(1.0, abs=1e-3)


def test_bad_queries(retriever, tmp_path):
    with pytest.raises(UsageError, match="nothing to search with"):
        retriever.search(None)
    with pytest.raises(UsageError, match=r"must be 0 or more \(got broad=-1"):
        retriever.search("x", k_broad=-1)
    from vmb.errors import MediaError

    with pytest.raises(MediaError, match="missing.wav"):
        retriever.search("x", pinned=[str(tmp_path / "missing.wav")])


def test_an_other_encoder_is_a_clear_error(retriever):
    class Other(Encoder):
        id, dim, modalities = "minilm:some-other-model", 384, ("text",)

    other = IndexEncoder(
        kind="builtin", main=Other(), clip_input="caption", audio=retriever.encoder.audio
    )
    with pytest.raises(
        IndexFileError,
        match="built with encoder minilm:all-MiniLM-L6-v2 but queried with minilm:some-other-model",
    ):
        Retriever(retriever.index, other)
