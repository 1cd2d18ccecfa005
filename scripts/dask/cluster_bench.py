"""Dask's side of `drover bench cluster --compare-dask`: map+gather, sequential submit/result,
tree reduction, worker-to-worker transfer, cluster startup and scheduler memory per held task,
all on loopback. Prints one JSON object per line; Dask's logs go to stderr."""

import argparse
import gc
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time

import dask
import distributed
import numpy
import psutil
from distributed import Client, LocalCluster

BENCHES = ("map_gather", "submit_result", "tree_reduce", "transfer", "startup", "scheduler_rss")


def noop(x):
    return x


def inc_fast(i):
    return i + 1


def add(a, b):
    return a + b


def make_payload(size, kind):
    return numpy.ones(size, dtype=numpy.uint8) if kind == "numpy" else b"x" * size


def consume(x):
    return x.nbytes if hasattr(x, "nbytes") else len(x)


def scheduler_task_count(dask_scheduler):
    return len(dask_scheduler.tasks)


def emit(record):
    record["dask"] = dask.__version__
    print(json.dumps(record), flush=True)


def wait_released(client, timeout=60):
    """Waits until the scheduler forgot every task, so runs don't see each other's leftovers."""
    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(scheduler_task_count):
        if time.monotonic() > deadline:
            raise RuntimeError("the scheduler still holds tasks after the run was released")
        time.sleep(0.05)


def local_cluster(n_workers):
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)


def bench_map_gather(client, args):
    for n in [int(s) for s in args.map_tasks.split(",")]:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            futures = client.map(noop, range(n), pure=False)
            result = client.gather(futures)
            times.append(time.perf_counter() - start)
            assert result == list(range(n))
            del futures, result
            wait_released(client)
        s = statistics.median(times)
        emit({"bench": "map_gather", "tasks": n, "seconds": s, "tasks_per_s": n / s})


def bench_submit_result(client, args):
    for i in range(20):
        assert client.submit(inc_fast, i, pure=False).result() == i + 1
    latencies = []
    for i in range(args.sequential):
        start = time.perf_counter()
        result = client.submit(inc_fast, i, pure=False).result()
        latencies.append((time.perf_counter() - start) * 1e6)
        assert result == i + 1
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    emit({"bench": "submit_result", "count": args.sequential,
          "median_us": statistics.median(latencies), "p99_us": p99})


def bench_tree_reduce(client, args):
    leaves = args.leaves
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        level, odd = client.map(noop, range(leaves), pure=False), []
        while len(level) > 1:
            odd = level[-1:] if len(level) % 2 else []  # an odd one out moves up unchanged
            level = [client.submit(add, a, b, pure=False)
                     for a, b in zip(level[0::2], level[1::2])] + odd
        result = level[0].result()
        times.append(time.perf_counter() - start)
        assert result == sum(range(leaves)), result
        del level, odd
        wait_released(client)
    s = statistics.median(times)
    tasks = 2 * leaves - 1
    emit({"bench": "tree_reduce", "leaves": leaves, "tasks": tasks, "seconds": s,
          "tasks_per_s": tasks / s})


def bench_transfer(client, args):
    a, b = sorted(client.scheduler_info()["workers"])[:2]
    size = args.transfer_mib * 1024 * 1024
    for kind in ("bytes", "numpy"):
        remote, local = [], []
        for _ in range(args.repeats):
            for consumer, times in ((a, local), (b, remote)):
                produce = client.submit(make_payload, size, kind, workers=[a], pure=False)
                distributed.wait(produce)
                start = time.perf_counter()
                result = client.submit(consume, produce, workers=[consumer], pure=False).result()
                times.append(time.perf_counter() - start)
                assert result == size, result
                del produce
                wait_released(client)
        s = statistics.median(remote)
        emit({"bench": "transfer", "kind": kind, "mib": args.transfer_mib, "seconds": s,
              "mib_per_s": args.transfer_mib / s, "local_seconds": statistics.median(local)})


def bench_startup(args):
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with local_cluster(4) as cluster, Client(cluster) as client:
            client.wait_for_workers(4)
            times.append(time.perf_counter() - start)
    emit({"bench": "startup", "workers": 4, "seconds": statistics.median(times)})


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(processes):
    for proc in reversed(processes):  # workers first, then the scheduler
        if proc.poll() is None:
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_scheduler_rss(args):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler_cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler",
                     "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker_cmd = [sys.executable, "-m", "distributed.cli.dask_worker", address,
                  "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                  "--no-nanny", "--no-dashboard"]
    processes = []
    try:  # the subprocesses inherit DASK_LOGGING__DISTRIBUTED from main()
        processes.append(subprocess.Popen(scheduler_cmd))
        scheduler = psutil.Process(processes[0].pid)
        processes += [subprocess.Popen(worker_cmd) for _ in range(2)]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            warm = client.map(noop, range(1000), pure=False)
            assert client.gather(warm) == list(range(1000))
            del warm
            wait_released(client)
            client.run_on_scheduler(gc.collect)
            gc.collect()
            rss0 = scheduler.memory_info().rss
            held = client.map(noop, range(args.held), pure=False)
            distributed.wait(held)
            time.sleep(1)
            rss1 = scheduler.memory_info().rss
            emit({"bench": "scheduler_rss", "held": args.held, "rss_before": rss0,
                  "rss_after": rss1, "bytes_per_task": (rss1 - rss0) / args.held})
            del held
    finally:
        stop(processes)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--map-tasks", default="10000,100000", help="comma list of task counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--leaves", type=int, default=8192)
    parser.add_argument("--transfer-mib", type=int, default=256)
    parser.add_argument("--held", type=int, default=100_000)
    parser.add_argument("--only", default=",".join(BENCHES),
                        help="comma list of: " + ",".join(BENCHES))
    args = parser.parse_args()
    only = set(args.only.split(","))
    unknown = only - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench: {','.join(sorted(unknown))}")

    os.environ["DASK_LOGGING__DISTRIBUTED"] = "error"  # inherited by worker processes
    logging.getLogger("distributed").setLevel(logging.ERROR)

    on_shared_cluster = {"map_gather": bench_map_gather, "submit_result": bench_submit_result,
                         "tree_reduce": bench_tree_reduce, "transfer": bench_transfer}
    runs = [run for name, run in on_shared_cluster.items() if name in only]
    if runs:
        with local_cluster(2) as cluster, Client(cluster) as client:
            client.wait_for_workers(2)
            for run in runs:
                run(client, args)
    if "startup" in only:
        bench_startup(args)
    if "scheduler_rss" in only:
        bench_scheduler_rss(args)


if __name__ == "__main__":
    main()
