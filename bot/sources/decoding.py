"""Undoing a response's Content-Encoding a bounded piece at a time.

httpx's own decoders inflate a whole network chunk at once, so 64 kB of gzip can become
64 MB in one step, before any size check could see it. Here no step yields more than
PIECE_BYTES, and the caller counts the decompressed bytes as they come: a gzip bomb stops
at the size cap, with memory bounded by it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from bot.errors import SignalBotError

PIECE_BYTES = 64 * 1024
ACCEPTED_ENCODINGS = "gzip, deflate"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class DecodingError(SignalBotError):
    """A body that does not decompress, or uses an encoding we did not ask for."""


class BoundedDecoder:
    """`for piece in decoder.feed(raw)` ... `decoder.finish()`: at most PIECE_BYTES a piece."""

    def __init__(self, content_encoding: str) -> None:
        encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        encodings = [e for e in encodings if e != "identity"]
        if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
            raise DecodingError(f"unsupported Content-Encoding {content_encoding!r}")
        self.encoding = encodings[0] if encodings else None
        self._inflater = self._new_inflater()
        self._raw_deflate_tried = False

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decompressed pieces of the next raw chunk."""
        if self.encoding is None:
            yield raw
            return
        pending = raw
        while pending:
            try:
                piece = self._inflater.decompress(pending, PIECE_BYTES)
            except zlib.error as error:
                if self._retry_as_raw_deflate():
                    continue
                raise DecodingError(f"the {self.encoding} body is corrupt: {error}") from None
            self._raw_deflate_tried = True  # some of it inflated: the format is settled
            if piece:
                yield piece
            if not self._inflater.eof:
                pending = self._inflater.unconsumed_tail
                continue
            rest = self._inflater.unused_data
            if not rest.strip(b"\0"):
                return  # zero padding after the last member
            self._inflater = self._new_inflater()  # gzip allows several members in a row
            pending = rest

    def finish(self) -> None:
        """Raise if the body ended in the middle of a compressed stream."""
        if self.encoding is not None and not self._inflater.eof:
            raise DecodingError(f"the {self.encoding} body is truncated")

    def _new_inflater(self) -> zlib._Decompress:
        return zlib.decompressobj(_GZIP_WBITS if self.encoding != "deflate" else zlib.MAX_WBITS)

    def _retry_as_raw_deflate(self) -> bool:
        # "deflate" is often sent as a raw stream without its zlib header.
        if self.encoding != "deflate" or self._raw_deflate_tried:
            return False
        self._raw_deflate_tried = True
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return True
