"""Wall time of ``initlab grade --json --hidden`` on one submission, against the floor.

The floor, measured in the same run, is what any grading command pays before it
grades anything: starting Python and importing numpy and the kernel. Four
submissions: the solutions (every check passes), the released stubs (every
function raises NotImplementedError), one with mistakes in every function
(the slowest: scale measurement, alternative computations, a numerical
gradient), and a 2021-edition course notebook handed in with its helper files
(matplotlib, sklearn and init_utils imported, training at top level).

    python benchmarks/bench_grade.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE_NOTEBOOK = ROOT / "tests" / "fixtures" / "course" / "edition2021" / "Initialization.ipynb"


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def buggy(folder: Path) -> Path:
    solutions = ROOT / "graders" / "solutions" / "initialization"
    initialization = (solutions / "initialization.py").read_text().replace("2.0 /", "1.0 /")
    propagation = (
        (solutions / "propagation.py")
        .read_text()
        .replace("np.int64(A_prev > 0)", "1")
        .replace("1.0 / m * np.nansum", "np.nansum")
    )
    folder.mkdir()
    (folder / "initialization.py").write_text(initialization)
    (folder / "propagation.py").write_text(propagation)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    initlab = shutil.which("initlab") or sys.exit("initlab is not installed: pip install .")
    with tempfile.TemporaryDirectory() as work:
        submissions = {
            "solutions": ROOT / "graders" / "solutions" / "initialization",
            "released stubs": ROOT / "assignment" / "initialization",
            "mistakes everywhere": buggy(Path(work) / "buggy"),
            "course notebook 2021": COURSE_NOTEBOOK,
        }
        floor = [
            wall([sys.executable, "-c", "import numpy, initlab.kernel"]) for _ in range(args.repeat)
        ]
        print(f"floor (python + numpy + kernel import): median {statistics.median(floor):.3f} s")
        print(f"{'submission':<22}{'median s':>10}{'max s':>8}{'x floor':>9}")
        for name, path in submissions.items():
            times = [
                wall([initlab, "grade", "--json", "--hidden", str(path)])
                for _ in range(args.repeat)
            ]
            median, base = statistics.median(times), statistics.median(floor)
            print(f"{name:<22}{median:>10.3f}{max(times):>8.3f}{median / base:>9.1f}")


if __name__ == "__main__":
    main()
