"""Fetching compressed feeds: `python benchmarks/bench_fetch.py` prints, for the shipped
Fetcher (raw bytes inflated in bounded pieces, the 16 MB cap counted after decompression)
against the naive way, 0.1's: httpx's `iter_bytes()` with the same cap checked per chunk
(httpx inflates each network chunk whole before the check sees it):

1. a 12 MB RSS feed served gzip-compressed: MB/s of decompressed body, peak traced memory;
2. a gzip bomb (1 MB on the wire, 1 GB inflated): where each stops, peak traced memory.

Both read from a loopback publisher in another thread; `--feed-mb` and `--bomb-mb` set sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loopback_publisher import rss_document

from bot.sources.http import Fetcher, FetchError, FetchLimits

MB = 1024 * 1024
CAP = FetchLimits().max_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed-mb", type=int, default=12)
    parser.add_argument("--bomb-mb", type=int, default=1024)
    args = parser.parse_args()
    feed = _feed_of(args.feed_mb * MB)
    bodies = {"/feed": gzip.compress(feed, 6), "/bomb": _gzip_zeros(args.bomb_mb * MB)}
    server = _serve(bodies)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"feed: {len(feed) / MB:.1f} MB inflated, {len(bodies['/feed']) / MB:.2f} MB gzip")
    print(f"bomb: {args.bomb_mb} MB inflated, {len(bodies['/bomb']) / MB:.2f} MB gzip\n")
    fetcher = Fetcher()
    naive = httpx.Client()
    for name, read in [
        ("Fetcher (bounded pieces)", lambda path: fetcher.fetch(base + path).body or b""),
        ("httpx iter_bytes (naive)", lambda path: _naive_read(naive, base + path)),
    ]:
        seconds, size, peak = _measured(read, "/feed")
        print(f"{name:26} feed: {size / MB / seconds:7.1f} MB/s   peak {peak / MB:7.1f} MB")
        seconds, stopped, peak = _measured(read, "/bomb")
        print(f"{name:26} bomb: stopped in {seconds:5.2f}s   peak {peak / MB:7.1f} MB ({stopped})")
    print(f"\ncap: {CAP / MB:.0f} MB for both (FetchLimits.max_bytes, the shipped default)")
    server.shutdown()


def _naive_read(client: httpx.Client, url: str) -> bytes:
    chunks, size = [], 0
    with client.stream("GET", url) as response:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > CAP:
                raise FetchError(f"body is over the {CAP}-byte limit")
            chunks.append(chunk)
    return b"".join(chunks)


def _measured(read: Callable[[str], bytes], path: str) -> tuple[float, Any, int]:
    """Best of three untraced runs, and the peak traced memory of one more."""
    seconds = min(_timed(read, path)[0] for _ in range(3))
    tracemalloc.start()
    _, outcome = _timed(read, path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, outcome, peak


def _timed(read: Callable[[str], bytes], path: str) -> tuple[float, Any]:
    started = time.perf_counter()
    try:
        outcome: Any = len(read(path))
    except FetchError as error:
        outcome = str(error)
    return time.perf_counter() - started, outcome


def _feed_of(size: int) -> bytes:
    per_entry = len(rss_document(1, 1, 1001)) / 1000
    return rss_document(1, 1, int(size / per_entry))


def _gzip_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    return b"".join(compressor.compress(block) for _ in range(size // MB)) + compressor.flush()


def _serve(bodies: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stopped reading at its cap
                self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    main()
