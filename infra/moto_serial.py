#!/usr/bin/env python3
"""moto_server, handling one request at a time.

moto_server serves requests on concurrent threads, but its in-memory DynamoDB is not safe for
that: a cancelled TransactWriteItems rolls back by restoring a snapshot of the whole table taken
when the transaction began, discarding every write other requests made in the meantime
(acknowledged writes lost, half-applied transactions resurrected). DynamoDB applies each request
atomically; serving one request at a time restores that guarantee, so concurrency tests measure
the product rather than the emulator. Arguments are moto_server's own.
"""

import moto.server
from werkzeug.serving import run_simple as _run_simple


def _run_one_at_a_time(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


moto.server.run_simple = _run_one_at_a_time

if __name__ == "__main__":
    moto.server.main()
