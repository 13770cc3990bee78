"""Observed values and targets of metrics (CSV/Parquet in a catalog), metric SQL over the
catalog's data files, aggregation by dimensions and derived metrics. DuckDB is imported only
in this package."""
