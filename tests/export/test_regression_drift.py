"""A regressor's predicted values are monitored like an input column (issue 9, must show 6): an export
records their held-out distribution, and a window of logged predictions that shifted alerts."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

import runtime  # noqa: E402
from export import ExportConfig, run_export  # noqa: E402
from runtime._monitor.windows import drift_from_log  # noqa: E402
from tests.conftest import AI4I  # noqa: E402
from tests.runtime.logged import log_predictions  # noqa: E402

DROP = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF", "Machine failure")
SPEED = "Rotational speed [rpm]"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not AI4I.is_file(), reason="needs ../shared/datasets/ai4i2020.csv"),
]


@pytest.fixture(scope="module")
def torque_model(tmp_path_factory):
    result = run_export(
        ExportConfig(
            data=AI4I,
            target="Torque [Nm]",
            drop=DROP,
            estimator="random_forest_regressor",
            params={"n_estimators": 30, "max_depth": 10},
            output=tmp_path_factory.mktemp("models"),
            measure=False,
        )
    )
    return runtime.load(result.bundle)


def _log(model: runtime.Model, path, frame: pd.DataFrame) -> None:
    """Predict ``frame`` in requests of 200 rows and log them as the server does."""
    log_predictions(model, path, frame.to_dict("records"), per_request=200)


def test_the_export_records_the_predicted_values_distribution(torque_model):
    reference = torque_model.manifest.drift_reference.predictions
    assert reference is not None and reference.shares is None and reference.values is not None
    assert len(reference.values.bin_shares) == len(reference.values.bin_edges) + 1
    assert 30.0 < reference.values.mean < 50.0  # torque in Nm on the held-out split


def test_shifted_predictions_of_a_regressor_alert(torque_model, tmp_path):
    columns = [spec.name for spec in torque_model.manifest.inputs]
    frame = pd.read_csv(AI4I)[columns].sample(2000, random_state=5).reset_index(drop=True)
    _log(torque_model, tmp_path / "steady.db", frame)
    steady = drift_from_log(tmp_path / "steady.db", torque_model.manifest)
    assert steady["predictions"]["status"] == "ok", steady["predictions"]

    slower = frame.assign(**{SPEED: frame[SPEED] - 150.0})  # slower spindles need more torque
    _log(torque_model, tmp_path / "shifted.db", slower)
    shifted = drift_from_log(tmp_path / "shifted.db", torque_model.manifest)
    assert shifted["predictions"]["status"] == "alert"
    assert shifted["predictions"]["psi"] > 0.25 and shifted["predictions"]["ks"] > 0.2
    assert shifted["status"] == "alert"
    recent = np.asarray([torque_model.predict(r).value for r in slower.head(50).to_dict("records")])
    assert recent.mean() > torque_model.manifest.drift_reference.predictions.values.mean + 3.0
