"""Test-session set-up: with pytest-xdist (``-n 2`` by default) each worker process gets its share of the cores
for BLAS/LAPACK. Two workers with multithreaded OpenBLAS on two cores make it spin: ``numpy.linalg.eigh`` of a
384 x 384 matrix took 0.5-2.2 s with the cores busy against 0.06 s on one thread."""

import os


def pytest_configure(config):
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and workers.isdigit() and int(workers) > 1:
        from threadpoolctl import threadpool_limits

        threadpool_limits(max(1, (os.cpu_count() or 1) // int(workers)), user_api="blas")
