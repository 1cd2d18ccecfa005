"""Ray's side of `drover bench cluster --compare-ray`: map+gather, sequential submit/get, tree
reduction, task-to-task transfer and memory per held object, on one local Ray node with 2 CPUs
(the same 2 task slots as Drover's 2 workers x 1 thread). Writes one JSON object per line to the
file --output names (Ray prints worker messages on stdout, so stdout is not the channel).

Ray has no separate scheduler process to weigh: (f) reports the driver's resident memory per held
ObjectRef, plus the GCS's and the raylet's, which own the objects' metadata."""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # everything on 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import numpy  # noqa: E402
import psutil  # noqa: E402
import ray  # noqa: E402

BENCHES = ("map_gather", "submit_result", "tree_reduce", "transfer", "scheduler_rss")
output = None


@ray.remote(num_cpus=1)
def noop(x):
    return x


@ray.remote(num_cpus=1)
def add(a, b):
    return a + b


@ray.remote(num_cpus=1)
def make_payload(size, kind):
    return numpy.ones(size, dtype=numpy.uint8) if kind == "numpy" else b"x" * size


@ray.remote(num_cpus=1)
def consume(x):
    return x.nbytes if hasattr(x, "nbytes") else len(x)


def emit(record):
    record["ray"] = ray.__version__
    output.write(json.dumps(record) + "\n")
    output.flush()


def bench_map_gather(args):
    for n in [int(s) for s in args.map_tasks.split(",")]:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = ray.get([noop.remote(i) for i in range(n)])
            times.append(time.perf_counter() - start)
            assert result == list(range(n))
        s = statistics.median(times)
        emit({"bench": "map_gather", "tasks": n, "seconds": s, "tasks_per_s": n / s})


def bench_submit_result(args):
    for i in range(20):
        assert ray.get(noop.remote(i)) == i
    latencies = []
    for i in range(args.sequential):
        start = time.perf_counter()
        result = ray.get(noop.remote(i))
        latencies.append((time.perf_counter() - start) * 1e6)
        assert result == i
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    emit({"bench": "submit_result", "count": args.sequential,
          "median_us": statistics.median(latencies), "p99_us": p99})


def bench_tree_reduce(args):
    leaves = args.leaves
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        level = [noop.remote(i) for i in range(leaves)]
        while len(level) > 1:
            odd = level[-1:] if len(level) % 2 else []  # an odd one out moves up unchanged
            level = [add.remote(a, b) for a, b in zip(level[0::2], level[1::2])] + odd
        result = ray.get(level[0])
        times.append(time.perf_counter() - start)
        assert result == sum(range(leaves)), result
    s = statistics.median(times)
    tasks = 2 * leaves - 1
    emit({"bench": "tree_reduce", "leaves": leaves, "tasks": tasks, "seconds": s,
          "tasks_per_s": tasks / s})


def bench_transfer(args):
    """One node: the consumer reads the producer's value from the node's shared-memory store."""
    size = args.transfer_mib * 1024 * 1024
    for kind in ("bytes", "numpy"):
        times = []
        for _ in range(args.repeats):
            produced = make_payload.remote(size, kind)
            ray.wait([produced], fetch_local=False)
            start = time.perf_counter()
            result = ray.get(consume.remote(produced))
            times.append(time.perf_counter() - start)
            assert result == size, result
            del produced
        s = statistics.median(times)
        emit({"bench": "transfer", "kind": kind, "mib": args.transfer_mib, "seconds": s,
              "mib_per_s": args.transfer_mib / s})


def ray_processes():
    """The GCS server and the raylet: Ray's scheduling state outside the driver."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "gcs_server" in cmdline or proc.info["name"] == "raylet" or "/raylet" in cmdline:
            found.append(proc)
    return found


def rss(processes):
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def bench_scheduler_rss(args):
    driver = psutil.Process()
    others = ray_processes()
    warm = [noop.remote(i) for i in range(1000)]
    ray.get(warm)
    del warm
    time.sleep(1)
    driver0, others0 = driver.memory_info().rss, rss(others)
    held = [noop.remote(i) for i in range(args.held)]
    ray.wait(held, num_returns=len(held), fetch_local=False)
    time.sleep(1)
    driver1, others1 = driver.memory_info().rss, rss(others)
    emit({"bench": "scheduler_rss", "held": args.held,
          "bytes_per_task": (driver1 - driver0) / args.held,
          "gcs_raylet_bytes_per_task": (others1 - others0) / args.held})
    del held


def main():
    global output
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True)
    parser.add_argument("--map-tasks", default="10000,100000")
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--leaves", type=int, default=8192)
    parser.add_argument("--transfer-mib", type=int, default=256)
    parser.add_argument("--held", type=int, default=100000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(BENCHES))
    args = parser.parse_args()
    selected = set(args.only.split(","))
    output = open(args.output, "w")
    # Objects up to the largest transfer, plus headroom; /dev/shm is where plasma lives.
    store = max(2 * args.transfer_mib * 1024 * 1024, 512 * 1024 * 1024)
    # address="local": a new instance of our own, even if a cluster runs on this machine.
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=store,
             log_to_driver=False, logging_level="ERROR")
    try:
        for name in BENCHES:
            if name in selected:
                globals()["bench_" + name](args)
    finally:
        ray.shutdown()
        output.close()


if __name__ == "__main__":
    sys.exit(main())
