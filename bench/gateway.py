"""What the gateway costs: a replica directly, through brace's gateway, through nginx.

One run starts a replica of a trivial model, the gateway in its own process, and (when
installed) nginx with upstream keep-alive to the same replica as the reference, then
drives each with `wrk` (a C load generator: a Python one measures itself) at
concurrency 16 and 1, interleaved over several rounds so machine noise hits every
target alike. It prints requests/second, p50/p99 latency and CPU time per request of
the proxy process and of the replica (psutil, before and after each run; nginx counts
its master and worker), the median over rounds, then the ratios the gateway is held to:

  gateway/direct throughput at concurrency 16      target >= 0.8
  added p50 at concurrency 1                        target <= 100 us
  gateway CPU per request / nginx CPU per request   target <= 1.5
  gateway/nocount throughput at concurrency 16     target >= 0.95

`nocount` is the same gateway with its request counters (the metrics) turned off, so
the last ratio is what counting costs, measured in the same run. With `--pipe`, a
`pipe` target joins them: the least a Python proxy on uvloop can cost, a protocol that
copies bytes between each client connection and its own replica connection (the path
rewritten, nothing parsed, checked, pooled, held or counted); the gateway's CPU per
request minus the pipe's is what the gateway's own work costs.

Direct requests go to the replica over TCP (wrk speaks no Unix sockets); the gateway
and nginx reach it over a Unix socket, as brace's gateway reaches replicas. The output
says which replica ran: brace's runtime on examples/hello when `python -m brace.runtime`
works (two processes of it, one per socket), else (or with `--replica starlette`) a
bare Starlette JSON app on uvicorn (uvloop, httptools) in one process listening on both
sockets: a cheaper replica, so the proxies' share of the work shows more. The gateway
holds brace's runtime to its `predict_concurrency` (examples/hello's 4: at most 5
requests at once, the rest wait at the gateway), as `brace server` does; the Starlette
app has no such bound and gets none.

Usage: python bench/gateway.py [--duration S] [--rounds N] [--replica auto|runtime|starlette]
[--pipe]
(needs wrk; nginx optional)
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import psutil
from common import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "bench"
BODY = '{"text": "hello, world", "n": 1}'
GATEWAY_PATH = f"/model/{MODEL}/production/predict"
REPLICA_PATH = "/v1/models/model:predict"
CONCURRENCIES = (16, 1)


# -- the processes under test ------------------------------------------------------------


def run_starlette_replica(port: int, uds: str) -> None:
    """A trivial model server: the Truss predict route, JSON in and out."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def predict(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": "hello", "echo": await request.json()})

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = Starlette(
        routes=[
            Route(REPLICA_PATH, predict, methods=["POST"]),
            Route("/v1/models/model", ready),
        ]
    )
    tcp = socket.create_server(("127.0.0.1", port), backlog=2048)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(uds)
    unix.listen(2048)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[tcp, unix])


def run_gateway(port: int, uds: str, count_requests: bool = True, concurrency: int = 0) -> None:
    """`concurrency`: the replica's predict_concurrency, which the gateway holds it to
    (0: no bound, for the Starlette replica, which has none)."""
    import uvloop

    from brace.server.gateway.proxy import Gateway
    from brace.server.gateway.routing import (
        DeploymentRoute,
        EnvironmentRoute,
        ReplicaLimits,
        RoutingTable,
    )

    limits = (ReplicaLimits(predict_concurrency=concurrency),)
    table = RoutingTable(
        models={MODEL: MODEL},
        environments={(MODEL, "production"): EnvironmentRoute("d1")},
        deployments={"d1": DeploymentRoute("d1", MODEL, True, (uds,), limits=limits)},
    )

    async def serve() -> None:
        await Gateway(table, count_requests=count_requests).serve("127.0.0.1", port)
        await asyncio.Event().wait()

    uvloop.run(serve())


def run_pipe(port: int, uds: str) -> None:
    """The floor of a Python proxy on uvloop: bytes copied between a client connection
    and a replica connection of its own, the path rewritten, nothing else."""
    import uvloop

    old, new = GATEWAY_PATH.encode(), REPLICA_PATH.encode()

    class Upstream(asyncio.Protocol):
        def __init__(self, client: asyncio.Transport) -> None:
            self.client = client

        def data_received(self, data: bytes) -> None:
            self.client.write(data)

    class Client(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
            self.upstream: asyncio.Transport | None = None
            self.early: list[bytes] = []
            self.task = asyncio.get_running_loop().create_task(self.connect())

        async def connect(self) -> None:
            loop = asyncio.get_running_loop()
            self.upstream, _ = await loop.create_unix_connection(
                lambda: Upstream(self.transport), uds
            )
            for data in self.early:
                self.send(data)

        def send(self, data: bytes) -> None:
            assert self.upstream is not None
            self.upstream.write(data)

        def data_received(self, data: bytes) -> None:
            data = data.replace(old, new, 1)
            if self.upstream is None:
                self.early.append(data)
            else:
                self.send(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.upstream is not None:
                self.upstream.close()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(Client, "127.0.0.1", port, backlog=2048)
        await asyncio.Event().wait()

    uvloop.run(serve())


NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream replica {{
        server unix:{uds};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        location = {path} {{
            proxy_pass http://replica{replica_path};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


# -- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    proxy: psutil.Process | None  # whose CPU is the proxy's (None: direct)


@dataclass(frozen=True)
class Sample:
    rps: float
    p50_us: float
    p99_us: float
    proxy_us: float | None  # proxy CPU per request
    replica_us: float


def cpu_steal() -> tuple[int, int] | None:
    """(steal ticks, all ticks) from /proc/stat: how much a VM's host took away."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields[:8]]
    return ticks[7], sum(ticks)


def cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for proc in (process, *process.children(recursive=True)):
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def cpu_of(processes: list[psutil.Process]) -> float:
    return sum(cpu_seconds(process) for process in processes)


_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def _micros(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def percentile(wrk_output: str, which: str) -> float:
    """One line of wrk's "Latency Distribution", in microseconds."""
    match = re.search(rf"^\s+{which}%\s+(\S+)\s*$", wrk_output, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {which}% latency in wrk's output:\n{wrk_output}")
    return _micros(match.group(1))


def wrk(
    url: str, concurrency: int, duration: int, script: Path, headers: Sequence[str] = ()
) -> tuple[int, float, str]:
    """Run wrk (`headers`: "Name: value" lines to add); returns (requests, requests/s,
    raw output)."""
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    command += ["--timeout", "5s", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    requests = int(_found(r"(\d+) requests in", output))
    rps = float(_found(r"Requests/sec:\s*([\d.]+)", output))
    return requests, rps, output


def _found(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise ValueError(f"no {pattern!r} in wrk's output:\n{output}")
    return match.group(1)


def measure(
    target: Target,
    replicas: list[psutil.Process],
    concurrency: int,
    duration: int,
    script: Path,
) -> Sample:
    proxy_before = cpu_seconds(target.proxy) if target.proxy else 0.0
    replica_before = cpu_of(replicas)
    requests, rps, output = wrk(target.url, concurrency, duration, script)
    proxy_after = cpu_seconds(target.proxy) if target.proxy else 0.0
    replica_after = cpu_of(replicas)
    p50, p99 = (percentile(output, p) for p in ("50", "99"))
    proxy_us = (proxy_after - proxy_before) / requests * 1e6 if target.proxy else None
    replica_us = (replica_after - replica_before) / requests * 1e6
    return Sample(rps, p50, p99, proxy_us, replica_us)


def wait_http(port: int | None, uds: str | None, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if uds is not None:
                conn: http.client.HTTPConnection = _UnixHTTPConnection(uds)
            else:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("POST", path, body=BODY, headers={"Content-Type": "application/json"})
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered on {uds or port} within {timeout} s")
        time.sleep(0.1)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=2)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


@contextmanager
def started(command: list[str], quiet: bool = False) -> Iterator[psutil.Process]:
    """Run a process in its own session; TERM (then KILL) the whole group on the way out."""
    out = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=out, stderr=out)
    try:
        yield psutil.Process(process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def runtime_works() -> bool:
    probe = [sys.executable, "-m", "brace.runtime", "--help"]
    try:
        result = subprocess.run(probe, cwd=ROOT, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and (ROOT / "examples" / "hello").is_dir()


def median_sample(samples: list[Sample]) -> Sample:
    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    return Sample(
        rps=statistics.median(s.rps for s in samples),
        p50_us=statistics.median(s.p50_us for s in samples),
        p99_us=statistics.median(s.p99_us for s in samples),
        proxy_us=med([s.proxy_us for s in samples]),
        replica_us=statistics.median(s.replica_us for s in samples),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--replica",
        choices=["auto", "runtime", "starlette"],
        default="auto",
        help="brace.runtime on examples/hello, or a bare Starlette app (auto: the runtime "
        "when it works)",
    )
    parser.add_argument(
        "--pipe",
        action="store_true",
        help="also measure a bare Python byte pipe on uvloop (the floor of a Python proxy)",
    )
    parser.add_argument("--role", choices=["replica", "gateway", "pipe"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--uds", help=argparse.SUPPRESS)
    parser.add_argument("--no-count", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "replica":
        run_starlette_replica(args.port, args.uds)
        return
    if args.role == "pipe":
        run_pipe(args.port, args.uds)
        return
    if args.role == "gateway":
        run_gateway(
            args.port, args.uds, count_requests=not args.no_count, concurrency=args.concurrency
        )
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk nginx")

    with tempfile.TemporaryDirectory(prefix="brace-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        script = work / "post.lua"
        script.write_text(
            f"wrk.method = 'POST'\nwrk.body = '{BODY}'\n"
            "wrk.headers['Content-Type'] = 'application/json'\n"
        )
        uds = str(work / "replica.sock")
        direct_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
        nocount_port = free_port()
        me = [sys.executable, str(Path(__file__).resolve())]

        if args.replica == "runtime" or (args.replica == "auto" and runtime_works()):
            hello = str(ROOT / "examples" / "hello")
            runtime = [
                sys.executable,
                "-m",
                "brace.runtime",
                "--truss",
                hello,
                "--log-level",
                "warning",
            ]
            replicas = [
                stack.enter_context(started([*runtime, "--port", str(direct_port)])),
                stack.enter_context(started([*runtime, "--uds", uds])),
            ]
            from brace.runtime.layout import read_truss

            concurrency = read_truss(Path(hello)).config.runtime.predict_concurrency
            replica_note = (
                "brace.runtime on examples/hello, two processes: "
                "TCP for direct, Unix socket behind the gateway and nginx; the gateway "
                f"holds it to its predict_concurrency {concurrency}"
            )
        else:
            role = ["--role", "replica", "--port", str(direct_port), "--uds", uds]
            replicas = [stack.enter_context(started([*me, *role], quiet=True))]
            concurrency = 0
            why = "chosen" if args.replica == "starlette" else "brace.runtime not available"
            replica_note = (
                f"Starlette JSON app on uvicorn (uvloop, httptools), {why}; one process: "
                "TCP for direct, Unix socket for gateway and nginx"
            )
        wait_http(direct_port, None, REPLICA_PATH, timeout=60)
        wait_http(None, uds, REPLICA_PATH, timeout=60)

        role = ["--role", "gateway", "--port", str(gateway_port), "--uds", uds]
        role += ["--concurrency", str(concurrency)]
        gateway = stack.enter_context(started([*me, *role]))
        wait_http(gateway_port, None, GATEWAY_PATH)
        role = ["--role", "gateway", "--port", str(nocount_port), "--uds", uds, "--no-count"]
        role += ["--concurrency", str(concurrency)]
        nocount = stack.enter_context(started([*me, *role]))
        wait_http(nocount_port, None, GATEWAY_PATH)
        targets = [
            Target("direct", f"http://127.0.0.1:{direct_port}{REPLICA_PATH}", None),
            Target("gateway", f"http://127.0.0.1:{gateway_port}{GATEWAY_PATH}", gateway),
            Target("nocount", f"http://127.0.0.1:{nocount_port}{GATEWAY_PATH}", nocount),
        ]
        if args.pipe:
            pipe_port = free_port()
            role = ["--role", "pipe", "--port", str(pipe_port), "--uds", uds]
            pipe = stack.enter_context(started([*me, *role]))
            wait_http(pipe_port, None, GATEWAY_PATH)
            targets.append(Target("pipe", f"http://127.0.0.1:{pipe_port}{GATEWAY_PATH}", pipe))
        nginx_binary = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
        )
        if nginx_binary is not None:
            conf = work / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(
                    # As root, nginx's worker would run as nobody and not reach the socket.
                    user="user root;\n" if os.geteuid() == 0 else "",
                    dir=work,
                    uds=uds,
                    port=nginx_port,
                    path=GATEWAY_PATH,
                    replica_path=REPLICA_PATH,
                )
            )
            nginx = stack.enter_context(
                started([nginx_binary, "-c", str(conf), "-p", str(work)], quiet=True)
            )
            wait_http(nginx_port, None, GATEWAY_PATH)
            targets.append(Target("nginx", f"http://127.0.0.1:{nginx_port}{GATEWAY_PATH}", nginx))

        print(f"replica: {replica_note}")
        print(
            f"load: wrk -t1, {args.duration} s per run, {args.rounds} rounds, targets rotated "
            f"within each round; {psutil.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at start"
        )
        for target in targets:  # warm up: connections, caches, lazy imports
            wrk(target.url, 16, 1, script)
        steal_before = cpu_steal()
        rounds: list[dict[tuple[str, int], Sample]] = []
        for number in range(args.rounds):
            results: dict[tuple[str, int], Sample] = {}
            shift = number % len(targets)
            for concurrency in CONCURRENCIES:
                for target in targets[shift:] + targets[:shift]:
                    sample = measure(target, replicas, concurrency, args.duration, script)
                    results[(target.name, concurrency)] = sample
            rounds.append(results)
        steal = cpu_steal()
        steal_note = ""
        if steal is not None and steal_before is not None:
            ticks = steal[1] - steal_before[1]
            share = (steal[0] - steal_before[0]) / ticks * 100 if ticks else 0.0
            steal_note = f"; CPU time stolen by the hypervisor during the rounds: {share:.1f}%"
        print(f"load average {os.getloadavg()[0]:.1f} at the end{steal_note}")
        report(rounds, [t.name for t in targets])


def report(rounds: list[dict[tuple[str, int], Sample]], names: list[str]) -> None:
    """Medians over rounds; each ratio is taken within a round (paired), then the median."""
    keys = list(rounds[0])
    results = {key: median_sample([r[key] for r in rounds]) for key in keys}
    print()
    print(
        f"{'target':<8} {'conc':>4} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} "
        f"{'proxy CPU us/req':>17} {'replica CPU us/req':>19}"
    )
    for concurrency in CONCURRENCIES:
        for name in names:
            r = results[(name, concurrency)]
            proxy = f"{r.proxy_us:.1f}" if r.proxy_us is not None else "-"
            print(
                f"{name:<8} {concurrency:>4} {r.rps:>9.0f} {r.p50_us:>8.0f} {r.p99_us:>8.0f} "
                f"{proxy:>17} {r.replica_us:>19.1f}"
            )

    def paired(value: Callable[[dict[tuple[str, int], Sample]], float]) -> str:
        values = [value(r) for r in rounds]
        every = ", ".join(f"{v:.2f}" for v in values)
        return f"{statistics.median(values):.2f}  (rounds: {every})"

    def cpu(r: dict[tuple[str, int], Sample], name: str, concurrency: int) -> float:
        value = r[(name, concurrency)].proxy_us
        assert value is not None
        return value

    def throughput(name: str, c: int) -> str:
        return paired(lambda r: r[(name, c)].rps / r[("direct", c)].rps)

    def added_p50(name: str) -> str:
        return paired(lambda r: r[(name, 1)].p50_us - r[("direct", 1)].p50_us)

    def cpu_per_request(name: str, c: int) -> str:
        return paired(lambda r: cpu(r, name, c))

    def cpu_ratio(c: int) -> str:
        return paired(lambda r: cpu(r, "gateway", c) / cpu(r, "nginx", c))

    print()
    print("medians of per-round values (each ratio taken within one round):")
    print(f"gateway/direct throughput, concurrency 16: {throughput('gateway', 16)}  target >= 0.8")
    print(f"gateway/direct throughput, concurrency  1: {throughput('gateway', 1)}")
    print(f"gateway added p50 at concurrency 1, us:    {added_p50('gateway')}  target <= 100")
    for c in CONCURRENCIES:
        print(f"gateway CPU us/request, concurrency {c:>2}:    {cpu_per_request('gateway', c)}")
    for c in CONCURRENCIES:
        print(f"nocount CPU us/request, concurrency {c:>2}:    {cpu_per_request('nocount', c)}")
    for c in CONCURRENCIES:
        ratio = paired(lambda r, c=c: r[("gateway", c)].rps / r[("nocount", c)].rps)
        target = "  target >= 0.95" if c == 16 else ""
        print(f"gateway/nocount throughput, concurrency {c:>2}: {ratio}{target}")
    for c in CONCURRENCIES:
        extra = paired(lambda r, c=c: cpu(r, "gateway", c) - cpu(r, "nocount", c))
        print(f"counting's CPU us/request, concurrency {c:>2}: {extra}")
    if "pipe" in names:
        for c in CONCURRENCIES:
            print(f"pipe CPU us/request, concurrency {c:>2}:       {cpu_per_request('pipe', c)}")
        for c in CONCURRENCIES:
            own = paired(lambda r, c=c: cpu(r, "gateway", c) - cpu(r, "pipe", c))
            print(f"gateway minus pipe CPU us/req, conc. {c:>2}:  {own}")
    if "nginx" not in names:
        print("nginx not installed: no reference (apt-get install -y nginx)")
        return
    print(f"nginx/direct throughput, concurrency 16:   {throughput('nginx', 16)}")
    print(f"nginx/direct throughput, concurrency  1:   {throughput('nginx', 1)}")
    print(f"nginx added p50 at concurrency 1, us:      {added_p50('nginx')}")
    for c in CONCURRENCIES:
        print(f"nginx CPU us/request, concurrency {c:>2}:      {cpu_per_request('nginx', c)}")
    for c in CONCURRENCIES:
        print(f"gateway CPU / nginx CPU, concurrency {c:>2}:   {cpu_ratio(c)}  target <= 1.5")
    if "pipe" in names:
        for c in CONCURRENCIES:
            ratio = paired(lambda r, c=c: cpu(r, "pipe", c) / cpu(r, "nginx", c))
            print(f"pipe CPU / nginx CPU, concurrency {c:>2}:      {ratio}")


if __name__ == "__main__":
    main()
