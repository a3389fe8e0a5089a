"""Running calls at the same moment on real, separate database connections."""

import threading

from django.db import connections


def run_at_once(*calls):
    """Run each call in its own thread, all released together; return what each returned or raised.

    Each thread gets its own database connection (closed when it ends), so this proves behaviour
    under real concurrency only in a ``django_db(transaction=True)`` test.
    """
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
