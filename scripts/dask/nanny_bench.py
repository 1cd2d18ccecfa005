"""Dask's side of `drover bench nanny --compare-dask`: kill -9 of a worker until its nanny's
replacement registers, and submit of a task touching 1 GiB on a worker with a memory limit until
KilledWorker. Prints one JSON object per line; Dask's logs go to stderr."""

import argparse
import json
import logging
import os
import signal
import statistics
import sys
import time

import dask
import numpy
from distributed import Client, LocalCluster
from distributed.scheduler import KilledWorker


def emit(record):
    record["dask"] = dask.__version__
    print(json.dumps(record), flush=True)


def allocate(size):
    block = numpy.ones(size, dtype=numpy.uint8)  # writes every page
    return int(block.sum())


def worker_addresses(client):
    return set(client.scheduler_info()["workers"])


def restart(kills):
    """Each kill on a fresh cluster, as on Drover's side."""
    times = []
    for _ in range(kills):
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.wait_for_workers(1)
            (address, pid), = client.run(os.getpid).items()
            start = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while True:
                now = worker_addresses(client)
                if now and now != {address}:
                    break
                time.sleep(0.0002)
            times.append(time.perf_counter() - start)
    emit({"bench": "restart", "seconds": statistics.median(times), "runs": times})


def oom(repeats, memory_limit):
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        times = []
        for run in range(repeats):
            client.wait_for_workers(1)
            start = time.perf_counter()
            future = client.submit(allocate, (1 << 30) + run, pure=False)
            try:
                future.result()
                raise RuntimeError("the 1 GiB task finished under the limit")
            except KilledWorker:
                times.append(time.perf_counter() - start)
        emit({"bench": "oom", "seconds": statistics.median(times), "runs": times})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default="300MiB")
    parser.add_argument("--only", default="restart,oom")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    selected = set(args.only.split(","))
    if "restart" in selected:
        restart(args.kills)
    if "oom" in selected:
        oom(args.repeats, args.memory_limit)


if __name__ == "__main__":
    main()
