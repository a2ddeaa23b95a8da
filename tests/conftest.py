"""Test-session set-up: with pytest-xdist (``-n 2`` by default) each worker process gets its share of the cores
for BLAS/LAPACK. Two workers with multithreaded OpenBLAS on two cores make it spin: ``numpy.linalg.eigh`` of a
384 x 384 matrix took 0.5-2.2 s with the cores busy against 0.06 s on one thread."""

import os


def pytest_configure(config):
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and workers.isdigit() and int(workers) > 1:
        from sims.harness.executor import share_cores

        share_cores(int(workers))
