"""A page as a person sees it: headless Chromium's screenshot of a report, and where in it each of the
report's embedded charts was drawn, pixel for pixel.

Chromium draws an ``<img>`` at its natural size with the device scale factor forced to 1 and the
sRGB colour profile, so a chart that is really on the page appears in the screenshot as exactly the
pixels of its PNG. ``.ci/run`` installs Debian's ``chromium-headless-shell``; without it the tests
that need it skip.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
PAGE_WIDTH, PAGE_HEIGHT = 1200, 9000
_IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')


def _pixels(png: bytes | Path) -> np.ndarray:
    """RGB bytes of a PNG, as matplotlib decodes it (rows x columns x 3, uint8)."""
    from matplotlib import image

    source = io.BytesIO(png) if isinstance(png, bytes) else png
    return (image.imread(source)[..., :3] * 255).round().astype(np.uint8)


def screenshot(page: Path, png: Path) -> np.ndarray:
    """Render ``page`` in headless Chromium into ``png``; returns its pixels."""
    if CHROMIUM is None:
        raise RuntimeError("no headless Chromium: apt-get install chromium-headless-shell")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--force-color-profile=srgb",
        f"--window-size={PAGE_WIDTH},{PAGE_HEIGHT}",
        f"--screenshot={png}",
        page.resolve().as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    return _pixels(png)


def embedded_charts(page_html: str) -> dict[str, np.ndarray]:
    """Each embedded PNG of the page by its alt text, decoded."""
    return {alt: _pixels(base64.b64decode(data)) for data, alt in _IMAGE.findall(page_html)}


def where_drawn(shot: np.ndarray, chart: np.ndarray) -> tuple[int, int] | None:
    """(top, left) of the place where every pixel of ``chart`` appears in ``shot``, or None.

    Finds the chart's busiest row in the screenshot's bytes (one search), then compares the whole
    block at each hit.
    """
    busy = int(np.argmax((chart != 255).any(axis=2).sum(axis=1)))
    needle, haystack = chart[busy].tobytes(), shot.tobytes()
    height, width = chart.shape[:2]
    row_bytes = shot.shape[1] * 3
    start = 0
    while (found := haystack.find(needle, start)) >= 0:
        start = found + 1
        row, offset = divmod(found, row_bytes)
        top, left = row - busy, offset // 3
        if offset % 3 or top < 0 or left + width > shot.shape[1]:
            continue
        if np.array_equal(shot[top : top + height, left : left + width], chart):
            return top, left
    return None
