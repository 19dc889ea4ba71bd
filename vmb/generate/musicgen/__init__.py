"""MusicGen conditioned on both bridges: the text bridge and the music bridge.

    generator = MusicGenGenerator.from_pretrained("facebook/musicgen-melody")
    result = generator.generate(bridges, duration_s=12.0, seed=0)
    result.audio  # [C, T] float32 at generator.sample_rate, T == round(12.0 * sample_rate)

The checkpoint is loaded with transformers (``MusicgenForConditionalGeneration`` or
``MusicgenMelodyForConditionalGeneration``, hub ids and local folders alike) through
:func:`vmb.hub.load_pretrained` (:mod:`.loading`); generation runs vmb's own sampling loop over
the transformers decoder layers. The modules of this package:

* :mod:`.generator` — :class:`MusicGenGenerator` (``from_pretrained``, ``generate``);
* :mod:`.loading` — the checkpoint through :mod:`vmb.hub`;
* :mod:`.conditioning` — text bridge, music bridge, the guidance rows;
* :mod:`.pattern` — the delay pattern, pad and start ids (one place);
* :mod:`.decoder` — the one decoder forward (sampling with KV buffers, teacher-forced training);
* :mod:`.sampling` — the loop of one window;
* :mod:`.longform`, :mod:`.guidance`, :mod:`.quantize`, :mod:`.chroma`, :mod:`.adapters`.

What happens:

* **text bridge**: ``bridges.text`` (the description with the targeted attributes appended)
  through the T5 encoder, once per call; when the description has a timeline, each section's
  own text (its sentence, the global style words and the tempo), once per section
  (:func:`.longform.section_text`).
* **music bridge**, three mechanisms, each used when it can be:
    1. *melody* (MusicGen-Melody checkpoints): the one-hot chroma of a reference
       (:mod:`.chroma`) is prepended to the decoder input as the model was trained;
    2. *reference tokens* (adapter): the reference's audio embedding as zero-gated attention
       tokens (:mod:`.adapters`);
    3. *ControlFormer* (adapter): zero-initialised trainable copies of the first decoder blocks
       read the reference's EnCodec codes.
  Which reference feeds which mechanism: the melody comes from a pinned reference, else the
  broad one, else the targeted one; the reference tokens from the targeted one first (the
  paper concatenates the targeted reference with the text), the ControlFormer from the broad
  one first (the paper's ControlFormer reads the broad reference).
* **guidance** (:mod:`.guidance`): one batched decoder forward per step over the
  rows (c_text, u, c_text+music),
  ``logits = u + w_text·(c_text − u) + w_music·(c_text+music − c_text)``; ``w_music = 0`` (or
  no usable mechanism) drops the third row and is MusicGen's ordinary CFG.
* **the loop** (:mod:`.sampling` over :mod:`.decoder`): the self-attention layers write into
  preallocated KV buffers instead of concatenating at every step (which costs ~2.5 ms a layer
  at the end of a 30 s window on CPU), T5 and the cross-attention keys computed once,
  MusicGen's delay pattern (codebook ``k`` runs ``k`` steps behind codebook 0), top-k sampling
  with a seeded ``torch.Generator``: the same seed gives the same audio on CPU. With
  ``w_music = 0`` the loop reproduces ``model.generate(guidance_scale=w_text, do_sample=True,
  top_k=...)`` token for token under ``torch.manual_seed(seed)``.
* **long-form** (:mod:`.longform`): windows of ``window_s`` prompted with the last
  ``overlap_s`` seconds of codes, crossfaded; the length is exact to the sample. With a
  timeline, a new window starts at every section boundary (whole codec frames), prompted with
  the tail of the window before, conditioned on its section's text; the notes list them.
* **speed**: on CPU an optional int8 dynamic-quantized decoder (:mod:`.quantize`)
  and a thread count; on CUDA fp16/bf16 autocast.
"""

from vmb.generate.musicgen.generator import BUILTIN_HINT, MODEL_TYPES, MusicGenGenerator

__all__ = ["BUILTIN_HINT", "MODEL_TYPES", "MusicGenGenerator"]
