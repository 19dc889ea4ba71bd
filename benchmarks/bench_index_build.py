"""Index build throughput (clips/s) with the built-in encoders on real rendered music.

The audio: Bach chorales of the music21 corpus, written to MIDI by music21 and rendered to
wav by the ``fluidsynth`` command line with the General MIDI soundfont (real polyphonic
music, not test tones). Each file is cut into ``--segment-s`` clips.

In the same run:

- ``vmb``: ``build_index(folder, out, encoder="builtin")`` end to end: read, cut, measure
  attributes (tempo, key, energy, loudness), caption, MiniLM caption embeddings, measured
  feature vectors, FAISS index, atomic write. Timed twice (the second with the MiniLM model
  already loaded, which is how a long build amortises it).
- the plain library calls for the same clips, each alone: ``soundfile.read`` of every file;
  ``SentenceTransformer.encode`` of the clips' captions; and vmb's per-clip measurements
  (``vmb.analysis`` tempo + key + energy, the features encoder), to show where the time goes.

    python -m benchmarks.bench_index_build [--files 8] [--seconds 40] [--segment-s 10]

Writes ``benchmarks/results/index_build.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "index_build.json"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SR = 22050


def render_chorales(folder: Path, files: int, seconds: float) -> list[Path]:
    """Render the first ``files`` Bach chorales (first ``seconds`` of each) to wav."""
    import soundfile as sf
    from music21 import corpus

    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        raise SystemExit(
            "bench_index_build needs the fluidsynth command and /usr/share/sounds/sf2/FluidR3_GM.sf2"
        )
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in corpus.getComposer("bach"):
        if len(out) == files:
            break
        score = corpus.parse(path)
        midi = folder / f"{Path(path).stem}.mid"
        score.write("midi", fp=str(midi))
        wav = folder / f"{Path(path).stem}.wav"
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-q",
                "-g",
                "0.8",
                "-r",
                str(SR),
                "-F",
                str(wav),
                str(SOUNDFONT),
                str(midi),
            ],
            check=True,
            capture_output=True,
        )
        midi.unlink()
        audio, sr = sf.read(str(wav), dtype="float32")
        if len(audio) < sr * seconds / 2:
            wav.unlink()
            continue
        sf.write(str(wav), audio[: int(seconds * sr)], sr)
        out.append(wav)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--segment-s", type=float, default=10.0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    import faiss
    import soundfile as sf

    from vmb import analysis
    from vmb.media import read_audio
    from vmb.retrieve import MusicIndex, build_index, load_encoder
    from vmb.retrieve.encoders.features import FeaturesEncoder

    faiss.omp_set_num_threads(1)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench_index_build_"))
    try:
        t = time.perf_counter()
        files = render_chorales(work / "music", args.files, args.seconds)
        render_s = time.perf_counter() - t
        audio_s = sum(sf.info(str(f)).duration for f in files)

        t = time.perf_counter()
        build_index(
            work / "music",
            work / "index_cold",
            encoder="builtin",
            segment_s=args.segment_s,
            hop_s=args.segment_s,
            progress=False,
        )
        cold_s = time.perf_counter() - t
        encoder = load_encoder("builtin", device="cpu")
        t = time.perf_counter()
        info = build_index(
            work / "music",
            work / "index",
            encoder=encoder,
            segment_s=args.segment_s,
            hop_s=args.segment_s,
            progress=False,
        )
        warm_s = time.perf_counter() - t
        clips = MusicIndex.load(work / "index").clips()

        # the plain library calls on the same clips
        t = time.perf_counter()
        for f in files:
            sf.read(str(f), dtype="float32")
        read_s = time.perf_counter() - t
        captions = [c.caption for c in clips]
        t = time.perf_counter()
        encoder.main.model.encode(
            captions, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        encode_s = time.perf_counter() - t
        pieces = [
            read_audio(c.path, mono=True, start_s=c.start_s, duration_s=c.duration_s) for c in clips
        ]
        t = time.perf_counter()
        for audio, sr in pieces:
            analysis.estimate_tempo(audio, sr)
            analysis.estimate_key(audio, sr)
            analysis.energy(audio, sr)
        measure_s = time.perf_counter() - t
        features = FeaturesEncoder()
        t = time.perf_counter()
        for audio, sr in pieces:
            features.measure(audio, sr, tempo_bpm=120.0, loudness_db=-20.0)
        features_s = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(clips)
    result = {
        "benchmark": "index_build",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "audio": {
            "what": "Bach chorales (music21 corpus) rendered with fluidsynth + FluidR3_GM",
            "files": len(files),
            "seconds_of_audio": round(audio_s, 1),
            "sample_rate": SR,
            "render_s": round(render_s, 1),
        },
        "clips": n,
        "index_type": info.index_type,
        "vmb": {
            "build_cold_s": round(cold_s, 2),
            "build_warm_s": round(warm_s, 2),
            "clips_per_s_cold": round(n / cold_s, 2),
            "clips_per_s_warm": round(n / warm_s, 2),
            "audio_seconds_per_s_warm": round(audio_s / warm_s, 1),
        },
        "plain_calls": {
            "soundfile_read_s": round(read_s, 3),
            "minilm_encode_captions_s": round(encode_s, 3),
            "analysis_tempo_key_energy_s": round(measure_s, 2),
            "features_measure_s": round(features_s, 2),
        },
        "ratios": {
            "build_warm_vs_read_plus_encode": round(warm_s / (read_s + encode_s), 1),
            "share_of_build_in_analysis": round(measure_s / warm_s, 2),
            "share_of_build_in_features": round(features_s / warm_s, 2),
            "share_of_build_in_minilm": round(encode_s / warm_s, 3),
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    write_result(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
