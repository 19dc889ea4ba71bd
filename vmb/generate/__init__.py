"""Generators: MusicGen conditioned on the text and music bridges, and the built-in composer.

Importing this package is cheap: torch and transformers load when a generator is built.
"""

from vmb.generate.builtin import BuiltinGenerator as BuiltinGenerator
from vmb.generate.musicgen import MusicGenGenerator

__all__ = ["MusicGenGenerator"]
