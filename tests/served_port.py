"""The port a `signal-bot run`/`web` child serves on, told by the child itself.

A test never picks a port for a child: a port found free and released can be taken by any other
process (the suite runs in parallel) before the child binds it. The child is started with
PORT=0, binds whatever port the kernel gives it, and logs "serving HTTP on port N"; the test
reads N from the child's log.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import wait_until

ANY_PORT = "0"  # PORT for a child: the kernel picks a free one as the child binds it
_SERVING = re.compile(r"serving HTTP on port (\d+)")


def served_port(log: Path, process: subprocess.Popen[bytes], timeout: float = 120) -> int:
    """The port the child writing `log` bound; fails at once if the child exits first."""
    found: list[int] = []

    def announced() -> bool:
        if match := _SERVING.search(log.read_text(encoding="utf-8", errors="replace")):
            found.append(int(match[1]))
            return True
        return process.poll() is not None

    wait_until(announced, timeout, f"{log.name} to say which port it serves")
    if not found:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise AssertionError(f"the child exited ({process.returncode}) before serving:\n{tail}")
    return found[0]
