"""Dask's side of `drover bench transfer`: a value made by a task on one worker and consumed by a
task on the other worker (2 worker processes x 1 thread, on loopback): Python bytes and numpy
arrays of uint8 and float64. Prints one JSON object per line; Dask's logs go to stderr."""

import argparse
import json
import logging
import statistics
import time

import dask
import distributed
import numpy
from distributed import Client, LocalCluster

KINDS = ("bytes", "numpy-uint8", "numpy-float64")


def make_payload(size, kind):
    if kind == "bytes":
        return bytes(bytearray(i % 251 for i in range(251))) * (size // 251) + b"x" * (size % 251)
    if kind == "numpy-uint8":
        return (numpy.arange(size, dtype=numpy.int64) % 251).astype(numpy.uint8)
    return numpy.arange(size // 8, dtype=numpy.float64)


def consume(x):
    return x.nbytes if hasattr(x, "nbytes") else len(x)


def scheduler_task_count(dask_scheduler):
    return len(dask_scheduler.tasks)


def wait_released(client, timeout=60):
    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(scheduler_task_count):
        if time.monotonic() > deadline:
            raise RuntimeError("the scheduler still holds tasks after the run was released")
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,64,256", help="comma list of MiB")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scheduler-file",
                        help="use this running cluster (two workers: the value is made on the one whose "
                             "address sorts first) instead of a LocalCluster")
    args = parser.parse_args()
    if args.scheduler_file:
        with Client(scheduler_file=args.scheduler_file) as client:
            run(client, args)
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            run(client, args)


def run(client, args):
    client.wait_for_workers(2)
    a, b = sorted(client.scheduler_info()["workers"])[:2]
    for kind in KINDS:
        for mib in [int(s) for s in args.sizes.split(",")]:
            size = mib << 20
            remote = []
            for _ in range(args.repeats):
                produce = client.submit(make_payload, size, kind, workers=[a], pure=False)
                distributed.wait(produce)
                start = time.perf_counter()
                result = client.submit(consume, produce, workers=[b], pure=False).result()
                remote.append(time.perf_counter() - start)
                assert result == size, result
                del produce
                wait_released(client)
            s = statistics.median(remote)
            print(json.dumps({"bench": "transfer", "kind": kind, "mib": mib, "seconds": s,
                              "mib_per_s": mib / s, "dask": dask.__version__}), flush=True)


if __name__ == "__main__":
    main()
