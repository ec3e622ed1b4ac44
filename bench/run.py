"""Benchmarks at scale (issue 6): build N synthetic learners on PostgreSQL and measure.

    .venv/bin/python bench/run.py --learners 10000 100000 [--only progress,admin,...]

For each size: drop and create the database ``<BENCH_DATABASE_URL's name>_<size>`` (e.g.
``bench_10k``), migrate it, fill it with COPY (``bench/seed.py``), then run each
measurement in its own process (``bench/measure.py``): the progress page under gunicorn
with wrk, the admin learner list, ``recompute_levels``, the nudge sweep and the roster
import. Prints the tables and writes them, with the machine's description, to
``bench/results/<date>-<host>.md`` (raw figures beside it as ``.json``).

Needs PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/bench,
a role that may create databases), Redis (``BENCH_REDIS_URL``, default
redis://127.0.0.1:6379/5; the bench flushes that database) and ``wrk``
(Debian/Ubuntu: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # run as bench/run.py as well as python -m bench.run

from bench.report import render, short  # noqa: E402
from bench.targets import PAGES, TICK  # noqa: E402

PYTHON = sys.executable
MEASUREMENTS = ("progress", "admin", "insights", "recompute", "sweep", "import")
RESULT_PREFIX = "BENCH_RESULT "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--only", default=",".join(MEASUREMENTS), help=f"comma-separated: {','.join(MEASUREMENTS)}"
    )
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[1, 8],
        help="wrk concurrent clients (one set of runs per value)",
    )
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs of each page")
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other figures already in the results file (rerun one measurement)",
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    if "progress" in only and not shutil.which("wrk"):
        parser.error("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")

    bench = Bench(args, only)
    results = {"machine": machine(bench.base_url), "started": _now(), "sizes": {}}
    previous = _results_path(args.output).with_suffix(".json")
    if args.merge and previous.exists():
        kept = json.loads(previous.read_text())
        results["started"] = f"{kept['started']}, {results['started']}"
        results["sizes"] = {int(size): data for size, data in kept["sizes"].items()}
    for size in sorted(args.learners):
        kept = results["sizes"].setdefault(size, {})
        fresh = bench.run_size(size)
        if fresh.get("build", {}).get("reused") and "build" in kept:
            fresh["build"] = kept["build"]
        for key in ("load", "code"):
            fresh[key] = {**kept.get(key, {}), **fresh.get(key, {})}
        kept.update(fresh)
        _write(results, args.output)  # a partial file is better than none after a failure
    report = render(results)
    print(report)
    path = _write(results, args.output)
    print(f"\nWritten to {path} (and {path.with_suffix('.json').name}).")
    return 0


class Bench:
    def __init__(self, args, only: list[str]):
        self.args = args
        self.only = only
        self.base_url = os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"
        )
        self.redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-"))
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
            "REDIS_URL": self.redis_url,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }

    def database_url(self, size: int) -> str:
        parts = urlsplit(self.base_url)
        name = f"{parts.path.lstrip('/') or 'bench'}_{short(size)}"
        return urlunsplit(parts._replace(path=f"/{name}"))

    def run_size(self, size: int) -> dict:
        url = self.database_url(size)
        env = {**self.env, "DATABASE_URL": url}
        out: dict = {"database": urlsplit(url).path.lstrip("/")}
        print(f"\n=== {size:,} learners: {out['database']} ===", flush=True)
        if not (self.args.reuse and _learner_count(url) == size):
            out["build"] = self.build(url, size, env)
        else:
            out["build"] = {"reused": True}
        for name in MEASUREMENTS:
            if name not in self.only:
                continue
            print(f"--- {name}", flush=True)
            started = time.perf_counter()
            load_before = os.getloadavg()
            try:
                out[name] = getattr(self, f"measure_{name}")(size, env, url)
            except Exception as error:  # noqa: BLE001 - one failure must not lose the others
                out[name] = {"error": f"{type(error).__name__}: {error}"[:2000]}
            out.setdefault("code", {})[name] = _code_version()
            out.setdefault("load", {})[name] = [
                round(load_before[0], 2),
                round(os.getloadavg()[0], 2),
            ]
            print(f"    {time.perf_counter() - started:.1f}s", flush=True)
        return out

    # build ------------------------------------------------------------------------------

    def build(self, url: str, size: int, env: dict) -> dict:
        name = urlsplit(url).path.lstrip("/")
        started = time.perf_counter()
        with _admin_connection(url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        migrate_started = time.perf_counter()
        _check_call([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env)
        migrate_seconds = time.perf_counter() - migrate_started
        seed = _measure(["seed", "--learners", str(size)], env)
        with psycopg.connect(url) as conn:
            db_size = conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", [name])
            seed["database_size"] = db_size.fetchone()[0]
        seed["migrate_seconds"] = migrate_seconds
        seed["total_seconds"] = time.perf_counter() - started
        print(
            f"    built in {seed['total_seconds']:.1f}s "
            f"(migrate {migrate_seconds:.1f}s, seed {seed['seconds']:.1f}s), "
            f"{seed['database_size']}",
            flush=True,
        )
        return seed

    # progress page -----------------------------------------------------------------------

    def measure_progress(self, size: int, env: dict, url: str) -> dict:
        cookies = self.tmp / f"cookies-{size}.txt"
        result = _measure(["progress", "--cookies", str(cookies)], env)
        port = _free_port()
        server = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "pyramid_site.wsgi:application",
                "--workers",
                str(self.args.workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--chdir",
                str(ROOT),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for(f"{base}/healthz")
            name = result["cookie_name"]
            # The CSRF cookie a browser keeps after its first page (any 32 letters or digits):
            # without it every page with a form would mint a new CSRF secret and cookie.
            csrf = f"{result['csrf_cookie_name']}={secrets.token_hex(16)}"
            session = cookies.read_text().split()[0]
            result["check"] = _status(f"{base}/progress/", {"Cookie": f"{name}={session}; {csrf}"})
            pages = PAGES
            ticks = cookies.with_suffix(".ticks")
            for session in cookies.read_text().split():  # every learner's page in the cache
                _status(f"{base}/progress/", {"Cookie": f"{name}={session}; {csrf}"})
            for label in pages:  # warm every worker: imports, connections, caches
                self._page(base, label, name, cookies, ticks, max(self.args.connections), csrf, 3)
            before = _pg_sessions(url)
            started = dt.datetime.now(dt.UTC)
            result["pages"] = {}
            for connections in self.args.connections:
                runs: dict[str, list] = {label: [] for label in pages}
                for _ in range(self.args.rounds):
                    for label in pages:
                        runs[label].append(
                            self._page(base, label, name, cookies, ticks, connections, csrf)
                        )
                result["pages"][connections] = {
                    label: _combine(rounds) for label, rounds in runs.items()
                }
            result["load_seconds"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
            result["pg_sessions_opened"] = _pg_sessions(url) - before
            result["pg_connections_live"] = _pg_connections(url, started)
            result["wrk"] = {
                "workers": self.args.workers,
                "connections": self.args.connections,
                "duration": self.args.duration,
                "rounds": self.args.rounds,
            }
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        return result

    def _page(self, base, label, name, cookies, ticks, connections, csrf, duration=None):
        """One wrk run of a page: a GET with a learner's session, or the tick's POSTs."""
        url = base + PAGES[label]
        if label == TICK:
            return self._wrk(
                url, name, ticks, connections, csrf, duration=duration, script="wrk_tick.lua"
            )
        return self._wrk(url, name, cookies, connections, csrf, duration=duration)

    def _wrk(
        self,
        url: str,
        cookie_name: str,
        cookies: Path,
        connections: int,
        extra_cookie: str = "",
        duration: int | None = None,
        script: str = "wrk_session.lua",
    ):
        threads = "2" if connections >= 2 else "1"
        command = [
            "wrk",
            "-t",
            threads,
            "-c",
            str(connections),
            "-d",
            f"{duration or self.args.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / script),
            url,
            "--",
            cookie_name,
            str(cookies),
            *([extra_cookie] if extra_cookie else []),
            *([threads] if script == "wrk_tick.lua" else []),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next(line for line in output.splitlines() if line.startswith("BENCH_WRK "))
        run = json.loads(line.removeprefix("BENCH_WRK "))
        run["rps"] = run["requests"] / (run["duration_us"] / 1e6)
        return run

    # in-process measurements --------------------------------------------------------------

    def measure_admin(self, size: int, env: dict, url: str) -> dict:
        return _measure(["admin"], env)

    def measure_insights(self, size: int, env: dict, url: str) -> dict:
        return _measure(["insights"], env)

    def measure_recompute(self, size: int, env: dict, url: str) -> dict:
        return _measure(["recompute"], env)

    def measure_sweep(self, size: int, env: dict, url: str) -> dict:
        return _measure(["sweep"], env)

    def measure_import(self, size: int, env: dict, url: str) -> dict:
        roster = self.tmp / f"roster-{size}.csv"
        return _measure(
            ["import", "--rows", str(self.args.import_rows), "--roster", str(roster)], env
        )


# --- helpers ----------------------------------------------------------------------------


def _measure(arguments: list[str], env: dict) -> dict:
    """Run ``bench/measure.py`` in a fresh process and return its JSON result."""
    process = subprocess.run(
        [PYTHON, str(BENCH / "measure.py"), *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    for line in process.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line.removeprefix(RESULT_PREFIX))
    raise RuntimeError(
        f"measure.py {' '.join(arguments)} exited {process.returncode}: "
        f"{(process.stderr or process.stdout)[-1500:]}"
    )


def _check_call(command: list[str], env: dict) -> None:
    subprocess.run(command, env=env, cwd=ROOT, check=True)


@contextlib.contextmanager
def _admin_connection(url: str):
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        yield conn


def _learner_count(url: str) -> int | None:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM learners_learner").fetchone()[0]
    except psycopg.Error:
        return None


def _pg_sessions(url: str) -> int:
    """Connections ever opened to the database (PostgreSQL 14+ statistics)."""
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection(url) as conn:
        time.sleep(1.1)  # statistics are flushed about once a second
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [name])
        return row.fetchone()[0]


def _pg_connections(url: str, since: dt.datetime) -> dict:
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection(url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE backend_start >= %s) "
            "FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            [since, name],
        ).fetchone()
    return {"live": rows[0], "opened_during_load": rows[1]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - local URL

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if _status(url) == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def _combine(runs: list[dict]) -> dict:
    """Several wrk runs of one page: medians of each figure, and the runs themselves."""
    keys = ("rps", "p50_us", "p95_us", "p99_us", "mean_us")
    combined = {key: statistics.median(run[key] for run in runs) for key in keys}
    combined["requests"] = sum(run["requests"] for run in runs)
    combined["non200"] = sum(run["non200"] for run in runs)
    combined["socket_errors"] = sum(run["socket_errors"] for run in runs)
    combined["runs"] = runs
    return combined


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _results_path(output: Path | None) -> Path:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return output or BENCH / "results" / f"{today}-{socket.gethostname()}.md"


def _write(results: dict, output: Path | None) -> Path:
    path = _results_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results) + "\n")
    path.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


# --- machine ----------------------------------------------------------------------------


def machine(database_url: str) -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    try:
        with _admin_connection(database_url) as conn:
            postgres = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as error:
        postgres = f"unreachable ({error})"
    return {
        "host": socket.gethostname(),
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "django": _version("django"),
        "gunicorn": _version("gunicorn"),
        "celery": _version("celery"),
        "wrk": _wrk_version(),
        "code": _code_version(),
    }


def _code_version() -> str:
    """The commit measured, and whether the working tree differed from it (outside bench/)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return "unknown"
    changed = [line[3:] for line in changed if line.strip()]
    return f"{commit}" + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    if not shutil.which("wrk"):
        return "not installed"
    output = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    text = (output.stdout or output.stderr).strip().splitlines()
    return text[0] if text else "?"


if __name__ == "__main__":
    sys.exit(main())
