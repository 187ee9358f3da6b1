"""Rendering long briefs into parts: what splitting a brief into a post and threaded replies costs.

For briefs of 35,000 and 200,000 characters (three sections of paragraphs), the median time of
`Renderer.render_brief` (full and compact), next to the naive way in the same run: rendering the
whole brief as one message (what 0.1 did, and what Slack refuses with `msg_blocks_too_long`),
cut to 50 blocks and 11,000 characters. Prints each part's size (blocks, characters of block
text) so the budget can be checked by eye.

Run: `python benchmarks/bench_render_parts.py` (`--repeat 5` for a quick look).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from long_briefs import long_signal  # noqa: E402

from bot.render import Renderer, text_length  # noqa: E402


def median_ms(work: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    renderer = Renderer()
    for size in (35_000, 200_000):
        signal = long_signal("bench", size)
        chars = len(signal.summary) + sum(len(s.body) for s in signal.sections)
        one = median_ms(lambda s=signal: renderer.render("signal.json.j2", signal=s), args.repeat)
        print(f"brief of {chars:,} characters")
        print(f"  one message, cut to fit (naive, loses text): {one:7.2f} ms")
        for brief_format in ("full", "compact"):
            parts = renderer.render_brief(signal, brief_format)
            took = median_ms(
                lambda s=signal, f=brief_format: renderer.render_brief(s, f), args.repeat
            )
            sizes = ", ".join(f"{len(p.blocks)}/{text_length(p.blocks):,}" for p in parts)
            print(f"  {brief_format:8} {len(parts):2} parts: {took:7.2f} ms ({took / one:.2f}x)")
            print(f"           blocks/characters per part: {sizes}")


if __name__ == "__main__":
    main()
