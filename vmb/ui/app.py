"""The page: step 1 (inputs), step 2 (the two bridges, editable), step 3 (the music).

``build_app(worker)`` lays the page out and wires its events to :class:`~vmb.ui.callbacks.Worker`;
``launch(...)`` starts it with the queue (one job at a time per worker, others wait with their
position shown), the upload limit, and the removal of old files.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from vmb.errors import VMBError
from vmb.ui.callbacks import (
    MAX_REFERENCE_PLAYERS,
    WANT_KEYS,
    Worker,
    fields_of,
    labels_of,
    shown_errors,
)
from vmb.ui.state import FIELDS, NONE, SECTION_COLUMNS, SYNC_CHOICES, Session, section_rows
from vmb.ui.uploads import (
    AUDIO_TYPES,
    DEFAULT_KEEP_S,
    IMAGE_TYPES,
    VIDEO_TYPES,
    Janitor,
    UploadLimits,
)

TITLE = "vmb: music for your visuals"
HISTORY_COLUMNS = ["#", "seed", "tempo (BPM)", "duration (s)", "generator", "wav"]


def _choices(kind: str) -> list[str]:
    from vmb.vocab import PITCH_CLASSES, load_vocab

    vocab = load_vocab()
    table = {
        "genre": list(vocab.genres),
        "mood": list(vocab.moods),
        "instrument": list(vocab.instruments),
        "tempo": list(vocab.tempo_synonyms),
        "key": list(PITCH_CLASSES),
        "mode": ["major", "minor"],
    }[kind]
    return table


def build_app(worker: Worker, keep_s: float = DEFAULT_KEEP_S):
    """The Gradio Blocks of the page (not started)."""
    import gradio as gr

    from vmb.limits import MAX_SEED, MAX_WEIGHT

    with gr.Blocks(title=TITLE, delete_cache=(int(max(60, keep_s / 2)), int(keep_s))) as demo:
        session = gr.State(None, time_to_live=keep_s)  # a closed tab's state goes after keep_s
        gr.Markdown(f"# {TITLE}\nDescribe your visuals, edit the two bridges, then make the music.")
        status = gr.Markdown("", elem_id="status")

        # ---------------------------------------------------------------- step 1
        with gr.Group():
            gr.Markdown("## 1 · Inputs")
            with gr.Row():
                video = gr.File(label="Video", file_types=list(VIDEO_TYPES), elem_id="video-input")
                images = gr.File(label="Images", file_count="multiple", file_types=list(IMAGE_TYPES),
                                 elem_id="image-input")  # fmt: skip
                references = gr.File(label="Pinned reference tracks", file_count="multiple",
                                     file_types=list(AUDIO_TYPES), elem_id="reference-input")  # fmt: skip
            text = gr.Textbox(label="Your words (they win over the pixels)", elem_id="text-input",
                              placeholder="e.g. sad piano at 70 bpm")  # fmt: skip
            with gr.Row():
                wants = [gr.Dropdown([NONE, *_choices(k)], value=NONE, label=f"want {k}", elem_id=f"want-{k}")
                         for k in WANT_KEYS]  # fmt: skip
            with gr.Row():
                duration = gr.Number(label="Duration in s (0: the video's length)", value=None,
                                     minimum=0, elem_id="duration")  # fmt: skip
                seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED, elem_id="seed")
                text_weight = gr.Slider(0, MAX_WEIGHT, value=3.0, step=0.1, label="Text bridge weight",
                                        elem_id="text-weight")  # fmt: skip
                music_weight = gr.Slider(0, MAX_WEIGHT, value=1.0, step=0.1, label="Music bridge weight",
                                         elem_id="music-weight")  # fmt: skip
            with gr.Row():
                profile = gr.Dropdown(["builtin", "default", "auto"], value=worker.profile or "auto",
                                      label="Profile", elem_id="profile")  # fmt: skip
                index = gr.Textbox(label="Index (a folder, or demo)", value=worker.index or "", elem_id="index")
            describe_btn = gr.Button("Describe", variant="primary", elem_id="describe")

        # ---------------------------------------------------------------- step 2
        with gr.Group(visible=False) as step2:
            gr.Markdown("## 2 · The bridges (edit them; the generator gets what you see)")
            with gr.Row():
                genre = gr.Dropdown([NONE, *_choices("genre")], label="Genre", allow_custom_value=True, elem_id="edit-genre")
                mood = gr.Dropdown(_choices("mood"), multiselect=True, label="Mood", elem_id="edit-mood")
                instruments = gr.Dropdown(_choices("instrument"), multiselect=True, label="Instruments",
                                          elem_id="edit-instruments")  # fmt: skip
            with gr.Row():
                tempo = gr.Number(label="Tempo (BPM)", elem_id="edit-tempo")
                key = gr.Dropdown([NONE, *_choices("key")], label="Key", elem_id="edit-key")
                mode = gr.Dropdown([NONE, "major", "minor"], label="Mode", elem_id="edit-mode")
                energy = gr.Slider(0, 1, step=0.01, label="Energy", elem_id="edit-energy")
            sentence = gr.Textbox(label="The sentence (text bridge)", lines=2, elem_id="edit-sentence")
            timeline = gr.Image(label="The timeline: sections and cuts over the frames", type="filepath",
                                interactive=False, elem_id="timeline")  # fmt: skip
            sections = gr.Dataframe(headers=SECTION_COLUMNS, label="Sections", interactive=False, wrap=True,
                                    elem_id="sections")  # fmt: skip
            with gr.Row():
                cues = gr.Textbox(label="Your cues, one a line (as vmb generate --cue): START-END=WORDS or a "
                                  "marker time; your words win over the pixels for that span", lines=3,
                                  placeholder="0-8=calm, piano\n8-16=energetic, fast\n16-24=mood:sad,energy:0.3\n12.5",
                                  elem_id="cues", scale=3)  # fmt: skip
                with gr.Column(scale=1):
                    sync = gr.Radio(list(SYNC_CHOICES), value="cuts", label="Sync: follow cuts, scenes, or off",
                                    elem_id="sync")  # fmt: skip
                    apply_btn = gr.Button("Apply cues and sync (describes again)", elem_id="apply-cues")
            cue_status = gr.Markdown("", elem_id="cue-status")
            gr.Markdown("**Music bridge**: untick a reference to drop it; tick *pin* to pin it.")
            keep = gr.CheckboxGroup([], label="Keep", elem_id="keep-refs")
            pin = gr.CheckboxGroup([], label="Pin", elem_id="pin-refs")
            with gr.Row():
                players = [gr.Audio(visible=False, interactive=False, elem_id=f"reference-{i + 1}")
                           for i in range(MAX_REFERENCE_PLAYERS)]  # fmt: skip
            bridges_json = gr.Code(label="Bridges", language="json", interactive=False, elem_id="bridges-json")
            with gr.Row():
                generate_btn = gr.Button("Generate", variant="primary", elem_id="generate")
                again_btn = gr.Button("Generate again (next seed)", elem_id="generate-again")
            generate_status = gr.Markdown("", elem_id="generate-status")  # also where the queue shows

        # ---------------------------------------------------------------- step 3
        with gr.Group(visible=False) as step3:
            gr.Markdown("## 3 · The music")
            with gr.Row():
                out_video = gr.Video(label="Video with its new music", interactive=False, elem_id="out-video")
                out_audio = gr.Audio(label="The music", type="filepath", interactive=False, elem_id="out-audio")
            waveform = gr.Image(label="Waveform and spectrogram (dashed: sections, red: bars)", type="filepath",
                                interactive=False, elem_id="waveform")  # fmt: skip
            downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
            result_json = gr.Code(label="Result (the .vmb.json file)", language="json", interactive=False,
                                  elem_id="result-json")  # fmt: skip
            history = gr.Dataframe(headers=HISTORY_COLUMNS, label="Earlier results", interactive=False,
                                   elem_id="history")  # fmt: skip
            with gr.Row():
                earlier = gr.Dropdown([], label="Listen to an earlier result", elem_id="earlier")
                earlier_audio = gr.Audio(type="filepath", interactive=False, label="Earlier result",
                                         elem_id="earlier-audio")  # fmt: skip

        # ---------------------------------------------------------------- events
        for component, kind in ((video, "video"), (images, "image"), (references, "audio")):
            component.upload(lambda files, k=kind: worker.check_upload(files, k), component, status,
                             queue=False, api_visibility="private")  # fmt: skip

        edit_fields = [genre, mood, instruments, tempo, key, mode, energy, sentence]

        @shown_errors
        def on_describe(progress=gr.Progress(), *values):  # noqa: B008 (gradio's way to ask for progress)
            profile_v, index_v, video_v, images_v, text_v, refs_v, duration_v, tw, mw, *rest = values
            want_v, (cue_v, sync_v) = rest[: len(WANT_KEYS)], rest[len(WANT_KEYS) :]
            new, folder, pipe = worker.describe(None, profile_v, index_v, video_v, images_v, text_v, refs_v,
                                                duration_v, tw, mw, *want_v, cue_text=cue_v, sync=sync_v,
                                                progress=progress)  # fmt: skip
            fields = fields_of(new)
            labels = labels_of(new)
            updates = [gr.update(value=fields[name]) for name in FIELDS]
            description = new.prepared.bridges.description
            picture = None
            if new.inputs["video"] or new.inputs["images"] or description.sections:
                from vmb.ui.pictures import timeline_png

                picture = timeline_png(description, folder / "timeline.png", video=new.inputs["video"],
                                       images=new.inputs["images"], duration_s=new.prepared.duration_s).path  # fmt: skip
            index_folder = getattr(getattr(pipe.retriever, "index", None), "path", None)
            player_updates = _reference_players(new, index_folder, folder)
            note_lines = "".join(f"\n- {n}" for n in new.prepared.notes)
            message = f"✅ described: {len(labels)} reference(s), {new.prepared.duration_s:.1f} s to make{note_lines}"
            cue_count = len(new.cues)
            applied = f"timeline made with {cue_count} cue line(s), sync {new.sync}" if cue_count or new.sync != "cuts" else ""
            return (
                new, message, gr.update(visible=True), *updates, gr.update(value=picture, visible=picture is not None),
                gr.update(choices=labels, value=labels), gr.update(choices=labels, value=[]), *player_updates,
                json.dumps(new.prepared.to_dict(), indent=2, ensure_ascii=False), section_rows(description), applied,
            )  # fmt: skip

        describe_inputs = [profile, index, video, images, text, references, duration, text_weight, music_weight,
                           *wants, cues, sync]  # fmt: skip
        describe_outputs = [session, status, step2, *edit_fields, timeline, keep, pin, *players, bridges_json,
                            sections, cue_status]  # fmt: skip
        describe_btn.click(on_describe, describe_inputs, describe_outputs, api_name="describe", concurrency_limit=1,
                           concurrency_id="pipeline")  # fmt: skip
        apply_btn.click(on_describe, describe_inputs, describe_outputs, concurrency_limit=1, concurrency_id="pipeline",
                        api_visibility="private")  # fmt: skip
        cues.change(worker.check_cues, [session, cues], cue_status, queue=False, api_visibility="private")

        @shown_errors
        def on_generate(progress=gr.Progress(), *values):  # noqa: B008 (gradio's way to ask for progress)
            session_v, profile_v, index_v, seed_v, keep_v, pin_v, tw, mw, *rest = values
            field_v, (cue_v, sync_v) = rest[: len(FIELDS)], rest[len(FIELDS) :]
            edits = dict(zip(FIELDS, field_v, strict=True))
            result, folder = worker.generate(session_v, profile_v, index_v, seed_v, edits, keep_v, pin_v,
                                             tw, mw, cue_text=cue_v, sync=sync_v, progress=progress)  # fmt: skip
            from vmb.ui.pictures import music_png

            report = Path(result.paths["json"]).read_text(encoding="utf-8")
            bars = _bar_marks(result)
            picture = music_png(result.audio, result.sample_rate, folder / "music.png",
                                result.bridges.description.sections, bars).path  # fmt: skip
            files = [result.paths[k] for k in ("mp4", "wav", "midi", "json") if k in result.paths]
            files += [str(p) for p in sorted(folder.glob("*.vmb.mid")) if str(p) not in files]
            rows = [made.row() for made in session_v.results]
            labels = [made.label for made in session_v.results]
            message = f"✅ made {result.duration_s:.2f} s of music (seed {result.seed})"
            return (
                session_v, message, gr.update(visible=True), result.paths.get("mp4"), result.paths["wav"],
                picture, files, report, rows, gr.update(choices=labels, value=None),
            )  # fmt: skip

        generate_inputs = [session, profile, index, seed, keep, pin, text_weight, music_weight, *edit_fields,
                           cues, sync]  # fmt: skip
        generate_outputs = [session, generate_status, step3, out_video, out_audio, waveform, downloads, result_json, history,
                            earlier]  # fmt: skip
        generate_btn.click(on_generate, generate_inputs, generate_outputs, api_name="generate",
                           concurrency_limit=1, concurrency_id="pipeline")  # fmt: skip
        again_btn.click(_next_seed, seed, seed, queue=False, api_visibility="private").then(
            on_generate, generate_inputs, generate_outputs, concurrency_limit=1, concurrency_id="pipeline",
            api_visibility="private",
        )  # fmt: skip

        def on_earlier(session_v: Session | None, label: str | None):
            found = [m for m in (session_v.results if session_v else []) if m.label == label]
            return found[0].wav if found and Path(found[0].wav).is_file() else None

        earlier.change(on_earlier, [session, earlier], earlier_audio, queue=False, api_visibility="private")
    return demo


def _next_seed(seed: Any) -> int:
    from vmb.limits import MAX_SEED

    return (int(seed or 0) + 1) % (MAX_SEED + 1)


def _reference_players(session: Session, index_folder: Any, folder: Path) -> list:
    import gradio as gr

    from vmb.ui.pictures import reference_excerpt
    from vmb.ui.state import hit_label

    hits = session.prepared.bridges.references[:MAX_REFERENCE_PLAYERS]
    updates = []
    for i in range(MAX_REFERENCE_PLAYERS):
        if i >= len(hits):
            updates.append(gr.update(value=None, visible=False))
            continue
        try:
            wav = reference_excerpt(hits[i].clip, index_folder, folder / f"reference-{i + 1}.wav")
        except VMBError:  # a reference that cannot be read is still listed, without a player
            wav = None
        updates.append(gr.update(value=wav, visible=wav is not None, label=hit_label(i + 1, hits[i])))
    return updates


def _bar_marks(result: Any) -> tuple[float, ...]:
    """A mark every bar (4 beats) of the made music's tempo, from the description or the plan."""
    bpm = result.bridges.description.tempo_bpm
    if not bpm:
        return ()
    bar = 4 * 60.0 / float(bpm)
    return tuple(i * bar for i in range(1, int(result.duration_s / bar) + 1))


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    profile: str | None = "builtin",
    index: str | None = None,
    config_file: str | None = None,
    overrides: tuple[str, ...] = (),
    share: bool = False,
    max_upload_mb: float = UploadLimits.max_mb,
    keep_s: float = DEFAULT_KEEP_S,
    workdir: str | os.PathLike | None = None,
    queue_size: int = 32,
    block: bool = True,
):
    """Start the app; return ``(demo, url)``. ``block=False`` returns at once (tests)."""
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="vmb-ui-"))
    root.mkdir(parents=True, exist_ok=True)
    worker = Worker(profile=profile, index=index, config_file=config_file, overrides=tuple(overrides),
                    workdir=root, limits=UploadLimits(max_mb=max_upload_mb))  # fmt: skip
    janitor = Janitor(root, keep_s=keep_s).start()
    demo = build_app(worker, keep_s=keep_s)
    demo.queue(default_concurrency_limit=1, max_size=queue_size)
    demo.vmb_worker, demo.vmb_janitor = worker, janitor
    _, url, _ = demo.launch(
        server_name=host, server_port=port, share=share, max_file_size=f"{max_upload_mb:g}mb",
        allowed_paths=[str(root)], prevent_thread_lock=not block, quiet=not block, ssr_mode=False,
        show_error=False, footer_links=["api"],
    )  # fmt: skip
    return demo, url
