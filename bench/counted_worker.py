"""``python -m bench.counted_worker``: the real background worker (``firstcall run_huey``, with
the settings of its environment) for the benchmarks, counting the SQL statements it runs.

Every database connection the worker opens (in each thread, and in each process with
FIRSTCALL_WORKER_TYPE=process) gets an execute wrapper that adds one to a counter shared by the
worker's processes; the total is written to the file named by BENCH_STATEMENT_COUNT a few times a
second. Statements are what Django executes (queries, INSERTs, UPDATEs); the BEGIN and COMMIT of
transactions are not counted. The wrapper costs about a microsecond per statement.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

COUNT_FILE_VARIABLE = "BENCH_STATEMENT_COUNT"
WRITE_EVERY_SECONDS = 0.2


def main() -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "firstcall.settings")
    django.setup()
    from django.db.backends.signals import connection_created

    from firstcall.cli import main as firstcall

    # Shared memory made before the worker forks its processes, so every one adds to it.
    counter = multiprocessing.Value("q", 0)

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        with counter.get_lock():
            counter.value += 1
        return execute(sql, params, many, context)

    def install(sender: Any, connection: Any, **kwargs: Any) -> None:
        if count not in connection.execute_wrappers:
            connection.execute_wrappers.append(count)

    connection_created.connect(install, weak=False)
    path = Path(os.environ[COUNT_FILE_VARIABLE])

    def write_count() -> None:
        while True:
            path.write_text(str(counter.value))
            time.sleep(WRITE_EVERY_SECONDS)

    threading.Thread(target=write_count, name="statement-count", daemon=True).start()
    return firstcall(["run_huey"])


if __name__ == "__main__":
    sys.exit(main())
