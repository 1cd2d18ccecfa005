"""Dask's side of `drover bench local --compare-dask`: the same no-op graphs on Dask's
single-threaded (get_sync) and threaded schedulers. Prints one JSON object per line."""

import argparse
import json
import statistics
import time

import dask
from dask.local import get_sync
from dask.threaded import get as threaded_get


def noop(x):
    return x


def noop_all(xs):
    return 0


def wide(n):
    graph = {("noop", i): (noop, i) for i in range(n - 1)}
    graph["root"] = (noop_all, [("noop", i) for i in range(n - 1)])
    return graph, "root"


def chain(n):
    graph = {("noop", 0): (noop, 0)}
    for i in range(1, n):
        graph[("noop", i)] = (noop, ("noop", i - 1))
    return graph, ("noop", n - 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    schedulers = {
        "single-threaded": lambda g, k: get_sync(g, k),
        "threads": lambda g, k: threaded_get(g, k, num_workers=args.workers),
    }
    for shape in (wide, chain):
        graph, key = shape(args.tasks)
        for label, get in schedulers.items():
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                result = get(graph, key)
                times.append(time.perf_counter() - start)
                assert result == 0, result
            print(
                json.dumps(
                    {
                        "graph": shape.__name__,
                        "scheduler": label,
                        "us_per_task": statistics.median(times) * 1e6 / args.tasks,
                        "dask": dask.__version__,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
