"""Where a portal page's time goes, through the bench's own client (the big partner's billing
manager): wall and CPU time, every query with its time, then cProfile's heaviest functions.

    DATABASE_URL=... python manage.py shell -c \
        "from devtools.bench.page_profile import main; main('/messages/')"

Run on bench data (`manage.py bench`); figures in docs/scale.md ("Page speed").
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devtools.bench import data
from devtools.bench.operations import Portal, portal_settings


def main(path: str = "/messages/", runs: int = 5, functions: int = 40) -> None:
    world = data.load_world(timezone.now())
    if world is None:
        raise SystemExit("This database holds no bench data.")
    with portal_settings():
        portal = Portal(world)
        portal.get(path)  # warm: imports, templates, the database's cache
        for _ in range(runs):
            started, cpu = time.perf_counter(), time.process_time()
            with CaptureQueriesContext(connection) as captured:
                portal.get(path)
            queries = captured.captured_queries
            print(
                f"{path}: {time.perf_counter() - started:.3f} s wall, "
                f"{time.process_time() - cpu:.3f} s CPU, {len(queries)} queries, "
                f"{sum(float(q['time']) for q in queries):.3f} s in them"
            )
        for query in queries:
            print(f"    {query['time']} s  {query['sql'][:120]}")
        profile = cProfile.Profile()
        profile.runcall(portal.get, path)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(functions)
        print(out.getvalue())
