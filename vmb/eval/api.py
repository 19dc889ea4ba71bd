"""``evaluate``: measure a set of generated music against references, captions and videos.

Metric names (``metrics=``):

=================  ===================================================  ==================
name               what                                                 needs
=================  ===================================================  ==================
``fd-features``    FD on vmb's built-in features (offline, not FAD)     reference
``fd-clap``        FAD on CLAP audio embeddings                         reference, CLAP
``fd-encodec``     FAD on EnCodec latents                               reference, EnCodec
``fd-ast``         FAD on the AST AudioSet embedding                    reference, AST
``kl-ast``         KL of AudioSet class distributions, paired by name   reference, AST
``clap-score``     CLAP text–audio cosine                               captions or results
``alignment``      cut/beat BHS/BCS and motion–loudness                 videos
``imagebind``      ImageBind video–audio score: not computed (see README)  (no backend)
``control``        tempo/key/mode/energy/instruments asked vs measured  vmb result JSONs
=================  ===================================================  ==================

With ``metrics=None`` every metric whose inputs are there and whose weights are present locally
is computed, and the report says which were not and why. A metric named explicitly whose model
is missing raises :class:`~vmb.errors.ModelUnavailable`; one whose inputs are missing raises
:class:`~vmb.errors.UsageError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import MediaError, UsageError
from vmb.eval import alignment, controllability
from vmb.eval.cache import ItemCache, default_cache_dir
from vmb.eval.clap_score import clap_scores, clip_embedding, text_for_item
from vmb.eval.embedders import DEFAULT_MODELS, LABELS, load_embedder
from vmb.eval.fd import fd_with_uncertainty
from vmb.eval.items import EvalItem, ItemSet, collect_items, pair_items, read_captions
from vmb.eval.kl import kl_divergence, softmax
from vmb.eval.measuring import ItemRunner, default_threads
from vmb.eval.report import EvalReport, MetricResult

METRICS = (
    "fd-features", "fd-clap", "fd-encodec", "fd-ast", "kl-ast", "clap-score", "alignment", "imagebind", "control",
)  # fmt: skip
MODEL_OF = {"fd-clap": "clap", "fd-encodec": "encodec", "fd-ast": "ast", "kl-ast": "ast", "clap-score": "clap"}


def parse_metrics(metrics: str | Sequence[str] | None) -> list[str] | None:
    """``"fd-features,kl-ast"`` or a list → names; ``None``/``"auto"`` → ``None`` (automatic)."""
    if metrics is None:
        return None
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) for m in m.split(",")]
    names = [n for n in names if n]
    if names == ["auto"] or not names:
        return None
    for name in names:
        if name not in METRICS:
            raise UsageError(f"--metrics {name}: unknown metric; use any of: {', '.join(METRICS)} (or auto)")
    return list(dict.fromkeys(names))


def _as_items(source, what: str) -> ItemSet:
    return source if isinstance(source, ItemSet) else collect_items(source, what)


def evaluate(
    generated: str | os.PathLike | Sequence[str | os.PathLike] | ItemSet,
    reference: str | os.PathLike | Sequence[str | os.PathLike] | ItemSet | None = None,
    captions: str | os.PathLike | dict[str, str] | None = None,
    metrics: str | Sequence[str] | None = None,
    *,
    models: dict[str, str] | None = None,
    device: str = "auto",
    tolerance_s: float = alignment.DEFAULT_TOLERANCE_S,
    bootstrap: int = 200,
    seed: int = 0,
    cache_dir: str | os.PathLike | None | bool = True,
    progress: bool = False,
    threads: int | None = None,
) -> EvalReport:
    """Measure ``generated`` (folder, list of files or :class:`ItemSet`) against ``reference``.

    Args:
        generated, reference: folders (recursive) or lists of audio files / videos with music.
        captions: a captions file (see :func:`~vmb.eval.items.read_captions`) or ``{name: text}``.
        metrics: names from :data:`METRICS`, comma-separated or a list; ``None`` = automatic.
        models: ``{"clap"|"encodec"|"ast": hub id or folder}`` overriding the defaults.
        tolerance_s: the cut/beat tolerance (± seconds).
        bootstrap: bootstrap resamples for the FD intervals (0: none).
        cache_dir: ``True`` = :func:`default_cache_dir`, a folder, or ``None``/``False`` = no cache.
        threads: 2 decodes the next items in a background thread while the current one is
            measured (see :mod:`vmb.eval.measuring`) and computes the FD bootstrap in two
            batches at once; 1 uses no other thread; ``None`` (default): 2 when the process may
            use two CPUs (:func:`~vmb.eval.measuring.default_threads`). The results are the same.

    Raises:
        MediaError: an empty folder, a missing file, no pairs where pairs are needed, or every
            item of a side unreadable.
        UsageError: an unknown metric, or a named metric without its inputs.
        ModelUnavailable: a named metric's model is not present.
    """
    if not (tolerance_s > 0):
        raise UsageError(f"tolerance {tolerance_s!r}: must be a positive number of seconds")
    wanted = parse_metrics(metrics)
    gen = _as_items(generated, "generated")
    ref = _as_items(reference, "reference") if reference is not None else None
    caption_map = read_captions(captions) if isinstance(captions, (str, os.PathLike)) else dict(captions or {})
    models = {**DEFAULT_MODELS, **(models or {})}
    report = EvalReport()
    report.settings = {
        "generated": gen.source,
        "reference": ref.source if ref else None,
        "captions": str(captions) if isinstance(captions, (str, os.PathLike)) else None,
        "tolerance_s": tolerance_s,
        "bootstrap": bootstrap,
    }
    chosen = _choose_metrics(wanted, gen, ref, caption_map, models, report.notes)
    report.settings["metrics"] = chosen
    names = {m.split("-", 1)[1] for m in chosen if m.startswith("fd-")}
    names |= {MODEL_OF[m] for m in chosen if m in ("kl-ast", "clap-score")}
    if "control" in chosen and _local(models["clap"]):
        names.add("clap")  # instruments by zero-shot and ΔCLAP, only where the weights are present
    embedders = {n: load_embedder(n, None if n == "features" else models[n], device) for n in sorted(names)}
    report.settings["models"] = {name: getattr(e, "record", name) for name, e in embedders.items()}
    with ItemCache(default_cache_dir() if cache_dir is True else (cache_dir or None)) as cache:
        threads = default_threads() if threads is None else max(1, int(threads))
        _evaluate(gen, ref, chosen, embedders, caption_map, tolerance_s, bootstrap, seed, cache, progress, threads, report)
    report.settings["cache"] = {"folder": str(cache.folder) if cache.folder else None, "hits": cache.hits, "misses": cache.misses}
    return report


def _evaluate(gen, ref, chosen, embedders, caption_map, tolerance_s, bootstrap, seed, cache, progress, threads, report) -> None:
    # references need only the embedders of the distribution and paired metrics
    ref_embedders = {k: v for k, v in embedders.items() if k != "clap" or "fd-clap" in chosen}
    ref_metrics = [m for m in chosen if m.startswith(("fd-", "kl-"))]
    with ItemRunner(cache, report.skipped, decode_ahead=threads > 1) as runner:
        plan = _plan(gen, embedders, chosen)
        if ref is not None:
            plan += _plan(ref, ref_embedders, ref_metrics)
        runner.plan(plan)  # both sides: the decoding runs on from one side into the other
        gen_data = _measure_side(gen, "generated", embedders, chosen, runner, progress)
        ref_data: dict[str, dict] = {}
        if ref is not None:
            ref_data = _measure_side(ref, "reference", ref_embedders, ref_metrics, runner, progress)
    rows = {name: {"name": name} for name in gen_data}
    for metric in chosen:
        if metric.startswith("fd-"):
            _fd_metric(metric, gen_data, ref_data, bootstrap, seed, threads, report)
        elif metric == "kl-ast":
            _kl_metric(gen, ref, gen_data, ref_data, rows, report)
        elif metric == "clap-score":
            _clap_metric(gen, gen_data, caption_map, embedders["clap"], rows, report)
        elif metric == "alignment":
            _alignment_metric(gen, gen_data, tolerance_s, rows, report)
        elif metric == "imagebind":
            report.metrics.append(MetricResult("imagebind", "ImageBind score", None, "higher", note=_imagebind_note()))
        elif metric == "control":
            with ItemRunner(cache, report.skipped, decode_ahead=False) as runner:
                _control_metric(gen, gen_data, embedders.get("clap"), runner, rows, report)
    report.items = list(rows.values())


def _local(model: str) -> bool:
    from vmb.hub import is_available_locally

    return is_available_locally(model)


def _imagebind_note() -> str:
    import importlib.util

    if importlib.util.find_spec("imagebind") is None:
        return (
            "not computed: no ImageBind backend (the imagebind packages import torchaudio, torchvision "
            "and pytorchvideo, which do not work with vmb's torch; the weights are not on a model hub)"
        )
    return "not computed: an imagebind package is installed, but vmb has no ImageBind backend to call it"


def _choose_metrics(wanted, gen: ItemSet, ref, captions, models, notes: list[str]) -> list[str]:
    has_video = any(i.video is not None for i in gen.items)
    has_result = any(i.result is not None for i in gen.items)
    has_text = bool(captions) or has_result
    needs = {
        "fd": (ref is not None, "needs --reference"),
        "kl-ast": (ref is not None, "needs --reference (pairs by file name)"),
        "clap-score": (has_text, "needs --captions or vmb result JSONs next to the generated files"),
        "alignment": (has_video, "needs videos (mp4 with music) among the generated files"),
        "control": (has_result, "needs vmb result JSONs (<name>.vmb.json) next to the generated files"),
        "imagebind": (has_video, "needs videos among the generated files"),
    }
    if wanted is not None:
        for name in wanted:
            ok, why = needs["fd" if name.startswith("fd-") else name]
            if not ok:
                raise UsageError(f"--metrics {name}: {why}")
        return wanted
    chosen = []
    for name in METRICS:
        ok, why = needs["fd" if name.startswith("fd-") else name]
        if not ok:
            continue
        model = MODEL_OF.get(name)
        if model and not _local(models[model]):
            notes.append(f"{name} not computed: {models[model]} is not present locally (name it with --metrics to see how to get it)")
            continue
        if name == "imagebind":
            notes.append(f"imagebind {_imagebind_note()}")
            continue
        chosen.append(name)
    if not chosen:
        raise UsageError("nothing to measure: give --reference, --captions, or videos / vmb results as --generated")
    notes.append(f"metrics chosen automatically: {', '.join(chosen)}")
    return chosen


def _measure_side(items: ItemSet, side: str, embedders: dict, chosen: list[str], runner: ItemRunner, progress: bool) -> dict[str, dict]:
    """``{item name: {"emb:<name>": arrays, "events": ..., "rhythm": ..., "measures": ...}}``;
    unreadable items are skipped with a line in ``runner.skipped``."""
    from rich.progress import Progress

    out: dict[str, dict] = {}
    want_events = "alignment" in chosen
    want_measures = "control" in chosen
    from contextlib import nullcontext

    from vmb.eval.features import one_blas_thread

    with Progress(transient=True, disable=not progress) as bar, one_blas_thread() if "features" in embedders else nullcontext():
        task = bar.add_task(f"measuring {side} items", total=len(items))
        for item in items.items:
            try:
                out[item.name] = _measure_item(item, embedders, want_events, want_measures, runner)
            except MediaError as exc:
                runner.skipped.append(f"{side} {item.name}: {exc}")
            bar.advance(task)
    if items.items and not out:
        raise MediaError(items.source, f"none of the {len(items)} {side} items could be read (first: {runner.skipped[-len(items)]})")
    return out


EVENTS, MEASURES, RHYTHM = "events:librosa-v2", "measures:v1", "rhythm:v1"


def _plan(items: ItemSet, embedders: dict, chosen: list[str]) -> list[tuple[Path, list[str]]]:
    """``(audio path, cache names)`` of each item, in the order :func:`_measure_side` measures them."""
    want_events, want_measures = "alignment" in chosen, "control" in chosen
    return [(item.audio, _audio_computations(item, embedders, want_events, want_measures)) for item in items.items]


def _audio_computations(item: EvalItem, embedders: dict, want_events: bool, want_measures: bool) -> list[str]:
    """The cache names of what is computed on ``item``'s audio."""
    names = [f"emb:{name}:{embedder.record}" for name, embedder in embedders.items()]
    if want_events and item.video is not None:
        names.append(EVENTS)
    if want_measures and item.result is not None:
        names.append(MEASURES)
    return names


def _measure_item(item: EvalItem, embedders: dict, want_events: bool, want_measures: bool, runner: ItemRunner) -> dict:
    data: dict = {}
    for name, embedder in embedders.items():
        data[f"emb:{name}"] = runner.compute(item.audio, f"emb:{name}:{embedder.record}", lambda e=embedder: e.embed(*runner.audio(item.audio)))
    if want_events and item.video is not None:
        def events():
            mono, sr = runner.audio(item.audio)
            ev = alignment.music_events(mono, sr)
            loud_t, loud_db = alignment.loudness_curve(mono, sr)
            return {"beats": ev.beats, "onsets": ev.onsets, "tempo_bpm": np.asarray(ev.tempo_bpm),
                    "duration_s": np.asarray(ev.duration_s), "loud_t": loud_t, "loud_db": loud_db}

        def rhythm():
            r = alignment.video_rhythm(item.video)
            return {"cuts": r.cuts, "times": r.times, "motion": r.motion, "duration_s": np.asarray(r.duration_s)}

        data["events"] = runner.compute(item.audio, EVENTS, events)
        data["rhythm"] = runner.compute(item.video, RHYTHM, rhythm)
    if want_measures and item.result is not None:
        data["measures"] = runner.compute(item.audio, MEASURES, lambda: controllability.measure_audio(*runner.audio(item.audio)).to_arrays())
    return data


def _fd_metric(metric: str, gen_data: dict, ref_data: dict, bootstrap: int, seed: int, threads: int, report: EvalReport) -> None:
    name = metric.split("-", 1)[1]
    key = f"emb:{name}"
    gen_rows = [d[key]["rows"] for d in gen_data.values()]
    ref_rows = [d[key]["rows"] for d in ref_data.values()]
    if not ref_rows:
        report.metrics.append(MetricResult(metric, LABELS[name], None, "lower", note="not computed: no readable reference item"))
        return
    note = ""
    if name == "features":
        from vmb.eval.features import feature_scale_floor
        from vmb.retrieve.encoders.features import FeatureStats

        stats = FeatureStats.fit(np.concatenate(ref_rows))
        scale = np.maximum(stats.std, feature_scale_floor())
        gen_rows = [(r - stats.mean) / scale for r in gen_rows]
        ref_rows = [(r - stats.mean) / scale for r in ref_rows]
        note = "vmb's measured features standardised on the reference set; not comparable with published FAD"
    result = fd_with_uncertainty(gen_rows, ref_rows, bootstrap=bootstrap, seed=seed, threads=threads)
    if result.n_generated < 3 or result.n_reference < 3:
        note = (note + "; " if note else "") + "fewer than 3 items a side: no interval"
    details = result.to_dict()
    details["n"] = result.n_generated
    report.metrics.append(MetricResult(metric, LABELS[name], result.value, "lower", details, note))
    ref_all = np.concatenate(ref_rows)
    centre = ref_all.mean(axis=0)
    report.plots.setdefault("distances", {})[name] = {
        "generated": [float(np.linalg.norm(np.mean(r, axis=0) - centre)) for r in gen_rows],
        "reference": [float(np.linalg.norm(np.mean(r, axis=0) - centre)) for r in ref_rows],
    }


def _kl_metric(gen: ItemSet, ref, gen_data: dict, ref_data: dict, rows: dict, report: EvalReport) -> None:
    pairing = pair_items(gen, ref)
    for name in pairing.only_generated:
        report.skipped.append(f"generated {name}: kl-ast: no reference file of that name")
    values = []
    for g, r in pairing.pairs:
        if g.name not in gen_data or r.name not in ref_data:
            continue
        p_gen = softmax(gen_data[g.name]["emb:ast"]["logits"])
        p_ref = softmax(ref_data[r.name]["emb:ast"]["logits"])
        kl = float(kl_divergence(p_ref, p_gen))
        rows[g.name]["kl_ast"] = kl
        values.append(kl)
    note = "AST (MIT/ast-finetuned-audioset) stands in for the paper's PaSST: same AudioSet classes, different classifier"
    report.metrics.append(
        MetricResult("kl-ast", "KL (AST AudioSet classes)", float(np.mean(values)) if values else None, "lower",
                     {"n": len(values), "definition": "mean over pairs of KL(softmax(ref logits) || softmax(gen logits))"}, note)
    )
    report.plots.setdefault("per_item", {})["KL (AST)"] = values


def _generated_results(
    gen: ItemSet, gen_data: dict, metric: str, report: EvalReport, needs: str | None = None
) -> Iterator[tuple[EvalItem, dict, Any]]:
    """``(item, its measurements, its vmb result)`` for each measured generated item (that has
    the measurement ``needs``, when given); an item whose result JSON cannot be read is listed
    in ``report.skipped`` under ``metric`` instead."""
    for item in gen.items:
        data = gen_data.get(item.name)
        if data is None or (needs is not None and needs not in data):
            continue
        try:
            result = item.read_result()
        except MediaError as exc:
            report.skipped.append(f"generated {item.name}: {metric}: {exc}")
            continue
        yield item, data, result


def _clap_metric(gen: ItemSet, gen_data: dict, captions: dict, clap, rows: dict, report: EvalReport) -> None:
    texts, audio, names, sources = [], [], [], set()
    for item, _, result in _generated_results(gen, gen_data, "clap-score", report):
        text, source = text_for_item(captions.get(item.name), result)
        if text is None:
            report.skipped.append(f"generated {item.name}: clap-score: no caption and no vmb result JSON")
            continue
        texts.append(text)
        audio.append(clip_embedding(gen_data[item.name]["emb:clap"]["rows"]))
        names.append(item.name)
        sources.add(source)
    value = None
    if texts:
        scores = clap_scores(np.stack(audio), clap.embed_text(texts))
        for name, s in zip(names, scores):
            rows[name]["clap_score"] = float(s)
        value = float(scores.mean())
        report.plots.setdefault("per_item", {})["CLAP score"] = [float(s) for s in scores]
    report.metrics.append(
        MetricResult("clap-score", "CLAP score (text–audio cosine)", value, "higher",
                     {"n": len(texts), "text": sorted(sources)}, "" if texts else "not computed: no item has a text")
    )


def _alignment_metric(gen: ItemSet, gen_data: dict, tolerance_s: float, rows: dict, report: EvalReport) -> None:
    bhs, bcs, on_cuts, corr = [], [], [], []
    no_cuts = 0
    for item in gen.items:
        data = gen_data.get(item.name)
        if not data or "rhythm" not in data:
            continue
        rh, ev = data["rhythm"], data["events"]
        span = float(rh["duration_s"])
        ba = alignment.beat_alignment(rh["cuts"], ev["beats"], ev["onsets"], span_s=span, tolerance_s=tolerance_s)
        row = rows[item.name]
        row.update({"cuts": ba.num_cuts, "beats": ba.num_beats, "bhs": ba.bhs, "bcs": ba.bcs, "beats_on_cuts": ba.beats_on_cuts})
        if ba.bhs is None:
            no_cuts += 1
        else:
            bhs.append(ba.bhs)
            bcs.append(ba.bcs)
            on_cuts.append(ba.beats_on_cuts)
        r = alignment.VideoRhythm(rh["cuts"], rh["times"], rh["motion"], span)
        c = alignment.motion_loudness_correlation(r, ev["loud_t"], ev["loud_db"])
        row["motion_loudness"] = c
        if c is not None:
            corr.append(c)
        report.plots.setdefault("timelines", {})[item.name] = {
            "cuts": rh["cuts"].tolist(), "beats": ev["beats"].tolist(), "onsets": ev["onsets"].tolist(), "duration_s": span,
        }
    defin = f"tolerance ±{tolerance_s:g} s; music beats (librosa beat_track) and onsets (librosa onset_detect) vs video cuts"
    note = f"{no_cuts} video(s) without cuts are not counted" if no_cuts else ""
    for name, label, values, better in (
        ("bhs", "BHS (share of cuts on a beat/onset)", bhs, "higher"),
        ("bcs", "BCS (music beats per cut)", bcs, ""),
        ("beats-on-cuts", "share of beats on a cut", on_cuts, "higher"),
        ("motion-loudness", "motion–loudness correlation", corr, "higher"),
    ):
        report.metrics.append(
            MetricResult(f"alignment:{name}", label, float(np.mean(values)) if values else None, better,
                         {"n": len(values), "definition": defin if name != "motion-loudness" else "Pearson r over 0.5 s bins of frame-difference motion and RMS dB"},
                         note if values else (note or "not computed: no video with cuts"))
        )


def _control_metric(gen: ItemSet, gen_data: dict, clap, runner: ItemRunner, rows: dict, report: EvalReport) -> None:
    shares: dict[str, list[bool]] = {}
    deltas: dict[str, list[float]] = {}
    energy_asked, energy_lufs = [], []
    pinned_same, pinned_other, tempo_same, tempo_other = [], [], [], []
    pinned: list[tuple[str, controllability.AudioMeasures, Path]] = []
    for item, data, result in _generated_results(gen, gen_data, "control", report, needs="measures"):
        measured = controllability.AudioMeasures.from_arrays(data["measures"])
        asked = controllability.asked_attributes(result)
        checks = controllability.check_item(asked, measured)
        if clap is not None and asked.get("instruments"):
            emb = clip_embedding(data["emb:clap"]["rows"])
            checks["instruments"] = controllability.zero_shot_instruments(clap, emb, asked["instruments"])
            for inst in checks["instruments"].values():
                shares.setdefault("instrument (CLAP zero-shot top 3)", []).append(inst["ok"])
        if clap is not None:
            emb = clip_embedding(data["emb:clap"]["rows"])
            for attr, value in controllability.asked_for_delta(asked, result).items():
                d = controllability.delta_clap(clap, emb, attr, value)
                if d is not None:
                    checks[f"delta_clap_{attr}"] = {"asked": value, "delta": d}
                    deltas.setdefault(attr, []).append(d)
        for attr, verdict in checks.items():
            if attr != "instruments" and "ok" in verdict:
                shares.setdefault(attr, []).append(bool(verdict["ok"]))
            if attr == "tempo_bpm":
                shares.setdefault("tempo_bpm (up to an octave)", []).append(bool(verdict["ok_octave"]))
        if "energy" in asked and measured.lufs is not None:
            energy_asked.append(asked["energy"])
            energy_lufs.append(measured.lufs)
        rows[item.name]["control"] = {
            k: v["ok"] if isinstance(v, dict) and "ok" in v else v.get("delta", v) if isinstance(v, dict) else v
            for k, v in checks.items()
        }
        refs = (result.get("inputs") or {}).get("references") or []
        if refs:
            pinned.append((item.name, measured, Path(refs[0])))
    if pinned and len(pinned) >= 2:
        ref_measures = []
        for name, _, path in pinned:
            try:
                arrays = runner.compute(path, MEASURES, lambda p=path: controllability.measure_audio(*runner.audio(p)).to_arrays())
                ref_measures.append(controllability.AudioMeasures.from_arrays(arrays))
            except MediaError as exc:
                report.skipped.append(f"generated {name}: pinned reference: {exc}")
                ref_measures.append(None)
        for i, (name, measured, _) in enumerate(pinned):
            own, other = ref_measures[i], ref_measures[(i + 1) % len(pinned)]
            if own is None or other is None:
                continue
            pinned_same.append(controllability.chroma_cosine(measured.chroma, own.chroma))
            pinned_other.append(controllability.chroma_cosine(measured.chroma, other.chroma))
            tempo_same.append(controllability.tempo_closeness(measured.tempo_bpm, own.tempo_bpm))
            tempo_other.append(controllability.tempo_closeness(measured.tempo_bpm, other.tempo_bpm))
    if not shares and not energy_asked and clap is None:
        report.notes.append("control: instruments not computed (CLAP weights not present)")
    details = {attr: {"share": float(np.mean(v)), "n": len(v)} for attr, v in shares.items()}
    details["energy_vs_lufs_spearman"] = controllability.spearman(energy_asked, energy_lufs)
    if pinned_same:
        details["pinned_reference"] = {
            "chroma_cosine_pinned": float(np.mean(pinned_same)),
            "chroma_cosine_unrelated": float(np.mean(pinned_other)),
            "tempo_log2_distance_pinned": float(np.nanmean(tempo_same)),
            "tempo_log2_distance_unrelated": float(np.nanmean(tempo_other)),
            "n": len(pinned_same),
        }
    if deltas:
        details["delta_clap"] = {attr: {"mean": float(np.mean(v)), "n": len(v)} for attr, v in deltas.items()}
    all_checks = [ok for v in shares.values() for ok in v]
    note = "measured with librosa (tempo, key/mode), pyloudnorm (LUFS), HPSS"
    if clap is None:
        note += "; instruments and ΔCLAP not computed (no CLAP weights)"
    report.metrics.append(
        MetricResult("control", "controllability (share of asked attributes measured in the audio)",
                     float(np.mean(all_checks)) if all_checks else None, "higher", details, note)
    )
    for attr, v in details.items():
        if isinstance(v, dict) and "share" in v:
            report.metrics.append(MetricResult(f"control:{attr}", f"control: {attr}", v["share"], "higher", {"n": v["n"]}))
    for attr, v in details.get("delta_clap", {}).items():
        report.metrics.append(
            MetricResult(f"control:delta-clap-{attr}", f"ΔCLAP {attr} (asked vs other values)", v["mean"], "higher", {"n": v["n"]})
        )
