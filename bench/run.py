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
PYTHON = sys.executable
MEASUREMENTS = ("progress", "admin", "insights", "recompute", "sweep", "import")
RESULT_PREFIX = "BENCH_RESULT "
SIGNED_IN, PROGRESS, PROGRESS_MISS = "/bench/signed-in", "/progress/", "/bench/progress-miss"
SIGNED_IN_LAYOUT = "/bench/signed-in-layout"
# The tick's round trip: the in-place htmx POST to a key and its answer (bench/wrk_tick.lua).
TICK = "htmx POST /progress/keys/<id>/"


# --- targets (issue 6) -------------------------------------------------------------------

# Progress p50 within 1.5x of a signed-in trivial page behind the same middleware (issue 10;
# issue 6 asked 2x /healthz, which no signed-in page reaches: see 2026-11-29-vm-notes.md).
PROGRESS_P50_RATIO = 1.5
PROGRESS_MAX_QUERIES = 8
# Issue 19: a tick's round trip and the first view after a change (a cache miss) within 5x of
# the signed-in trivial page, measured in the same run.
TICK_P50_RATIO = 5
MISS_P50_RATIO = 5
ADMIN_P50_RATIO = 1.5  # admin p50 at the largest size within 1.5x of the smallest
QUERIES_PER_LEARNER = 1 / 100  # at least 100x fewer queries than learners
MEMORY_GROWTH_MB = 100


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
        name = f"{parts.path.lstrip('/') or 'bench'}_{_short(size)}"
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
            pages = {
                "trivial (/healthz)": "/healthz",
                "signed-in trivial (/bench/signed-in)": SIGNED_IN,
                "signed-in, site layout (/bench/signed-in-layout)": SIGNED_IN_LAYOUT,
                "progress (/progress/)": PROGRESS,
                "progress, cache miss (/bench/progress-miss)": PROGRESS_MISS,
                f"tick round trip ({TICK})": TICK,
            }
            ticks = cookies.with_suffix(".ticks")
            for session in cookies.read_text().split():  # every learner's page in the cache
                _status(f"{base}/progress/", {"Cookie": f"{name}={session}; {csrf}"})
            for path in pages.values():  # warm every worker: imports, connections, caches
                self._page(base, path, name, cookies, ticks, max(self.args.connections), csrf, 3)
            before = _pg_sessions(url)
            started = dt.datetime.now(dt.UTC)
            result["pages"] = {}
            for connections in self.args.connections:
                runs: dict[str, list] = {label: [] for label in pages}
                for _ in range(self.args.rounds):
                    for label, path in pages.items():
                        runs[label].append(
                            self._page(base, path, name, cookies, ticks, connections, csrf)
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

    def _page(self, base, path, name, cookies, ticks, connections, csrf, duration=None):
        """One wrk run of a page: a GET with a learner's session, or the tick's POSTs."""
        if path == TICK:
            return self._wrk(
                f"{base}/progress/",
                name,
                ticks,
                connections,
                csrf,
                duration=duration,
                script="wrk_tick.lua",
            )
        return self._wrk(base + path, name, cookies, connections, csrf, duration=duration)

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


def _short(size: int) -> str:
    for unit, factor in (("m", 1_000_000), ("k", 1_000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


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


# --- report -----------------------------------------------------------------------------


def render(results: dict) -> str:
    sizes = results["sizes"]
    lines = [f"# Benchmarks ({results['started']})", ""]
    m = results["machine"]
    lines += [
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in m.items()),
        "",
    ]
    lines += _render_load(sizes)
    lines += _render_build(sizes)
    sections = {
        "progress": _render_progress,
        "admin": _render_admin,
        "insights": _render_insights,
        "recompute": _render_recompute,
        "sweep": _render_sweep,
        "import": _render_import,
    }
    for name, section in sections.items():
        if any(name in data for data in sizes.values()):
            lines += section(sizes)
    return "\n".join(lines)


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return out + [""]


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**ok**" if ok else "**SHORT**")


def _error_rows(sizes: dict, name: str) -> list[str]:
    return [
        f"- {size:,}: {data[name]['error']}"
        for size, data in sizes.items()
        if isinstance(data.get(name), dict) and "error" in data[name]
    ]


def _measured(sizes: dict, name: str) -> dict:
    return {
        size: data[name]
        for size, data in sizes.items()
        if isinstance(data.get(name), dict) and "error" not in data[name]
    }


def _render_load(sizes: dict) -> list[str]:
    """The machine's 1-minute load average before and after each measurement: a busy
    machine (other processes) makes absolute figures, and some ratios, noisier."""
    rows = [
        [f"{size:,}", *(f"{a} -> {b}" for a, b in data.get("load", {}).values())]
        for size, data in sizes.items()
    ]
    names = next((list(data.get("load", {})) for data in sizes.values()), [])
    if not names:
        return []
    codes = sorted(
        {
            f"{name}: {code}"
            for data in sizes.values()
            for name, code in data.get("code", {}).items()
        }
    )
    return [
        f"Load average (1 min) before -> after each measurement, on {os.cpu_count()} cores:",
        "",
        *_table(["learners", *names], rows),
        *(["Code measured:", "", *(f"- {code}" for code in codes), ""] if codes else []),
    ]


def _render_build(sizes: dict) -> list[str]:
    rows = []
    for size, data in sizes.items():
        build = data.get("build", {})
        if build.get("reused"):
            rows.append([f"{size:,}", "reused", "", "", "", "", ""])
            continue
        rows.append(
            [
                f"{size:,}",
                f"{build.get('total_seconds', 0):.1f}",
                f"{build.get('seconds', 0):.1f}",
                f"{build.get('module_progress', 0):,}",
                f"{build.get('key_completions', 0):,}",
                f"{build.get('nudges', 0):,}",
                build.get("database_size", ""),
            ]
        )
    return [
        "## Synthetic data",
        "",
        *_table(
            [
                "learners",
                "build s (migrate + COPY)",
                "seed s",
                "module rows",
                "key rows",
                "ledger rows",
                "db size",
            ],
            rows,
        ),
    ]


def _render_progress(sizes: dict) -> list[str]:
    lines = ["## 1. Progress page under gunicorn + wrk", ""]
    measured = _measured(sizes, "progress")
    rows = []
    for size, data in measured.items():
        for connections, pages in data["pages"].items():
            by_path = {_path_of(label): page for label, page in pages.items()}
            for label, page in pages.items():
                rows.append(
                    [
                        f"{size:,}",
                        connections,
                        label,
                        f"{page['rps']:.0f}",
                        f"{page['p50_us'] / 1000:.1f}",
                        f"{page['p95_us'] / 1000:.1f}",
                        f"{page['requests']:,}",
                        page["non200"] + page["socket_errors"],
                    ]
                )
            rows += _progress_ratios(size, connections, by_path)
        lines.append(f"- {size:,}: {_progress_queries(data)}")
        lines.append(f"- {size:,}: {_progress_connections(data)}")
    if measured:
        first = next(iter(measured.values()))["wrk"]
        lines.insert(
            2,
            f"gunicorn {first['workers']} sync workers; wrk with "
            f"{' and '.join(map(str, first['connections']))} connections, "
            f"{first['duration']}s per run, median of {first['rounds']} runs per page, "
            f"each request with the session of one of 200 random learners. Every learner's "
            f"page is loaded once before the runs, so /progress/ is measured from the cache; "
            f"/bench/progress-miss drops the learner's cached body first (every request "
            f"renders it, as the first view after a change does). The tick's round trip: "
            f"bench/wrk_tick.lua POSTs as htmx does (CSRF header), ticking then unticking "
            f"one key of each learner whose tick moves no level, answered with the fresh body "
            f"(the write, the recompute and a render of the page).\n",
        )
    lines.append("")
    lines += _table(
        ["learners", "clients", "page", "req/s", "p50 ms", "p95 ms", "requests", "errors/non-200"],
        rows,
    )
    return lines + _error_rows(sizes, "progress") + [""]


def _path_of(label: str) -> str:
    return label[label.rindex("(") + 1 : label.rindex(")")]


def _progress_ratios(size: int, connections, by_path: dict) -> list[list]:
    """p50 ratios of the progress page: against the signed-in trivial page (the target),
    and, for reference, against /healthz and for a cache miss."""
    rows = []
    progress, signed_in = by_path[PROGRESS], by_path.get(SIGNED_IN)

    def row(label: str, page: dict, base: dict, target: float | None = None) -> list:
        ratio = page["p50_us"] / max(base["p50_us"], 1)
        shown = (
            f"**{ratio:.2f}x** {_verdict(ratio <= target)} (target {target:g}x)"
            if target
            else (f"{ratio:.2f}x")
        )
        return [f"{size:,}", connections, label, "", shown, "", "", ""]

    if signed_in:
        rows.append(
            row("**progress / signed-in trivial p50**", progress, signed_in, PROGRESS_P50_RATIO)
        )
    if signed_in and PROGRESS_MISS in by_path:
        rows.append(
            row(
                "**cache miss / signed-in trivial p50**",
                by_path[PROGRESS_MISS],
                signed_in,
                MISS_P50_RATIO,
            )
        )
    if signed_in and TICK in by_path:
        rows.append(
            row(
                "**tick round trip / signed-in trivial p50**",
                by_path[TICK],
                signed_in,
                TICK_P50_RATIO,
            )
        )
    rows.append(row("progress / trivial (/healthz) p50", progress, by_path["/healthz"]))
    if SIGNED_IN_LAYOUT in by_path:
        layout = by_path[SIGNED_IN_LAYOUT]
        rows.append(row("progress / signed-in in the site layout p50", progress, layout))
    return rows


def _progress_queries(data: dict) -> str:
    """Queries of one request, in-process: for sample learners a cache miss and a hit each.
    The count must not depend on the learner's progress (all misses equal, all hits equal)."""
    entries = data["queries"]
    listed = ", ".join(f"{label}: {entry['queries']}" for label, entry in entries.items())
    groups: dict[str, set[int]] = {}
    for label, entry in entries.items():
        if not label.startswith(("/", "tick")):
            kind = label[label.rindex("(") :] if label.endswith(")") else ""
            groups.setdefault(kind, set()).add(entry["queries"])
    ok = (
        all(len(counts) == 1 for counts in groups.values())
        and max((count for counts in groups.values() for count in counts), default=0)
        <= PROGRESS_MAX_QUERIES
    )
    return f"queries per request ({listed}) {_verdict(ok)}"


def _progress_connections(data: dict) -> str:
    requests = sum(p["requests"] for pages in data["pages"].values() for p in pages.values())
    opened = data["pg_sessions_opened"]
    # CONN_MAX_AGE closes a connection after that many seconds: each worker may open
    # one more per period; never one per request.
    max_age = data.get("conn_max_age") or 0
    periods = 1 + int(data.get("load_seconds", 0) // max_age) if max_age else None
    reused = periods is not None and opened <= data["wrk"]["workers"] * (periods + 1)
    return (
        f"PostgreSQL connections opened during the measured load: {opened} for "
        f"{requests:,} requests ({data['wrk']['workers']} gunicorn workers; "
        f"live after: {data['pg_connections_live']['live']}; CONN_MAX_AGE {max_age}s, "
        f"{data.get('load_seconds', 0):.0f}s of load) {_verdict(reused)}"
    )


def _render_admin(sizes: dict) -> list[str]:
    lines = ["## 2. Admin learner list (in-process test client, superuser)", ""]
    measured = _measured(sizes, "admin")
    if not measured:
        return lines + _error_rows(sizes, "admin") + [""]
    labels = list(next(iter(measured.values())))
    ordered = sorted(measured)
    header = ["page"]
    for size in ordered:
        header += [
            f"p50 ms @{_short(size)}",
            f"SQL ms @{_short(size)}",
            f"queries @{_short(size)}",
        ]
    header += [f"p50 ratio {_short(ordered[-1])}/{_short(ordered[0])}", "target"]
    rows = []
    for label in labels:
        row = [label]
        for size in ordered:
            page = measured[size][label]
            row += [f"{page['p50_ms']:.1f}", f"{page.get('sql_ms', 0):.1f}", page["queries"]]
        small, large = measured[ordered[0]][label], measured[ordered[-1]][label]
        ratio = large["p50_ms"] / small["p50_ms"] if len(ordered) > 1 else None
        same = large["queries"] == small["queries"]
        row += [
            f"{ratio:.2f}x" if ratio else "",
            _verdict(None if ratio is None else ratio <= ADMIN_P50_RATIO and same),
        ]
        rows.append(row)
    notes = [
        "p50 of the whole request in-process (Django admin rendering dominates); SQL ms: the "
        "database time of one request, the part that depends on the number of learners.",
        "",
    ]
    return lines + _table(header, rows) + notes + _error_rows(sizes, "admin") + [""]


INSIGHTS_P50_MS = 500  # the insights page of a track at the largest size


def _render_insights(sizes: dict) -> list[str]:
    lines = ["## 2b. Insights page and the stuck-point filter (in-process, superuser)", ""]
    measured = _measured(sizes, "insights")
    if not measured:
        return lines + _error_rows(sizes, "insights") + [""]
    ordered = sorted(measured)
    header = ["page"]
    for size in ordered:
        header += [f"p50 ms @{_short(size)}", f"SQL ms @{_short(size)}", f"queries @{_short(size)}"]
    header += ["target"]
    rows = []
    largest = measured[ordered[-1]]["pages"]
    for label in measured[ordered[0]]["pages"]:
        row = [label]
        for size in ordered:
            page = measured[size]["pages"][label]
            row += [f"{page['p50_ms']:.1f}", f"{page['sql_ms']:.1f}", page["queries"]]
        if label.startswith("insights") and not label.endswith("recomputed"):
            target = _verdict(largest[label]["p50_ms"] < INSIGHTS_P50_MS)
        elif label == "list, stuck point":
            target = _verdict(largest[label]["p50_ms"] <= 1.5 * largest["list, inactive"]["p50_ms"])
        else:
            target = ""
        rows.append(row + [target])
    notes = [
        f"Targets: the insights page p50 under {INSIGHTS_P50_MS} ms at the largest size, its "
        "figures computed by the hourly task into the shared cache and shown with their "
        "'as of' time (\"recomputed\": the same page with `fresh=1`, what one refresh of one "
        "view costs, a fixed number of queries at every size); the list filtered to a stuck point "
        f"(`{measured[ordered[-1]]['stuck_point']}`) within 1.5x of the list filtered by "
        "inactivity.",
        "",
    ]
    return lines + _table(header, rows) + notes + _error_rows(sizes, "insights") + [""]


def _render_recompute(sizes: dict) -> list[str]:
    lines = ["## 3. recompute_levels (management command, own process)", ""]
    measured = _measured(sizes, "recompute")
    rows = []
    for size, data in sorted(measured.items()):
        first, second = data["runs"]
        for label, run in (("first", first), ("again", second)):
            written = run["rows_written"].get("UPDATE learners_learner", 0)
            rows.append(
                [
                    f"{size:,}",
                    label,
                    f"{run['seconds']:.2f}",
                    run["queries"],
                    f"{data['learners'] / max(run['queries'], 1):.0f}",
                    written,
                    run["output"].split(":")[-1].split("(")[0].strip(),
                ]
            )
        rows.append(
            [
                f"{size:,}",
                "peak RSS",
                _memory(data),
                "",
                "",
                "",
                "",
            ]
        )
    lines += _table(
        ["learners", "run", "seconds", "queries", "learners/query", "learner rows updated", "says"],
        rows,
    )
    lines += _scaling_verdicts(measured, lambda data: data["runs"][0]["queries"])
    return lines + _error_rows(sizes, "recompute") + [""]


def _scaling_verdicts(measured: dict, queries_of) -> list[str]:
    if not measured:
        return []
    out = []
    for size, data in sorted(measured.items()):
        queries = queries_of(data)
        out.append(
            f"- {size:,}: {queries} queries "
            f"{_verdict(queries <= size * QUERIES_PER_LEARNER)} (target at most {size // 100:,})"
        )
    ordered = sorted(measured)
    if len(ordered) > 1:
        small, large = measured[ordered[0]], measured[ordered[-1]]
        growth = (large["peak_rss_mb"] - large["baseline_rss_mb"]) - (
            small["peak_rss_mb"] - small["baseline_rss_mb"]
        )
        out.append(
            f"- peak memory growth {_short(ordered[0])} -> {_short(ordered[-1])}: "
            f"{growth:+.0f} MB {_verdict(growth <= MEMORY_GROWTH_MB)} "
            f"(target within {MEMORY_GROWTH_MB} MB)"
        )
    return out + [""]


def _render_sweep(sizes: dict) -> list[str]:
    lines = [
        "## 4. Nudge sweep (nudges_sweep on a Redis broker; a Celery worker sends to aiosmtpd)",
        "",
    ]
    measured = _measured(sizes, "sweep")
    rows = []
    for size, data in sorted(measured.items()):
        per_email = data.get("worker_queries_per_email")
        messages_ok = data["celery_messages"] <= data["chunks"] + 2
        rows.append(
            [
                f"{size:,}",
                f"{data['decide_seconds']:.2f}",
                data["chunks"],
                data["queries"],
                f"{data['learners'] / max(data['queries'], 1):.0f}",
                f"{data['celery_messages']} {_verdict(messages_ok)}",
                data["due"],
                f"{data.get('sent', '')} / {data.get('deferred', '')} / {data.get('held_out', '')}",
                data["emails"],
                f"{data['emails_per_second']:.0f}" if data.get("emails_per_second") else "",
                f"{per_email:.2f}" if per_email is not None else "",
                _memory(data),
            ]
        )
    lines += _table(
        [
            "learners",
            "decide s",
            "chunks",
            "sweep queries",
            "learners/query",
            "celery messages",
            "due",
            "sent / deferred / held out",
            "emails received",
            "emails/s",
            "worker queries/email",
            "sweep peak RSS",
        ],
        rows,
    )
    for size, data in sorted(measured.items()):
        lines.append(
            f"- {size:,}: as of {data['at']}; due by kind {data['due_by_kind']}; "
            f"statuses after sending {data['statuses_after']}; "
            f"{data['worker_tasks']} worker tasks ({data['worker_concurrency']} processes), "
            f"{data['worker_queries']} worker queries, all sent in "
            f"{data['send_seconds_total']:.1f}s including worker start."
        )
    lines += _scaling_verdicts(measured, lambda data: data["queries"])
    return lines + _error_rows(sizes, "sweep") + [""]


def _memory(data: dict) -> str:
    return f"{data['peak_rss_mb']:.0f} MB (+{data['peak_rss_mb'] - data['baseline_rss_mb']:.0f})"


def _render_import(sizes: dict) -> list[str]:
    lines = ["## 5. Roster import (import_learners, own process)", ""]
    measured = _measured(sizes, "import")
    rows = [
        [
            f"{size:,}",
            f"{data['rows']:,} ({data['existing_rows']:,} existing)",
            "yes" if data["ok"] else "NO",
            f"{data['seconds']:.2f}",
            f"{data['rows'] / data['seconds']:.0f}",
            data["queries"],
            _memory(data),
        ]
        for size, data in sorted(measured.items())
    ]
    lines += _table(
        ["learners in db", "rows", "imported", "seconds", "rows/s", "queries", "peak RSS"], rows
    )
    for size, data in sorted(measured.items()):
        if not data["ok"]:
            lines.append(f"- {size:,}: {data['errors'][:300]}")
    return lines + _error_rows(sizes, "import") + [""]


if __name__ == "__main__":
    sys.exit(main())
