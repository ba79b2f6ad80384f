"""The `openai_harmony` package that renders every prompt is the pinned openai-harmony's, file
for file: vLLM's CPU build pulls in `oss-harmony`, a fork that installs into the same package
directory and renders differently (the nano model's answers changed under it)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import metadata
from pathlib import Path


def test_openai_harmony_files_are_those_of_the_pinned_release():
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    pinned = re.search(r'"openai-harmony==([\d.]+)"', pyproject).group(1)
    dist = metadata.distribution("openai-harmony")
    assert dist.version == pinned
    checked = 0
    for file in dist.files:
        if not file.hash or not str(file).startswith("openai_harmony/"):
            continue
        digest = hashlib.new(file.hash.mode, Path(file.locate()).read_bytes()).digest()
        expected = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
        assert digest == expected, f"{file} is not openai-harmony {pinned}'s (overwritten by another package)"
        checked += 1
    assert checked, "openai-harmony lists no files to check"
