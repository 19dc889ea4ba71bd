"""Encoders of the music bridge: ``clap`` (text + audio, one space), ``minilm`` (captions),
``features`` (measured audio features). See :mod:`vmb.retrieve.encoders.base`."""

from vmb.retrieve.encoders.base import AudioClip, Encoder, IndexEncoder, l2_normalize, load_encoder

__all__ = ["AudioClip", "Encoder", "IndexEncoder", "l2_normalize", "load_encoder"]
