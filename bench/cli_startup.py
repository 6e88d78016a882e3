"""How fast `brace` starts, next to the interpreter and its CLI libraries.

Runs, interleaved so that machine noise hits every command alike:
  python -c pass                      the interpreter alone
  python -c "import typer, rich"      the floor for any Typer + Rich CLI
  brace --help
  brace deployments list              a state-only command on a home with 1 model, 3 deployments
  brace deployments list -o json      the same for a script
and prints the median and p90 wall time of each and its ratio to `import typer, rich`,
then the two ratios brace is held to, `brace deployments list` (text) and
`brace --help` at most 1.3x `import typer, rich`, each also as the median of the
ratios taken within one run (paired).

Every command runs with a private bytecode cache (PYTHONPYCACHEPREFIX in a temporary
directory, warmed first), so brace's own modules start from bytecode as in a normal
install even where PYTHONDONTWRITEBYTECODE is set or the source tree is read-only.
Usage: python bench/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "python -c 'import typer, rich'"
TARGET = 1.3
HELD = ("brace deployments list", "brace --help")


def brace_executable() -> list[str]:
    script = Path(sys.executable).parent / "brace"
    return [str(script)] if script.exists() else [sys.executable, "-m", "brace"]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    brace = brace_executable()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "BRACE_HOME": str(home),
            "BRACE_AUTOSTART": "0",  # push only records: no server is started
            "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache"),
        }
        example = str(ROOT / "examples" / "hello")
        for args in (
            ["push", example],
            ["push", example, "--publish"],
            ["push", example, "--promote"],
        ):
            subprocess.run([*brace, *args], env=env, check=True, capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            FLOOR: [sys.executable, "-c", "import typer, rich"],
            "brace --help": [*brace, "--help"],
            "brace deployments list": [*brace, "deployments", "list"],
            "brace deployments list -o json": [*brace, "deployments", "list", "-o", "json"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the page and bytecode caches once
            timed(command, env)
        for _ in range(runs):
            for name, command in commands.items():
                samples[name].append(timed(command, env))
    baseline = statistics.median(samples[FLOOR])
    print(f"{'command':34} {'median ms':>10} {'p90 ms':>8} {'vs typer+rich':>14}")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:34} {median * 1000:10.1f} {p90 * 1000:8.1f} {median / baseline:13.2f}x")
    print(f"({runs} interleaved runs each; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs)")
    for name in HELD:
        ratio = statistics.median(samples[name]) / baseline
        paired = statistics.median(
            mine / floor for mine, floor in zip(samples[name], samples[FLOOR], strict=True)
        )
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(
            f"{name} / import typer, rich: {ratio:.2f}x (paired within runs: {paired:.2f}x); "
            f"target <= {TARGET}x: {verdict}"
        )


if __name__ == "__main__":
    main()
