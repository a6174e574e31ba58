"""autoslo: find the cheapest Amazon Redshift execution config that meets query-latency SLOs.

The package is a pure core (configs, ids, the data tree, workloads, simulator, models) with I/O at
the edges (the `autoslo` command line and the Prefect flows in `flows/`).
"""

__version__ = "0.1.0"
