"""The connector reloads its bundle when CURRENT names another version, as serve does: a compatible version
is swapped in between batches (predictions name it), one that changes the interface within its major
version is refused and the old one keeps predicting, visibly in /v1/status and /metrics."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import runtime
from tests.conftest import SHIPPED_VERSION
from tests.connect.clients import Collector, Publisher, wait_for
from tests.connect.conftest import example_config
from tests.connect.records import records_for
from tests.runtime.damage import edit_manifest


def _add_version(folder: Path, version: str, change: Any = None) -> None:
    shutil.copytree(folder / "1.0.0", folder / version)
    edit_manifest(folder / version, lambda m: (m.update(version=version), change(m) if change else None))
    (folder / "CURRENT.tmp").write_text(version + "\n")
    (folder / "CURRENT.tmp").replace(folder / "CURRENT")


def _without_category(manifest: dict[str, Any]) -> None:
    column = next(c for c in manifest["inputs"] if c["name"] == "machine_type")
    column["categories"] = [c for c in column["categories"] if c != "C"]
    manifest["drift_reference"]["columns"]["machine_type"]["shares"].pop("C")


@pytest.mark.slow
def test_a_new_version_is_picked_up_and_an_interface_change_refused(
    tmp_path: Path, broker: Any, connector_factory: Any
) -> None:
    folder = tmp_path / "models" / "quality"
    shutil.copytree(SHIPPED_VERSION, folder / "1.0.0")
    (folder / "CURRENT").write_text("1.0.0\n")
    connector = connector_factory(lambda port: example_config(folder, broker.address, None, port, "poll_s = 0.2"))
    connector.start()
    collector = Collector(broker.address, ["plant/line3/+/quality"])
    publisher = Publisher(broker.address)
    record = records_for(runtime.load(folder), 1)[0]

    def predicted_by(version: str, count: int) -> None:
        publisher.send("plant/line3/press-1/telemetry", record)
        wait_for(lambda: len(collector.on("/quality")) >= count, 20, f"prediction {count}")
        assert collector.on("/quality")[-1][1]["version"] == version

    predicted_by("1.0.0", 1)
    _add_version(folder, "1.0.1")
    wait_for(lambda: connector.status()["model"]["version"] == "1.0.1", 20, "the reload to 1.0.1")
    predicted_by("1.0.1", 2)
    _add_version(folder, "1.1.0", _without_category)
    wait_for(lambda: connector.status()["model"]["reloads"]["refused"] == 1, 20, "the refusal of 1.1.0")
    last = connector.status()["model"]["last_reload"]
    assert (last["outcome"], last["version"], last["serving"]) == ("refused", "1.1.0", "1.0.1")
    assert "start the connector with --allow-interface-change" in last["error"]
    predicted_by("1.0.1", 3)
    metrics = connector.get("/metrics")[1]
    assert 'factory_edge_reloads_total{outcome="refused"} 1.0' in metrics
    assert 'factory_edge_model_info{model="quality",path="' in metrics and 'version="1.0.1"' in metrics
    assert connector.terminate() == 0
    collector.close()
    publisher.close()
