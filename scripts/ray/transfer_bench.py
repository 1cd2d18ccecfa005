"""Ray's side of `drover bench transfer --compare-ray`: a value made by one task and consumed by
another, Python bytes and numpy arrays of uint8 and float64. Without --address: on one local Ray
node with 2 CPUs (its plasma store is shared memory: a numpy array is read without a copy, bytes
are copied out of it). With --address: on a running cluster whose nodes offer the custom resources
`producer` and `consumer` (`drover bench transfer --across-namespaces` starts one node of each in
two network namespaces), so the value crosses from one node's object store to the other's.
Writes one JSON object per line to the file --output names (Ray prints on stdout)."""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # everything on 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import numpy  # noqa: E402
import ray  # noqa: E402

KINDS = ("bytes", "numpy-uint8", "numpy-float64")


@ray.remote(num_cpus=1)
def make_payload(size, kind):
    if kind == "bytes":
        return bytes(bytearray(i % 251 for i in range(251))) * (size // 251) + b"x" * (size % 251)
    if kind == "numpy-uint8":
        return (numpy.arange(size, dtype=numpy.int64) % 251).astype(numpy.uint8)
    return numpy.arange(size // 8, dtype=numpy.float64)


@ray.remote(num_cpus=1)
def consume(x):
    return x.nbytes if hasattr(x, "nbytes") else len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,64,256", help="comma list of MiB")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", required=True)
    parser.add_argument("--address", help="a running cluster with `producer` and `consumer` nodes")
    args = parser.parse_args()
    make, take = make_payload, consume
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
        make = make_payload.options(resources={"producer": 1})
        take = consume.options(resources={"consumer": 1})
    else:
        # address="local": a new instance of our own, even if a cluster runs on this machine.
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        # Warm up: each node starts its worker processes on first use, which is not a transfer.
        assert ray.get(take.remote(make.remote(1024, "bytes"))) == 1024
        with open(args.output, "w") as output:
            for kind in KINDS:
                for mib in [int(s) for s in args.sizes.split(",")]:
                    size = mib << 20
                    times = []
                    for _ in range(args.repeats):
                        produced = make.remote(size, kind)
                        ray.wait([produced])
                        start = time.perf_counter()
                        result = ray.get(take.remote(produced))
                        times.append(time.perf_counter() - start)
                        assert result == size, result
                        del produced
                    s = statistics.median(times)
                    output.write(json.dumps({"bench": "transfer", "kind": kind, "mib": mib, "seconds": s,
                                             "mib_per_s": mib / s, "ray": ray.__version__}) + "\n")
                    output.flush()
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
