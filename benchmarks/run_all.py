"""Run every benchmark, each in its own process, print one markdown report and write it to `benchmarks/RESULTS.md`.

Usage: python benchmarks/run_all.py [--quick] [--out PATH]

Each `bench_*.py` measures its comparison side by side in one process (medians after warm-up, ratios) and prints a
markdown section; this script adds the machine it ran on and the command to reproduce it.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_cam.py", "bench_floor.py", "bench_data.py", "bench_explore.py", "bench_dataset.py"]


def machine():
    "One line naming the CPU, its cores, the GPU if TensorFlow sees one, and the library versions."
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    probe = ("import tensorflow as tf, keras; gpus = tf.config.list_physical_devices('GPU'); "
             "names = [tf.config.experimental.get_device_details(g).get('device_name', g.name) for g in gpus]; "
             "print(tf.__version__, keras.__version__, '; '.join(names) or 'none', sep='|')")
    tf_version, keras_version, gpu = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
                                                    ).stdout.strip().split("|")
    return (f"{cpu}, {os.cpu_count()} cores, GPU: {gpu}; Python {platform.python_version()}, "
            f"TensorFlow {tf_version}, Keras {keras_version}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats and small sizes: a smoke run, not numbers to quote")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="where to write the markdown report")
    args = parser.parse_args(argv)

    start = time.time()
    sections = [f"# channelgradcam benchmarks\n\nMachine: {machine()}.\n\n"
                f"Reproduce: `python benchmarks/run_all.py{' --quick' if args.quick else ''}` "
                f"(needs `pip install -e \".[bench]\"`).\n"]
    failed = []
    for name in BENCHMARKS:
        print(f"[run_all] {name} ...", file=sys.stderr, flush=True)
        res = subprocess.run([sys.executable, str(HERE / name), *(["--quick"] if args.quick else [])],
                             capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if res.returncode != 0:
            failed.append(name)
            sections.append(f"## {name}\n\nFailed (exit {res.returncode}):\n\n```\n{res.stderr[-3000:]}\n```\n")
        else:
            sections.append(res.stdout.strip() + "\n")
    sections.append(f"\nTotal benchmark time: {time.time() - start:.0f} s.\n")
    report = "\n".join(sections)
    print(report)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=args.out.parent, delete=False, suffix=".tmp") as f:
        f.write(report)
    os.replace(f.name, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
