"""A webhook receiver for the tests: every request is verified with `standardwebhooks` (the
Standard Webhooks reference library, from PyPI), independently of leadscore's own signing.

    python webhook_receiver.py SECRET

Listens on 127.0.0.1 on a free port and prints the port on its first line. Endpoints:

- POST <any path>: a webhook. Verified (signature and timestamp); answered 401 when it does not
  verify, 503 while the receiver is told to fail, 200 otherwise. Each request is recorded.
- POST /_control with {"fail_next": n} (the next n webhooks get 503) or {"down": true|false}.
- GET /_received: every request so far, as a JSON list of {id, verified, error, answered, type,
  payload, received_at}.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

secret = sys.argv[1]
verifier = Webhook(secret)
lock = threading.Lock()
received = []
state = {"fail_next": 0, "down": False}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_received":
            with lock:
                self.answer(200, json.dumps(received).encode())
        else:
            self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/_control":
            with lock:
                state.update(json.loads(body))
            self.answer(204)
            return
        entry = {
            "id": self.headers.get("webhook-id"),
            "received_at": time.time(),
            "verified": False,
            "error": None,
            "type": None,
            "payload": None,
        }
        try:
            payload = verifier.verify(body, dict(self.headers.items()))
            entry.update(verified=True, type=payload.get("type"), payload=payload)
        except WebhookVerificationError as e:
            entry["error"] = str(e)
        with lock:
            if not entry["verified"]:
                status = 401
            elif state["down"]:
                status = 503
            elif state["fail_next"] > 0:
                state["fail_next"] -= 1
                status = 503
            else:
                status = 200
            entry["answered"] = status
            received.append(entry)
        self.answer(status, b'{"down": true}' if status == 503 else b"{}")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
