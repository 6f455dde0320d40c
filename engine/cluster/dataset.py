"""A Ray Dataset as the input of a run: its rows ({"id", "text", other fields}) in order, through the same batches."""
from __future__ import annotations

from engine.cluster.executor import ClusterOptions, RayExecutor, import_ray
from engine.jobs.inputs import ItemSource, item_from_fields
from engine.jobs.pipeline import BatchProcessor, RunOptions
from engine.jobs.spec import EngineSpec
from engine.jobs.summary import RunSummary


def dataset_source(ds, source_id: str | None = None) -> ItemSource:
    """The rows in dataset order, item n the n-th row (as line n of a file); rows stream through the driver.

    source_id names the data for --resume (say its path and version): a dataset cannot be fingerprinted
    without reading it all, so a run without one cannot be resumed.
    """
    ray = import_ray()
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # row n must be the n-th row
    items = (item_from_fields(_plain(row), n) for n, row in enumerate(ds.iter_rows(), start=1))
    return ItemSource(source_id or "a Ray Dataset without source_id", items,
                      None if source_id is None else "ray.data:" + source_id)


def compress_dataset(ds, output: str, spec: EngineSpec = EngineSpec(), options: RunOptions = RunOptions(),
                     cluster: ClusterOptions = ClusterOptions(), monitor=None, source_id: str | None = None) -> RunSummary:
    """Compress a Ray Dataset into OUTPUT (JSONL records, one per row, in order) on actors of the running cluster."""
    with RayExecutor(spec, cluster) as executor:
        return BatchProcessor(None, options, monitor, executor=executor).run(dataset_source(ds, source_id), output)


def _plain(value):
    """Arrow/numpy values as plain Python, so metadata serialises as JSON does for a file's line."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    return value
