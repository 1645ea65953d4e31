"""The bundle's documents for people: a model card, an HTML report and a deployment checklist.

:func:`write_documents` is called by the export job on the staging folder, after ``model.onnx``,
``manifest.json``, ``input_schema.json``, the examples, ``parity.json`` and
``requirements-device.txt`` are written, so the checklist can judge the files actually on disk.

- ``model_card.md`` (:mod:`.model_card`): what the model is for, how it was trained and measured,
  its inputs and outputs, the parity proof, its limitations and how to run it on a device.
- ``report.html`` (:mod:`.report`, charts from :mod:`.charts`): one self-contained page.
- ``deployment_checklist.md`` (:mod:`.checklist`): each item ticked only where there is proof.

What they share: :mod:`._markup` (how Markdown and HTML show prose, user values, tables, numbers)
and :mod:`._facts` (the rows of facts all three state the same way).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .._config import ExportResult
from .checklist import ChecklistItem, checklist_items, deployment_checklist
from .model_card import model_card
from .report import report_html

__all__ = [
    "CHECKLIST_FILE",
    "MODEL_CARD_FILE",
    "REPORT_FILE",
    "ChecklistItem",
    "checklist_items",
    "deployment_checklist",
    "model_card",
    "report_html",
    "write_documents",
]

logger = logging.getLogger(__name__)

MODEL_CARD_FILE = "model_card.md"
REPORT_FILE = "report.html"
CHECKLIST_FILE = "deployment_checklist.md"


def write_documents(folder: Path, result: ExportResult) -> list[Path]:
    """Write the model card, the HTML report and the deployment checklist into ``folder``.

    Returns the written paths. Called on the staging folder once every machine-readable file is
    in it, so the checklist reflects the bundle as it will be published.
    """
    documents = {
        MODEL_CARD_FILE: model_card(result),
        REPORT_FILE: report_html(result),
        CHECKLIST_FILE: deployment_checklist(folder, result),
    }
    paths = []
    for name, text in documents.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        logger.debug("wrote %s (%d characters)", path, len(text))
        paths.append(path)
    return paths
