"""moto's server, handling one request at a time: `python moto_serial.py HOST PORT`.

moto's models take no locks, so its default threaded server can interleave two conditional
writes (both pass their condition, one overwrites the other), which DynamoDB never does. Served
one request at a time, every request is atomic, as on AWS, and tests of optimistic concurrency
test our code rather than the emulator's races.
"""

import os
import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(
    host,
    port,
    DomainDispatcherApplication(create_backend_app),
    threaded=False,
    request_handler=MotoRequestHandler,
)
