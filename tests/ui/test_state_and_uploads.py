"""The page's edits as bridges (unedited fields keep their exact values) and the upload checks
and file removal, without a browser."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from vmb.errors import MediaError, UsageError, VMBError
from vmb.pipeline import Prepared
from vmb.testing import make_image, make_tone, make_video
from vmb.types import Bridges, Clip, Hit, MusicDescription, Section
from vmb.ui.state import apply_edits, reference_labels, shown_fields
from vmb.ui.uploads import Janitor, UploadLimits


def prepared() -> Prepared:
    description = MusicDescription(genre="pop", mood=("happy",), instruments=("piano",), tempo_bpm=101.37,
                                   tempo_class="medium", key="G", mode="major", energy=0.4567,
                                   text="A happy pop track.", source="visual")  # fmt: skip
    hits = [Hit(Clip(id=f"c{i}", path=f"c{i}.wav", start_s=0.0, duration_s=4.0, sample_rate=32000, caption=f"clip {i}"),
                score=0.9 - i / 10, rank=i + 1, track="broad") for i in range(3)]  # fmt: skip
    bridges = Bridges(description=description, text="A happy pop track.", references=tuple(hits))
    return Prepared(bridges=bridges, duration_s=2.0, notes=("n",), timings={"describe": 0.1})


def test_unedited_page_gives_back_the_same_prepared_object():
    p = prepared()
    same, notes = apply_edits(p, shown_fields(p.bridges.description), keep=reference_labels(p.bridges), pin=[],
                              text_weight=3.0, music_weight=1.0)  # fmt: skip
    assert same is p and notes == []
    assert shown_fields(p.bridges.description)["energy"] == 0.46  # shown rounded, kept exact


def test_edits_drop_and_pin():
    p = prepared()
    fields = {**shown_fields(p.bridges.description), "tempo_bpm": 150, "key": "(none)"}
    labels = reference_labels(p.bridges)
    new, notes = apply_edits(p, fields, keep=labels[:2], pin=[labels[1]], text_weight=5.0)
    d = new.bridges.description
    assert d.tempo_bpm == 150.0 and d.tempo_class == "fast" and d.key is None
    assert d.energy == 0.4567 and d.mood == ("happy",)  # untouched fields exact
    assert "150 BPM" in d.text and new.bridges.text == d.text and d.source == "visual+page"
    assert [h.clip.id for h in new.bridges.references] == ["c1", "c0"]
    assert [h.track for h in new.bridges.references] == ["pinned", "broad"]
    assert new.bridges.text_weight == 5.0 and new.duration_s == 2.0
    assert "edited in the page: tempo_bpm = 150.0" in notes and new.notes[-len(notes):] == tuple(notes)
    assert any(n.startswith("dropped in the page: reference 3") for n in notes)


def test_global_edits_reach_the_timeline_sections():
    """What the page edits is what every section says: no section keeps "(pop)" once the genre
    is jazz, a contradicting section mood gives way to the edited mood, energy shifts with it."""
    from vmb.describe.schema import section_sentence

    sections = (Section(0.0, 4.0, energy=0.2, mood=("calm", "dark"), genre="pop", tempo_class="slow"),
                Section(4.0, 8.0, energy=0.8, mood=("energetic", "happy"), genre="pop", instruments=("drums",)))
    sections = tuple(s.replace(text=section_sentence(s, i, 2)) for i, s in enumerate(sections))
    p = prepared()
    p = p.replace(bridges=dataclasses.replace(p.bridges, description=p.bridges.description.replace(sections=sections)))
    assert "(pop" in sections[0].text
    fields = {**shown_fields(p.bridges.description), "genre": "jazz", "mood": ["sad"], "energy": 0.6567}
    new, _ = apply_edits(p, fields)
    out = new.bridges.description.sections
    assert [s.genre for s in out] == [None, None] and all("pop" not in s.text for s in out)
    assert out[0].mood == ("sad", "calm", "dark")[:2] and out[1].mood == ("sad", "energetic")
    assert [s.energy for s in out] == [0.4, 1.0]  # +0.2, clipped at 1
    assert out[1].instruments == ("drums",) and out[0].tempo_class == "slow"  # not edited: kept
    assert "jazz" in new.bridges.description.text and "(pop" not in new.bridges.description.text


def test_a_typed_sentence_is_kept():
    p = prepared()
    fields = {**shown_fields(p.bridges.description), "text": "Slow dark drones.", "tempo_bpm": 60}
    new, _ = apply_edits(p, fields)
    assert new.bridges.description.text == "Slow dark drones." and new.bridges.text == "Slow dark drones."


@pytest.mark.parametrize("field, value, match", [("tempo_bpm", 5000, "tempo 5000 BPM"), ("energy", 3, "energy 3")])
def test_out_of_range_edits_are_messages(field, value, match):
    p = prepared()
    with pytest.raises(UsageError, match=match):
        apply_edits(p, {**shown_fields(p.bridges.description), field: value})


def test_upload_checks(tmp_path):
    limits = UploadLimits(max_mb=0.05)
    assert limits.check(make_video(tmp_path / "ok.mp4", seconds=1.0, size=(64, 48)), "video")
    assert limits.check(make_image(tmp_path / "ok.png", (32, 32)), "image")
    assert limits.check(make_tone(tmp_path / "ok.wav", (220.0,), seconds=0.2, sr=8000), "audio")
    (tmp_path / "notes.mp4").write_text("not a video\n" * 10)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "big.wav").write_bytes(b"\0" * 60_000)
    (tmp_path / "script.sh").write_text("echo hi")
    with pytest.raises(MediaError, match="notes.mp4"):
        limits.check(tmp_path / "notes.mp4", "video")
    with pytest.raises(UsageError, match=r"empty.png: the file is empty \(0 bytes\)"):
        limits.check(tmp_path / "empty.png", "image")
    with pytest.raises(UsageError, match="big.wav: 0.1 MB is over the upload limit of 0.05 MB"):
        limits.check(tmp_path / "big.wav", "audio")
    with pytest.raises(UsageError, match="script.sh: not a video file"):
        limits.check(tmp_path / "script.sh", "video")
    with pytest.raises(MediaError, match="has no video stream"):
        limits.check(_renamed(tmp_path, "ok.wav", "sound.mp4"), "video")


def _renamed(folder, name, new):
    (folder / new).write_bytes((folder / name).read_bytes())
    return folder / new


def test_janitor_removes_only_old_entries(tmp_path):
    old, new = tmp_path / "old-run", tmp_path / "new-run"
    old.mkdir(), new.mkdir()
    (old / "music.wav").write_bytes(b"x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    removed = Janitor(tmp_path, keep_s=3600).sweep()
    assert removed == [old] and not old.exists() and new.is_dir()


def test_cue_box_lines_are_cues_in_time_order():
    from vmb.ui.state import cue_lines, page_cues

    text = "# the chorus\n8-16 = energetic, fast\n\n  0-8=calm,piano  \n12.5\n"
    cues = page_cues(text)
    assert [(c.start_s, c.end_s) for c in cues] == [(0.0, 8.0), (8.0, 16.0), (12.5, None)]
    assert cues[0].mood == ("calm",) and cues[0].instruments == ("piano",)
    assert cues[1].mood == ("energetic",) and cues[1].tempo_class == "fast"
    assert cues[0].label == "cue line 4 (0-8=calm,piano)"
    assert cue_lines(text) == ("8-16 = energetic, fast", "0-8=calm,piano", "12.5")
    assert page_cues("") == () and page_cues(None) == () and page_cues("# nothing\n\n") == ()


@pytest.mark.parametrize(
    "text, kind, message",
    [
        ("0-8=calm\n8-16=blorp", "CueError", "cue line 2: 8-16=blorp: unknown attribute 'blorp'"),
        ("eight-16=calm", "UsageError", "cue line 1: eight-16=calm: 'eight' is not a time"),
        ("0-8=calm\n4-10=sad", "CueError", "cue line 2 (4-10=sad) overlaps cue line 1 (0-8=calm) (4 s < 8 s)"),
        ("3=calm", "UsageError", "cue line 1: 3=calm: a marker (one time) takes no attributes"),
        ("0-4=energy:7", "CueError", "cue line 1: 0-4=energy:7: energy 7.0 is not between 0 and 1"),
    ],
)
def test_bad_cue_lines_name_the_line(text, kind, message):
    from vmb.ui.state import page_cues

    with pytest.raises(VMBError) as caught:
        page_cues(text)
    assert type(caught.value).__name__ == kind and message in str(caught.value), str(caught.value)


def test_generate_needs_the_cues_and_sync_the_bridges_were_made_with():
    from vmb.ui.state import Session

    session = Session(prepared=prepared(), cues=("0-1=calm",), sync="scenes")
    session.check_timeline("  0-1=calm \n\n# a comment", "scenes")  # the same cues: fine
    for cue_text, sync in (("0-1=sad", "scenes"), ("0-1=calm", "cuts"), ("", "scenes")):
        with pytest.raises(UsageError, match="press 'Apply cues and sync' first"):
            session.check_timeline(cue_text, sync)
    with pytest.raises(UsageError, match="sync 'sometimes': use one of cuts, scenes, off"):
        session.check_timeline("0-1=calm", "sometimes")


def test_section_rows_show_the_timeline():
    from vmb.ui.state import SECTION_COLUMNS, section_rows

    d = MusicDescription(sections=(Section(0.0, 2.5, energy=0.333, mood=("calm", "sad"), source="video"),
                                   Section(2.5, 4.0, source="cue", text="a cue section")))  # fmt: skip
    rows = section_rows(d)
    assert rows == [[1, 0.0, 2.5, 0.33, "calm, sad", "", "", "video", ""], [2, 2.5, 4.0, None, "", "", "", "cue", "a cue section"]]
    assert all(len(r) == len(SECTION_COLUMNS) for r in rows)


def test_cue_box_status_line():
    from vmb.ui.callbacks import Worker
    from vmb.ui.state import Session

    worker = Worker()
    assert worker.check_cues(None, "0-1=calm\n1.5") == "1 section cue(s), 1 marker(s): press Apply to remake the timeline"
    session = Session(prepared=prepared(), cues=("0-1=calm",))  # 2 s of music
    assert worker.check_cues(session, " 0-1=calm ") == "1 section cue(s), 0 marker(s), as applied"
    assert worker.check_cues(session, "") == "no cues: press Apply to remake the timeline without them"
    assert worker.check_cues(session, "0-3=calm") == "⚠️ cue line 1 (0-3=calm): outside the music (0 to 2.00 s)"
    assert worker.check_cues(session, "0-1=blorp").startswith("⚠️ cue line 1: 0-1=blorp: unknown attribute 'blorp'")
