"""Truss's own model server next to brace's replica, brace's gateway and a bare
Starlette app, on the same trivial sync and async models (predict_concurrency 1).

Truss's server is built at run time from the `truss` wheel on PyPI (TRUSS below, or
--truss), in a virtualenv of its own under a temporary directory, laid out as its
Dockerfile lays out /app: the wheel's `templates/server` code, `templates/shared` as
the package that code imports (`_truss_shared` in 0.18), the model as `model/`, and
`config.yaml` expanded with every default as `truss build` writes it (by truss's own
`TrussConfig`, which is why the wheel is installed there too). Its dependencies are the
server's `requirements.txt` within its `constraints.txt`, from the index pip is set up
to use. It runs as the image runs it: `python main.py` in that directory, with
INFERENCE_SERVER_PORT. Nothing of truss is kept after the run (unless --keep).

The others run in brace's environment:
  replica    python -m brace.runtime --truss DIR --port P
  gateway    brace server --port P with BRACE_API_KEY set (wrk sends the key with -H),
             the model pushed and promoted; predict through /model/NAME/production/predict.
             Its CPU and RSS count the server and its replica (the replica's share is
             shown after "r"); its start is `brace server` starting until the first
             predict answers, the deployment woken from zero by that predict
  starlette  a bare Starlette app on uvicorn (uvloop, httptools) calling the same Model
             class under the same one-at-a-time limit: sync predict in a worker thread,
             async predict awaited

Each round starts every target in turn (the order rotates from round to round) and
measures: start to first predict (spawn until a predict answers 200, polled every
2 ms), requests/second at concurrency 16 (wrk -t1) and the CPU time per request of the
target's processes meanwhile (psutil), p50 latency at concurrency 1, and RSS after the
runs; then stops it. A first round warms the bytecode and page caches and is not
counted. Prints the medians over rounds, then ratios taken within each round (paired)
and their median: brace's replica and gateway against Truss's server and against the
bare Starlette app.

Usage: python bench/truss_server.py [--rounds N] [--duration S] [--truss SPEC] [--keep DIR]
(needs wrk, and pip access to the truss wheel and its server's dependencies)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from cold_start import WARM_CACHE
from gateway import cpu_seconds, cpu_steal, free_port, percentile, wrk

ROOT = Path(__file__).resolve().parent.parent
TRUSS = "truss>=0.18,<0.19"
BODY = '{"text": "hello, world", "n": 1}'
PREDICT = "/v1/models/model:predict"
KINDS = ("sync", "async")
NAMES = ("truss", "replica", "gateway", "starlette")
LABELS = {
    "truss": "Truss's server",
    "replica": "brace replica",
    "gateway": "brace gateway",
    "starlette": "bare Starlette",
}
MODEL = """\
class Model:
    def __init__(self, **kwargs):
        pass

    {keyword}def predict(self, model_input):
        return {{"greeting": "hello", "echo": model_input}}
"""
CONFIG = "model_name: bench-{kind}\nruntime:\n  predict_concurrency: 1\n"
# Run with the truss virtualenv's interpreter: config.yaml as `truss build` writes it.
EXPAND_CONFIG = (
    "import pathlib, sys, yaml\n"
    "from truss.base.truss_config import TrussConfig\n"
    "config = TrussConfig.from_yaml(pathlib.Path(sys.argv[1]))\n"
    "pathlib.Path(sys.argv[2]).write_text(yaml.dump(config.to_dict(verbose=True)))\n"
)


# -- Truss's server, from its wheel ------------------------------------------------------


@dataclass(frozen=True)
class TrussBuild:
    version: str
    python: Path  # the virtualenv's interpreter
    server: Path  # the wheel's templates/server
    shared: Path  # the wheel's templates/shared
    shared_name: str  # the name the server code imports it by


def pip(python: Path | str, *args: str | Path) -> None:
    command = [str(python), "-m", "pip", "--disable-pip-version-check", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")


def build_truss(root: Path, spec: str) -> TrussBuild:
    """Download the wheel, unpack its server templates, make the virtualenv. A complete
    build already in `root` (--keep) is reused."""
    wheels = root / "wheel"
    if not list(wheels.glob("truss-*.whl")):
        print(f"downloading {spec} ...", flush=True)
        pip(
            sys.executable,
            "download",
            "-q",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            wheels,
            spec,
        )
    wheel = next(wheels.glob("truss-*.whl"))
    templates = root / "unpacked" / "truss" / "templates"
    if not templates.is_dir():
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(("truss/templates/server/", "truss/templates/shared/")):
                    archive.extract(member, root / "unpacked")
    server, shared = templates / "server", templates / "shared"
    venv = root / "venv"
    python = venv / "bin" / "python"
    if not (venv / "complete").exists():
        print(f"installing {wheel.name} and its server's requirements ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        requirements = root / "requirements.txt"
        # Index options in the file would override the machine's pip configuration.
        lines = (server / "requirements.txt").read_text().splitlines()
        kept = [line for line in lines if not line.strip().startswith(("-i", "--index-url"))]
        requirements.write_text("\n".join(kept) + "\n")
        constraints = server / "constraints.txt"
        pip(python, "install", "-q", "-r", requirements, "-c", constraints, wheel)
        (venv / "complete").write_text("")
    code = (server / "truss_server.py").read_text() + (server / "model_wrapper.py").read_text()
    found = re.search(r"^from (_truss_shared|shared)\b", code, re.MULTILINE)
    version = wheel.name.split("-")[1]
    return TrussBuild(version, python, server, shared, found.group(1) if found else "shared")


def lay_out(build: TrussBuild, truss_dir: Path, app: Path) -> None:
    """/app as Truss's Dockerfile makes it: server code, shared package, model, config."""
    shutil.copytree(build.server, app)
    shutil.copytree(build.shared, app / build.shared_name)
    shutil.copytree(truss_dir / "model", app / "model")
    command = [str(build.python), "-c", EXPAND_CONFIG, str(truss_dir / "config.yaml")]
    subprocess.run([*command, str(app / "config.yaml")], check=True)


# -- the bare Starlette app (run by this file with --role starlette) ---------------------


def run_starlette(truss_dir: Path, port: int) -> None:
    """The same Model class, JSON in and out, one predict at a time."""
    import asyncio
    import importlib.util
    import inspect
    import json

    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    spec = importlib.util.spec_from_file_location("model", truss_dir / "model" / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model()
    is_async = inspect.iscoroutinefunction(model.predict)
    one_at_a_time = asyncio.Semaphore(1)

    async def predict(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        async with one_at_a_time:
            if is_async:
                result = await model.predict(body)
            else:
                result = await run_in_threadpool(model.predict, body)
        return JSONResponse(result)

    app = Starlette(routes=[Route(PREDICT, predict, methods=["POST"])])
    config = uvicorn.Config(
        app,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run()


# -- targets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str  # one of NAMES
    kind: str  # one of KINDS
    command: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    path: str
    headers: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


@dataclass(frozen=True)
class Sample:
    start_ms: float
    rps: float
    p50_us: float
    cpu_us: float  # per request at concurrency 16, every process of the target
    child_cpu_us: float  # of which its child processes (the gateway's replica)
    rss_mb: float  # every process of the target
    child_rss_mb: float


def predicts(target: Target) -> bool:
    """Whether one predict answers 200 (a held request waits for its answer)."""
    headers = dict(h.split(": ", 1) for h in target.headers)
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=120)
    try:
        connection.request(
            "POST", target.path, BODY, {"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


def start(target: Target, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Spawn the target; returns it and the seconds until its first predict answered."""
    with log.open("ab") as out:
        began = time.perf_counter()
        process = subprocess.Popen(
            target.command,
            cwd=target.cwd,
            env=target.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while not predicts(target):
        if process.poll() is not None or time.perf_counter() - began > 180:
            stop(process)
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"{target.name} ({target.kind}) did not serve; its log:\n{tail}")
        time.sleep(0.002)
    return process, time.perf_counter() - began


def stop(process: subprocess.Popen[bytes]) -> None:
    """TERM the target's process group, then KILL; then any child left behind (a brace
    server stops its replicas itself; they run in sessions of their own)."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def own_cpu(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def measure(target: Target, log: Path, duration: int, script: Path) -> Sample:
    process, took = start(target, log)
    try:
        main = psutil.Process(process.pid)
        wrk(target.url, 16, 1, script, target.headers)  # warm: connections, lazy imports
        children = main.children(recursive=True)
        before = cpu_seconds(main), own_cpu(children)
        requests, rps, _ = wrk(target.url, 16, duration, script, target.headers)
        after = cpu_seconds(main), own_cpu(children)
        _, _, output = wrk(target.url, 1, duration, script, target.headers)
        child_rss = sum(c.memory_info().rss for c in children) / 2**20
        rss = main.memory_info().rss / 2**20 + child_rss
    finally:
        stop(process)
    return Sample(
        start_ms=took * 1000,
        rps=rps,
        p50_us=percentile(output, "50"),
        cpu_us=(after[0] - before[0]) / requests * 1e6,  # cpu_seconds counts the children
        child_cpu_us=(after[1] - before[1]) / requests * 1e6,
        rss_mb=rss,
        child_rss_mb=child_rss,
    )


def brace_cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "brace", *args], env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"brace {' '.join(args)} failed: {done.stderr.decode()}")


def make_targets(work: Path, build: TrussBuild, api_key: str) -> list[Target]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BRACE_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    # A private bytecode cache, warmed by the first round: brace's own modules start
    # from bytecode as in a normal install even where the source tree is read-only.
    base["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    me = [sys.executable, str(Path(__file__).resolve())]
    targets: list[Target] = []
    for kind in KINDS:
        truss_dir = work / kind
        (truss_dir / "model").mkdir(parents=True)
        keyword = "async " if kind == "async" else ""
        (truss_dir / "model" / "model.py").write_text(MODEL.format(keyword=keyword))
        (truss_dir / "config.yaml").write_text(CONFIG.format(kind=kind))
        app = work / f"truss-app-{kind}"
        lay_out(build, truss_dir, app)
        port = free_port()
        truss_env = {**base, "INFERENCE_SERVER_PORT": str(port)}
        targets.append(
            Target("truss", kind, [str(build.python), "main.py"], app, truss_env, port, PREDICT)
        )
        port = free_port()
        replica = [sys.executable, "-m", "brace.runtime", "--truss", str(truss_dir)]
        targets.append(
            Target("replica", kind, [*replica, "--port", str(port)], ROOT, base, port, PREDICT)
        )
        home = work / f"home-{kind}"
        brace_env = {**base, "BRACE_HOME": str(home), "BRACE_API_KEY": api_key}
        brace_cli({**brace_env, "BRACE_AUTOSTART": "0"}, "push", str(truss_dir), "--promote")
        port = free_port()
        targets.append(
            Target(
                "gateway",
                kind,
                [sys.executable, "-m", "brace", "server", "--port", str(port)],
                ROOT,
                brace_env,
                port,
                f"/model/bench-{kind}/production/predict",
                (f"Authorization: Api-Key {api_key}",),
            )
        )
        port = free_port()
        role = ["--role", "starlette", "--model-dir", str(truss_dir), "--port", str(port)]
        targets.append(Target("starlette", kind, [*me, *role], ROOT, base, port, PREDICT))
    subprocess.run([sys.executable, "-c", WARM_CACHE], check=True, env=base)
    return targets


# -- report ------------------------------------------------------------------------------

Round = dict[tuple[str, str], Sample]


def report(rounds: list[Round]) -> None:
    def med(name: str, kind: str, value: Callable[[Sample], float]) -> float:
        return statistics.median(value(r[(name, kind)]) for r in rounds)

    header = (
        f"{'':16} {'req/s c16':>9} {'p50 c1 us':>10} {'CPU us/req c16':>18} "
        f"{'start ms':>9} {'RSS MB':>12}"
    )
    for kind in KINDS:
        print(f"\n{kind} model (medians)")
        print(header)
        for name in NAMES:
            cpu = f"{med(name, kind, lambda s: s.cpu_us):.0f}"
            rss = f"{med(name, kind, lambda s: s.rss_mb):.0f}"
            if name == "gateway":
                cpu += f" (r {med(name, kind, lambda s: s.child_cpu_us):.0f})"
                rss += f" (r {med(name, kind, lambda s: s.child_rss_mb):.0f})"
            print(
                f"{LABELS[name]:16} {med(name, kind, lambda s: s.rps):9.0f} "
                f"{med(name, kind, lambda s: s.p50_us):10.0f} {cpu:>18} "
                f"{med(name, kind, lambda s: s.start_ms):9.0f} {rss:>12}"
            )

    metrics: dict[str, Callable[[Sample], float]] = {
        "req/s c16": lambda s: s.rps,
        "p50 c1": lambda s: s.p50_us,
        "CPU/req": lambda s: s.cpu_us,
        "start": lambda s: s.start_ms,
        "RSS": lambda s: s.rss_mb,
    }
    pairs = (
        ("replica", "truss"),
        ("gateway", "truss"),
        ("replica", "starlette"),
        ("gateway", "starlette"),
    )
    print("\nratios (each taken within a round, then the median over rounds)")
    print(f"{'':40}" + "".join(f"{m:>11}" for m in metrics))
    for kind in KINDS:
        for mine, theirs in pairs:
            cells = []
            for value in metrics.values():
                ratios = [value(r[(mine, kind)]) / value(r[(theirs, kind)]) for r in rounds]
                cells.append(f"{statistics.median(ratios):10.2f}x")
            label = f"{kind}: {LABELS[mine]} / {LABELS[theirs]}"
            print(f"{label:40}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds")
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--truss", default=TRUSS, help=f"the wheel to build (default {TRUSS})")
    parser.add_argument(
        "--keep", type=Path, help="build Truss's server here and keep it (reused next time)"
    )
    parser.add_argument("--role", choices=["starlette"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "starlette":
        run_starlette(args.model_dir, args.port)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    with tempfile.TemporaryDirectory(prefix="brace-bench-") as tmp:
        work = Path(tmp)
        build_root = args.keep.resolve() if args.keep else work / "truss"
        build_root.mkdir(parents=True, exist_ok=True)
        build = build_truss(build_root, args.truss)
        targets = make_targets(work, build, secrets.token_urlsafe(24))
        script = work / "post.lua"
        script.write_text(
            f"wrk.method = 'POST'\nwrk.body = '{BODY}'\n"
            "wrk.headers['Content-Type'] = 'application/json'\n"
        )
        print(
            f"Truss {build.version} (wheel from PyPI, own virtualenv) vs brace; Python "
            f"{sys.version.split()[0]}, {psutil.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at start; wrk -t1, {args.duration} s per run, "
            f"{args.rounds} rounds (+1 warm-up), targets rotated within each round",
            flush=True,
        )
        steal_before = cpu_steal()
        rounds: list[Round] = []
        for number in range(args.rounds + 1):
            shift = number % len(targets)
            results: Round = {}
            for target in targets[shift:] + targets[:shift]:
                log = work / f"{target.name}-{target.kind}.log"
                results[(target.name, target.kind)] = measure(target, log, args.duration, script)
            if number > 0:  # the first round warms caches
                rounds.append(results)
            print(f"round {number} done{' (warm-up)' if number == 0 else ''}", flush=True)
        steal = cpu_steal()
    note = ""
    if steal is not None and steal_before is not None and steal[1] > steal_before[1]:
        share = (steal[0] - steal_before[0]) / (steal[1] - steal_before[1]) * 100
        note = f"; CPU time stolen by the hypervisor: {share:.1f}%"
    print(f"load average {os.getloadavg()[0]:.1f} at the end{note}")
    report(rounds)


if __name__ == "__main__":
    main()
