"""The page in headless Chromium: the whole flow with screenshots, bad uploads, two users at
once, and a reload in the middle of a generation."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from ui.browser import (
    all_css,
    choose_radio,
    code_text,
    css,
    errors_shown,
    image_size,
    image_src,
    input_value,
    media_duration,
    media_source,
    new_driver,
    open_app,
    require_browser,
    require_ui_extra,
    set_number,
    shot,
    status_text,
    type_into,
    upload,
    wait_for,
)

require_ui_extra()
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def driver():
    require_browser()
    drv = new_driver()
    yield drv
    drv.quit()


def describe_clip(driver, url, clip):
    open_app(driver, url)
    upload(driver, "video-input", clip)
    wait_for(lambda: "clip\n.mp4" in css(driver, "#video-input").text, what="the upload to show")
    css(driver, "#describe").click()
    wait_for(lambda: status_text(driver).startswith("✅ described"), what="Describe to finish")
    wait_for(lambda: input_value(driver, "edit-tempo"), what="the tempo field")


def generate_and_wait(driver):
    css(driver, "#generate").click()
    return wait_for(lambda: "✅ made" in status_text(driver, "generate-status"), what="Generate to finish")


def test_describe_edit_tempo_generate(driver, app_url, clip, artifacts):
    open_app(driver, app_url)
    shot(driver, artifacts, "0-start")
    describe_clip(driver, app_url, clip)
    shot(driver, artifacts, "1-described")
    shown = float(input_value(driver, "edit-tempo"))
    assert 40 <= shown <= 220
    set_number(driver, "edit-tempo", 150)
    assert float(input_value(driver, "edit-tempo")) == 150
    shot(driver, artifacts, "2-tempo-edited")
    generate_and_wait(driver)
    assert media_source(driver, "out-audio").endswith("clip.vmb.wav")
    assert media_source(driver, "out-video").endswith("clip.vmb.mp4")
    audio = wait_for(lambda: media_duration(driver, "out-audio"), what="the music's duration")
    video = wait_for(lambda: media_duration(driver, "out-video"), what="the video's duration")
    assert abs(audio - 2.0) < 0.05, audio
    assert abs(video - 2.0) < 0.15, video
    shown_json = css(driver, "#result-json").text
    assert '"tempo_bpm": 150.0' in shown_json, shown_json[:500]
    links = [a.get_attribute("href") or "" for a in all_css(driver, "#downloads a")]
    assert any(link.endswith("clip.vmb.wav") for link in links), links
    assert any(link.endswith("clip.vmb.mid") for link in links), links
    shot(driver, artifacts, "3-generated")
    assert not errors_shown(driver)

    css(driver, "#generate-again").click()  # the next seed; the first result stays listed
    wait_for(lambda: "(seed 1)" in status_text(driver, "generate-status"), what="Generate again to finish")
    assert input_value(driver, "seed") == "1"
    wait_for(lambda: css(driver, "#history").text.count("builtin-composer") == 2, what="two results listed")
    rows = css(driver, "#history").text.split("clip.vmb.wav")
    assert rows[0].split()[-5:-2] == ["1", "0", "150"] and rows[1].split()[:3] == ["2", "1", "150"], rows

    from selenium.webdriver.common.keys import Keys

    box = css(driver, "#earlier input")
    box.click()
    box.send_keys("#1", Keys.ENTER)
    wait_for(lambda: input_value(driver, "earlier").startswith("#1"), what="the earlier result to be chosen")
    assert wait_for(lambda: media_duration(driver, "earlier-audio"), what="the earlier result") == pytest.approx(2.0, abs=0.05)
    shot(driver, artifacts, "4-generated-again")


@pytest.mark.parametrize(
    "name, content, kind, expected",
    [
        ("notes.mp4", b"these are my notes, not a video\n" * 20, "video-input", "notes.mp4: "),
        ("empty.png", b"", "image-input", "empty.png: the file is empty (0 bytes)"),
    ],
)
def test_bad_upload_is_a_message_in_the_page(driver, app_url, tmp_path, artifacts, name, content, kind, expected):
    bad = tmp_path / name
    bad.write_bytes(content)
    open_app(driver, app_url)
    upload(driver, kind, bad)
    message = wait_for(lambda: expected in status_text(driver) and status_text(driver), what="the upload message")
    assert message.startswith("⚠️") and "Traceback" not in message and str(tmp_path) not in message
    css(driver, "#describe").click()  # Describe with it: the same check, as an error message
    name_shown = expected.split(":")[0]
    shown = wait_for(lambda: name_shown in errors_shown(driver) and errors_shown(driver), what="the error message")
    assert "Traceback" not in shown and str(tmp_path) not in shown
    shot(driver, artifacts, f"bad-upload-{name}")


def test_two_users_generate_at_once_one_queued(ui_app, app_url, clip, artifacts):
    require_browser()
    demo, _ = ui_app
    worker = demo.vmb_worker
    spans, lock = [], threading.Lock()
    original = worker.generate

    def timed(*args, **kwargs):
        start = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                spans.append((start, time.monotonic()))

    worker.generate = timed
    drivers = [new_driver(), new_driver()]
    try:
        for d in drivers:
            describe_clip(d, app_url, clip)
        for d in drivers:
            css(d, "#generate").click()
        queued = set()  # the page of the user who waits shows Gradio's "queue: position/size"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all("✅ made" in status_text(d, "generate-status") for d in drivers):
            for i, d in enumerate(drivers):
                if i not in queued and re.search(r"queue: \d+/\d+", d.execute_script("return document.body.innerText")):
                    queued.add(i)
                    d.save_screenshot(str(artifacts / "two-users-queued.png"))
            time.sleep(0.05)
        assert queued, "no page showed its place in the queue"
        for i, d in enumerate(drivers):
            wait_for(lambda d=d: "✅ made" in status_text(d, "generate-status"), what=f"user {i + 1}'s music")
            assert wait_for(lambda d=d: media_duration(d, "out-audio"), what="the music") == pytest.approx(2.0, abs=0.05)
        shot(drivers[1], artifacts, "two-users-second")
    finally:
        worker.generate = original
        for d in drivers:
            d.quit()
    assert len(spans) == 2
    (_a_start, a_end), (b_start, _b_end) = sorted(spans)
    assert b_start >= a_end  # one generation at a time: the second waited in the queue


def test_reload_during_generation_leaves_the_app_working(driver, app_url, clip, artifacts):
    describe_clip(driver, app_url, clip)
    css(driver, "#generate").click()
    time.sleep(0.3)
    driver.refresh()
    describe_clip(driver, app_url, clip)
    generate_and_wait(driver)
    assert wait_for(lambda: media_duration(driver, "out-audio"), what="the music") == pytest.approx(2.0, abs=0.05)
    assert not errors_shown(driver)
    shot(driver, artifacts, "after-reload")


def test_upload_over_the_size_limit_is_a_message(driver, app_url, tmp_path, artifacts):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (6 * 1024 * 1024))  # the test app's limit is 5 MB
    open_app(driver, app_url)
    upload(driver, "reference-input", big)
    shown = wait_for(lambda: "big.wav" in errors_shown(driver) and errors_shown(driver), what="the size message")
    assert "exceed the maximum allowed size of 5.0 Mb" in shown  # Gradio refuses it before it arrives
    assert "big.wav" not in css(driver, "#reference-input").text  # nothing was uploaded
    shot(driver, artifacts, "bad-upload-too-big")


def test_timeline_picture_cue_and_sync_reach_the_music(driver, app_url, clip, artifacts):
    """Describe: the timeline picture appears; type a cue and choose the sync, Apply: the
    picture and the sections change; Generate: the result JSON has the cue's section."""
    describe_clip(driver, app_url, clip)
    size = wait_for(lambda: image_size(driver, "timeline"), what="the timeline picture")
    assert size[0] >= 800 and size[1] >= 250, size  # the picture, not an icon
    first_picture = image_src(driver, "timeline")
    assert "cue" not in css(driver, "#sections").text
    shot(driver, artifacts, "timeline-1-described")

    type_into(driver, "cues", "0.5-1.5=sad, energy:0.2")
    wait_for(lambda: "1 section cue(s), 0 marker(s)" in status_text(driver, "cue-status"), what="the cue check")
    choose_radio(driver, "sync", "scenes")
    css(driver, "#apply-cues").click()
    wait_for(lambda: "timeline made with 1 cue line(s), sync scenes" in status_text(driver, "cue-status"),
             what="Apply to remake the timeline")  # fmt: skip
    wait_for(lambda: image_src(driver, "timeline") not in (None, first_picture), what="a new timeline picture")
    assert wait_for(lambda: image_size(driver, "timeline"), what="the new picture")[0] >= 800
    table = wait_for(lambda: "video+cue" in css(driver, "#sections").text and css(driver, "#sections").text,
                     what="the cue's section in the table")  # fmt: skip
    assert "0.5" in table and "1.5" in table and "sad" in table
    shot(driver, artifacts, "timeline-2-cue-applied")

    generate_and_wait(driver)
    report = json.loads(code_text(driver, "result-json"))  # the whole JSON the page shows
    assert report["bridges"]["description"]["sync"] == "scenes"
    sections = report["bridges"]["description"]["sections"]
    cue_sections = [s for s in sections if "cue" in s["source"]]
    assert [(s["start_s"], s["end_s"], s["energy"]) for s in cue_sections] == [(0.5, 1.5, 0.2)], sections
    assert "sad" in cue_sections[0]["mood"]
    music = wait_for(lambda: image_size(driver, "waveform"), what="the waveform and spectrogram")
    assert music[0] >= 800 and music[1] >= 300, music
    shot(driver, artifacts, "timeline-3-generated")
    assert not errors_shown(driver)


def test_bad_cue_is_a_message_in_the_page(driver, app_url, clip, artifacts):
    describe_clip(driver, app_url, clip)
    type_into(driver, "cues", "0-1=calm\n1-2=flibbertigibbet")
    live = wait_for(lambda: "⚠️" in status_text(driver, "cue-status") and status_text(driver, "cue-status"),
                    what="the cue check")  # fmt: skip
    assert "cue line 2: 1-2=flibbertigibbet: unknown attribute 'flibbertigibbet'" in live
    shot(driver, artifacts, "bad-cue-typed")
    css(driver, "#generate").click()  # the cues were not applied: a message, no music
    shown = wait_for(lambda: "Apply cues and sync" in errors_shown(driver) and errors_shown(driver),
                     what="the not-applied message")  # fmt: skip
    assert "Traceback" not in shown
    css(driver, "#apply-cues").click()
    shown = wait_for(lambda: "flibbertigibbet" in errors_shown(driver) and errors_shown(driver),
                     what="the bad cue's message")  # fmt: skip
    assert "cue line 2" in shown and "Traceback" not in shown
    type_into(driver, "cues", "0-5=calm")  # past the 2 s clip: known once the clip is described
    live = wait_for(lambda: "outside" in status_text(driver, "cue-status") and status_text(driver, "cue-status"),
                    what="the cue check")  # fmt: skip
    assert "cue line 1 (0-5=calm): outside the music (0 to 2.00 s)" in live
    shot(driver, artifacts, "bad-cue-message")
    assert "✅ made" not in status_text(driver, "generate-status")
