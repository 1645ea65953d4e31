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
   (scoring alone, no file parsing). Each step's CPU time is measured too (for Spark: the JVM and its
   Python workers, sampled from ``/proc`` with the workers' resident memory), as wall time on a
   shared machine depends on what else runs. ``--steps`` picks steps.

Every step has a time limit (``--timeout-s``): a step that misses it is reported as such. The rows/s
are rows divided by the step's wall time; start-up is reported apart.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def write_rows(manifest: runtime.Manifest, n_rows: int, parquet: Path, csv: Path | None) -> None:
    """``n_rows`` valid rows, in chunks of a million, as Parquet and (unless ``csv`` is None) as CSV."""
    rng = np.random.default_rng(14)
    writer: pq.ParquetWriter | None = None
    with open(csv or os.devnull, "wb") as csv_file:
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
            if csv is not None:
                pacsv.write_csv(chunk, csv_file, pacsv.WriteOptions(include_header=start == 0))
    if writer is not None:
        writer.close()


class SparkProcesses:
    """CPU seconds of the Spark JVM and its Python workers over a step, and the workers' peak resident
    memory, sampled from ``/proc`` (wall time on a shared machine says little; CPU time says more)."""

    MATCH = (b"pyspark.daemon", b"org.apache.spark.deploy.SparkSubmit")
    TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")

    def __init__(self) -> None:
        self.peak_kb: dict[int, int] = {}
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SparkProcesses:
        self._sample_all(first=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_all()

    @property
    def cpu_s(self) -> float:
        return sum(last - self._first.get(pid, 0.0) for pid, last in self._last.items())

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample_all()

    def _sample_all(self, *, first: bool = False) -> None:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                self._sample(entry, first)

    def _sample(self, entry: Path, first: bool) -> None:
        try:
            command = (entry / "cmdline").read_bytes()
            if not any(part in command for part in self.MATCH):
                return
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            pid, cpu = int(entry.name), (int(fields[11]) + int(fields[12])) * self.TICK_S
            if first:
                self._first[pid] = cpu
            self._last[pid] = cpu
            if b"pyspark.daemon" in command:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            return


def timed(call: Callable[[], Any]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def spark_step(spark: Any, write: Callable[[], Any], timeout_s: float) -> dict[str, Any]:
    """Wall and CPU time of one Spark write, its jobs cancelled at ``timeout_s`` (then the times are None)."""
    timer = threading.Timer(timeout_s, spark.sparkContext.cancelAllJobs)
    timer.start()
    with SparkProcesses() as processes:
        try:
            wall_s: float | None = timed(write)
        except Exception:  # noqa: BLE001 - a cancelled job; reported as not finished
            wall_s = None
        finally:
            timer.cancel()
    return {"wall_s": wall_s, "cpu_s": processes.cpu_s if wall_s else None, "peak_mb": processes.peak_kb}


def local_step(call: Callable[[], Any]) -> dict[str, Any]:
    """Wall and CPU time (this process and its children) of ``call``; None when it timed out."""
    before, children = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        wall_s: float | None = timed(call)
    except subprocess.TimeoutExpired:
        return {"wall_s": None, "cpu_s": None}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_s = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {"wall_s": wall_s, "cpu_s": time.process_time() - before + child_s}


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


def one_size(spark: Any, folder: Path, bundle: Path, twin: Path, n_rows: int, args: Any) -> dict[str, Any]:
    model = runtime.load(bundle)
    parquet, csv = folder / f"rows-{n_rows}.parquet", folder / f"rows-{n_rows}.csv"
    write_rows(model.manifest, n_rows, parquet, csv if "cli" in args.steps else None)
    figures: dict[str, Any] = {"rows": n_rows}
    frame = spark.read.parquet(str(parquet))
    if "spark" in args.steps:
        scored = runtime.spark.predict(frame, bundle)
        figures["spark-predict on Spark (runtime.spark)"] = spark_step(
            spark, lambda: scored.write.parquet(str(folder / f"scored-{n_rows}")), args.timeout_s
        )
    if "sklearn" in args.steps:
        classes = list(model.classes or ())
        added = ", ".join(["label bigint", *(f"probability_{c} double" for c in classes)])
        schema = f"{frame.schema.simpleString()[7:-1]}, {added}"
        sklearn = frame.mapInPandas(sklearn_scorer(str(twin), list(model.columns), classes), schema)
        figures["scikit-learn in mapInPandas on Spark"] = spark_step(
            spark, lambda: sklearn.write.parquet(str(folder / f"sklearn-{n_rows}")), args.timeout_s
        )
    if "cli" in args.steps:
        output = folder / f"out-{n_rows}.csv"
        command = [sys.executable, "-m", "runtime", "predict", str(bundle), "-i", str(csv), "-o", str(output)]
        run = [*command, "--keep-extra"]
        figures["python -m runtime predict, 1 process (CSV)"] = local_step(
            lambda: subprocess.run(run, check=True, capture_output=True, timeout=args.timeout_s)
        )
    if "batch" in args.steps:
        figures["predict_batch over Arrow batches, 1 process"] = local_step(lambda: in_process_batches(model, parquet))
    for path in (parquet, csv, folder / f"out-{n_rows}.csv"):
        path.unlink(missing_ok=True)
    return figures


def report(startup_s: float, master: str, results: list[dict[str, Any]]) -> str:
    lines = [f"Spark start-up ({master}, JVM + session): {startup_s:.1f} s (not in the figures below)"]
    lines.append(f"{'':48} {'wall':>9} {'rows/s':>10} {'CPU':>9} {'rows per CPU-s':>15}")
    for figures in results:
        rows = figures["rows"]
        lines.append(f"{rows:,} rows:")
        for name, step in figures.items():
            if name == "rows":
                continue
            if step["wall_s"] is None:
                lines.append(f"  {name:46} did not finish")
                continue
            cpu = step["cpu_s"] or float("nan")
            lines.append(
                f"  {name:46} {step['wall_s']:7.1f} s {rows / step['wall_s']:>10,.0f} {cpu:7.1f} s {rows / cpu:>15,.0f}"
            )
            if step.get("peak_mb"):
                peaks = sorted(kb / 1024 for kb in step["peak_mb"].values())
                lines.append(f"    {len(peaks)} Python worker processes, peak RSS {peaks[-1]:.0f} MB (largest)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--timeout-s", type=float, default=1200.0, help="limit of each step (and of the export)")
    parser.add_argument(
        "--steps", nargs="+", default=["spark", "sklearn", "cli", "batch"], choices=["spark", "sklearn", "cli", "batch"]
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
                results.append(one_size(spark, folder, bundle, twin, n_rows, args))
                print(report(startup_s, args.master, results[-1:]), flush=True)
        finally:
            spark.stop()
    print("\n" + report(startup_s, args.master, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
