"""The bench's Markdown report: tables of the figures ``bench/run.py`` measured, each target's
verdict as ``bench/targets.py`` decides it."""

from __future__ import annotations

from bench import targets
from bench.targets import (
    INSIGHTS_P50_MS,
    MEMORY_GROWTH_MB,
    PROGRESS,
    PROGRESS_MISS,
    QUERIES_PER_LEARNER,
    SIGNED_IN,
    SIGNED_IN_LAYOUT,
    TICK,
    TRIVIAL,
    p50_ratio,
)


def short(size: int) -> str:
    for unit, factor in (("m", 1_000_000), ("k", 1_000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


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
    lines += _render_load(sizes, m.get("cores"))
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


def _render_load(sizes: dict, cores) -> list[str]:
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
        f"Load average (1 min) before -> after each measurement, on {cores} cores:",
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
            rows += _progress_ratios(size, connections, pages)
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


def _progress_ratios(size: int, connections, pages: dict) -> list[list]:
    """p50 ratios of the progress page: against the signed-in trivial page (the target),
    and, for reference, against /healthz and for a cache miss."""

    def row(label: str, page: str, base: str) -> list:
        return [f"{size:,}", connections, label, "", f"{p50_ratio(pages[page], pages[base]):.2f}x"]

    rows = []
    if SIGNED_IN in pages:
        ratio = p50_ratio(pages[PROGRESS], pages[SIGNED_IN])
        shown = f"**{ratio:.2f}x** {_verdict(targets.progress_fast(pages))}"
        rows.append([f"{size:,}", connections, "**progress / signed-in trivial p50**", "", shown])
    rows.append(row("progress / trivial (/healthz) p50", PROGRESS, TRIVIAL))
    if SIGNED_IN_LAYOUT in pages:
        rows.append(row("progress / signed-in in the site layout p50", PROGRESS, SIGNED_IN_LAYOUT))
    for page, label, fast, target in (
        (PROGRESS_MISS, "cache miss", targets.miss_fast, targets.MISS_P50_RATIO),
        (TICK, "tick round trip", targets.tick_fast, targets.TICK_P50_RATIO),
    ):
        if SIGNED_IN in pages and page in pages:
            ratio = p50_ratio(pages[page], pages[SIGNED_IN])
            shown = f"**{ratio:.2f}x** {_verdict(fast(pages))} (target {target:g}x)"
            rows.append(
                [f"{size:,}", connections, f"**{label} / signed-in trivial p50**", "", shown]
            )
    return [row + ["", "", ""] for row in rows]


def _progress_queries(data: dict) -> str:
    """Queries of one request, in-process: for sample learners a cache miss and a hit each.
    The count must not depend on the learner's progress (all misses equal, all hits equal)."""
    queries = {label: entry["queries"] for label, entry in data["queries"].items()}
    listed = ", ".join(f"{label}: {count}" for label, count in queries.items())
    return f"queries per request ({listed}) {_verdict(targets.progress_queries_fixed(queries))}"


def _progress_connections(data: dict) -> str:
    requests = sum(p["requests"] for pages in data["pages"].values() for p in pages.values())
    opened = data["pg_sessions_opened"]
    max_age = data.get("conn_max_age") or 0
    reused = targets.connections_reused(
        opened=opened,
        workers=data["wrk"]["workers"],
        load_seconds=data.get("load_seconds", 0),
        max_age=max_age,
    )
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
            f"p50 ms @{short(size)}",
            f"SQL ms @{short(size)}",
            f"queries @{short(size)}",
        ]
    header += [f"p50 ratio {short(ordered[-1])}/{short(ordered[0])}", "target"]
    rows = []
    for label in labels:
        row = [label]
        for size in ordered:
            page = measured[size][label]
            row += [f"{page['p50_ms']:.1f}", f"{page.get('sql_ms', 0):.1f}", page["queries"]]
        small, large = measured[ordered[0]][label], measured[ordered[-1]][label]
        several = len(ordered) > 1
        row += [
            f"{large['p50_ms'] / small['p50_ms']:.2f}x" if several else "",
            _verdict(targets.admin_flat(small, large) if several else None),
        ]
        rows.append(row)
    notes = [
        "p50 of the whole request in-process (Django admin rendering dominates); SQL ms: the "
        "database time of one request, the part that depends on the number of learners.",
        "",
    ]
    return lines + _table(header, rows) + notes + _error_rows(sizes, "admin") + [""]


def _render_insights(sizes: dict) -> list[str]:
    lines = ["## 2b. Insights page and the stuck-point filter (in-process, superuser)", ""]
    measured = _measured(sizes, "insights")
    if not measured:
        return lines + _error_rows(sizes, "insights") + [""]
    ordered = sorted(measured)
    header = ["page"]
    for size in ordered:
        header += [f"p50 ms @{short(size)}", f"SQL ms @{short(size)}", f"queries @{short(size)}"]
    header += ["target"]
    rows = []
    largest = measured[ordered[-1]]["pages"]
    for label in measured[ordered[0]]["pages"]:
        row = [label]
        for size in ordered:
            page = measured[size]["pages"][label]
            row += [f"{page['p50_ms']:.1f}", f"{page['sql_ms']:.1f}", page["queries"]]
        verdict = targets.insights_fast(label, largest)
        rows.append(row + [_verdict(verdict) if verdict is not None else ""])
    notes = [
        f"Targets: the insights page p50 under {INSIGHTS_P50_MS} ms at the largest size, its "
        "figures computed by the hourly task into the shared cache and shown with their "
        "'as of' time (\"recomputed\": the same page with `fresh=1`, what one refresh of one "
        "view costs, a fixed number of queries at every size); the list filtered to a stuck point "
        f"(`{measured[ordered[-1]]['stuck_point']}`) within {targets.STUCK_POINT_RATIO}x of the "
        "list filtered by "
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
            f"{_verdict(targets.queries_scale(queries, size))} "
            f"(target at most {int(size * QUERIES_PER_LEARNER):,})"
        )
    ordered = sorted(measured)
    if len(ordered) > 1:
        small, large = measured[ordered[0]], measured[ordered[-1]]
        growth = targets.memory_growth(small, large)
        out.append(
            f"- peak memory growth {short(ordered[0])} -> {short(ordered[-1])}: "
            f"{growth:+.0f} MB {_verdict(targets.memory_flat(small, large))} "
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
        messages_ok = targets.celery_messages_few(
            messages=data["celery_messages"], chunks=data["chunks"]
        )
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
