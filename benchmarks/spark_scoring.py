"""Batch scoring on Spark against one process and against scikit-learn on Spark (issue 14): a script.

    python benchmarks/spark_scoring.py [--rows 1000000 10000000] [--master local[2]] [--timeout-s 1200]

Needs the ``spark`` and ``export`` extras and Java 17+. In a temporary folder it

1. exports a small model with ``python -m export`` (the demo data, ``--no-measure``): the bundle and
   its joblib twin, the same fitted Pipeline;
2. writes ``--rows`` rows like the bundle's inputs (uniform within each valid range, categories
   evenly) as Parquet, and as CSV for the single-process command;
3. starts one Spark session on ``--master`` and times that alone (the JVM, the session);
4. per size: ``runtime.spark.predict`` of the Parquet written back as Parquet (what ``spark-predict``
   does; the first size also pays each Python worker's start, bundle load and verification);
   scikit-learn's ``predict_proba`` in ``mapInPandas`` (the iterator form of a pandas UDF, the
   Pipeline loaded once per worker, no validation) written the same way; ``python -m runtime predict``
   of the CSV in one process; and ``predict_batch`` over the Parquet's Arrow batches in this process
   (scoring alone, no file parsing). While Spark runs, the resident memory of its Python workers is
   sampled from ``/proc``.

Every step has a time limit (``--timeout-s``): a step that misses it is reported as such. The rows/s
are rows divided by the step's wall time; start-up is reported apart.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import runtime
import runtime.spark

CHUNK_ROWS = 1_000_000
SESSION_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
SAMPLE_S = 0.25


def export_small_model(folder: Path, timeout_s: float) -> tuple[Path, Path]:
    """A fresh bundle and its joblib twin, from ``python -m export`` on the demo data."""
    models = folder / "models"
    command = [sys.executable, "-m", "export", "--output", str(models), "--no-measure"]
    subprocess.run(command, check=True, capture_output=True, timeout=timeout_s, cwd=Path(__file__).resolve().parents[1])
    version = runtime.load(models / "quality").version
    return models / "quality" / version, models / "quality" / f"{version}.joblib"


def write_rows(manifest: runtime.Manifest, n_rows: int, parquet: Path, csv: Path) -> None:
    """``n_rows`` valid rows, in chunks of a million, as Parquet and as CSV."""
    rng = np.random.default_rng(14)
    writer: pq.ParquetWriter | None = None
    with open(csv, "wb") as csv_file:
        for start in range(0, n_rows, CHUNK_ROWS):
            size = min(CHUNK_ROWS, n_rows - start)
            columns: dict[str, Any] = {"id": np.arange(start, start + size, dtype=np.int64)}
            for spec in manifest.inputs:
                if spec.kind == "number":
                    low, high = spec.valid_range if spec.valid_range is not None else (0.0, 1.0)
                    columns[spec.name] = np.round(rng.uniform(low, high, size), 3)
                else:
                    columns[spec.name] = rng.choice(np.asarray(spec.categories, dtype=object), size)
            chunk = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(parquet, chunk.schema)
            writer.write_table(chunk, row_group_size=250_000)
            pacsv.write_csv(chunk, csv_file, pacsv.WriteOptions(include_header=start == 0))
    if writer is not None:
        writer.close()


class WorkerMemory:
    """Peak resident memory of Spark's Python workers (processes running ``pyspark.daemon``), by pid."""

    def __init__(self) -> None:
        self.peak_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    self._sample(entry)

    def _sample(self, entry: Path) -> None:
        try:
            if b"pyspark.daemon" not in (entry / "cmdline").read_bytes():
                return
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    pid = int(entry.name)
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(line.split()[1]))
        except OSError:
            return


def timed(call: Callable[[], Any]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def sklearn_scorer(
    joblib_path: str, columns: list[str], classes: list[Any]
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """``mapInPandas``'s function: the Pipeline loaded once per worker, predict_proba on each batch."""

    def score(frames: Iterator[Any]) -> Iterator[Any]:
        import joblib

        pipeline = joblib.load(joblib_path)["pipeline"]
        for frame in frames:
            probabilities = pipeline.predict_proba(frame[columns])
            out = frame.assign(label=pipeline.classes_[probabilities.argmax(axis=1)])
            for index, name in enumerate(classes):
                out[f"probability_{name}"] = probabilities[:, index]
            yield out

    return score


def in_process_batches(model: runtime.Model, parquet: Path) -> None:
    """``predict_batch`` over the file's record batches of 10,000 rows: scoring without parsing."""
    for batch in pq.ParquetFile(parquet).iter_batches(batch_size=10_000, columns=list(model.columns)):
        model.predict_batch({name: batch.column(name).to_numpy(zero_copy_only=False) for name in model.columns})


def one_size(spark: Any, folder: Path, bundle: Path, twin: Path, n_rows: int, timeout_s: float) -> dict[str, Any]:
    model = runtime.load(bundle)
    parquet, csv = folder / f"rows-{n_rows}.parquet", folder / f"rows-{n_rows}.csv"
    figures: dict[str, Any] = {
        "rows": n_rows,
        "write_inputs_s": timed(lambda: write_rows(model.manifest, n_rows, parquet, csv)),
    }
    frame = spark.read.parquet(str(parquet))
    with WorkerMemory() as memory:
        scored = runtime.spark.predict(frame, bundle)
        figures["spark_predict_s"] = timed(lambda: scored.write.parquet(str(folder / f"scored-{n_rows}")))
    figures["worker_peak_mb"] = max(memory.peak_kb.values(), default=0) / 1024
    figures["workers_seen"] = len(memory.peak_kb)
    classes = list(model.classes or ())
    schema = f"{frame.schema.simpleString()[7:-1]}, label bigint, " + ", ".join(
        f"probability_{c} double" for c in classes
    )
    sklearn = frame.mapInPandas(sklearn_scorer(str(twin), list(model.columns), classes), schema)
    figures["spark_sklearn_s"] = timed(lambda: sklearn.write.parquet(str(folder / f"sklearn-{n_rows}")))
    command = [
        sys.executable,
        "-m",
        "runtime",
        "predict",
        str(bundle),
        "--input",
        str(csv),
        "--output",
        str(folder / f"out-{n_rows}.csv"),
        "--keep-extra",
    ]
    try:
        figures["runtime_predict_s"] = timed(
            lambda: subprocess.run(command, check=True, capture_output=True, timeout=timeout_s)
        )
    except subprocess.TimeoutExpired:
        figures["runtime_predict_s"] = None
    figures["predict_batch_s"] = timed(lambda: in_process_batches(model, parquet))
    for path in (parquet, csv, folder / f"out-{n_rows}.csv"):
        path.unlink(missing_ok=True)
    return figures


def report(startup_s: float, master: str, results: list[dict[str, Any]]) -> str:
    def rate(rows: int, seconds: float | None) -> str:
        return "did not finish" if seconds is None else f"{seconds:7.1f} s {rows / seconds:>11,.0f} rows/s"

    lines = [f"Spark start-up ({master}, JVM + session): {startup_s:.1f} s (not in the figures below)"]
    for figures in results:
        rows = figures["rows"]
        lines += [
            f"{rows:,} rows:",
            f"  spark-predict (runtime.spark, Parquet out)      {rate(rows, figures['spark_predict_s'])}",
            f"  scikit-learn in mapInPandas (Parquet out)       {rate(rows, figures['spark_sklearn_s'])}",
            f"  python -m runtime predict, 1 process (CSV)      {rate(rows, figures['runtime_predict_s'])}",
            f"  predict_batch over Arrow batches, 1 process     {rate(rows, figures['predict_batch_s'])}",
            f"  Spark Python workers: {figures['workers_seen']}, "
            f"peak RSS {figures['worker_peak_mb']:.0f} MB each at most",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--timeout-s", type=float, default=1200.0, help="limit of the single-process run and the export"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="spark-scoring-") as temporary:
        folder = Path(temporary)
        bundle, twin = export_small_model(folder, args.timeout_s)
        started = time.monotonic()
        builder = SparkSession.builder.master(args.master).appName("factory-edge spark benchmark")
        for key, value in SESSION_CONFIG.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        startup_s = time.monotonic() - started
        try:
            results = []
            for n_rows in args.rows:
                results.append(one_size(spark, folder, bundle, twin, n_rows, args.timeout_s))
                print(report(startup_s, args.master, results[-1:]), flush=True)
        finally:
            spark.stop()
    print("\n" + report(startup_s, args.master, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
