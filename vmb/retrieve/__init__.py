"""The music bridge: encoders, the index on disk, and dual-track retrieval.

>>> from vmb.retrieve import build_index, MusicIndex, Retriever
>>> build_index("my_music/", "index/mine", encoder="builtin")          # doctest: +SKIP
>>> index = MusicIndex.load("index/mine")                                # doctest: +SKIP
>>> result = Retriever(index).search("a calm piano piece", wants)       # doctest: +SKIP
>>> result.hits, result.notes                                            # doctest: +SKIP

Heavy libraries (faiss, torch, transformers) are imported inside the functions that need them.
"""

from vmb.retrieve.build import build_index
from vmb.retrieve.encoders.base import Encoder, IndexEncoder, load_encoder
from vmb.retrieve.index_type import IndexSpec, choose_index_type
from vmb.retrieve.search import Retriever, SearchResult, encoder_for_index
from vmb.retrieve.store import IndexInfo, MusicIndex
from vmb.retrieve.text import bridge_text

__all__ = [
    "Encoder",
    "IndexEncoder",
    "IndexInfo",
    "IndexSpec",
    "MusicIndex",
    "Retriever",
    "SearchResult",
    "bridge_text",
    "build_index",
    "choose_index_type",
    "encoder_for_index",
    "load_encoder",
]
