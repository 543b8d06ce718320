"""moto's server, handling one request at a time: `python moto_serial.py HOST`.

It listens on a free port the system picks and prints that port on its first line: a port
picked by the caller and bound later could be taken in between by another test's server,
which the caller would then talk to.

moto's models take no locks, so its default threaded server can interleave two conditional
writes (both pass their condition, one overwrites the other), which DynamoDB never does. Served
one request at a time, every request is atomic, as on AWS, and tests of optimistic concurrency
test our code rather than the emulator's races.
"""

import os
import sys

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

host = sys.argv[1]
server = make_server(
    host,
    0,
    DomainDispatcherApplication(create_backend_app),
    threaded=False,
    request_handler=MotoRequestHandler,
)
port = server.socket.getsockname()[1]
# moto writes its own address into what it answers (queue URLs, key set URLs).
os.environ["MOTO_PORT"] = str(port)
print(port, flush=True)
server.serve_forever()
