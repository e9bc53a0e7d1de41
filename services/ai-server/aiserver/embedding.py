"""Query embeddings for ChromaDB.

Chroma's HTTP API only accepts vectors (text is embedded client-side), and the AI server must stay small
(no model in a 1 GB container). So texts are embedded by feature hashing: character 1- to 3-grams of the
NFKC-normalised text, hashed into `dim` signed buckets, L2-normalised. Character n-grams suit Korean,
where a syllable block already carries meaning. Whatever loads the knowledge base must use this same
function with the same dimension, or nearest-neighbour search returns noise.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

NGRAM_SIZES = (1, 2, 3)
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def embed(text: str, dim: int) -> list[float]:
    """A unit vector of length dim (all zeros for text with no characters)."""
    vector = [0.0] * dim
    chars = normalise(text)
    for n in NGRAM_SIZES:
        for start in range(len(chars) - n + 1):
            gram = chars[start : start + n]
            if gram.isspace():
                continue
            # blake2b, not hash(): Python salts str hashes per process, the index must be stable.
            digest = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
            sign = 1.0 if digest >> 63 else -1.0
            vector[digest % dim] += sign
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector
