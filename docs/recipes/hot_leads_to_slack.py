"""Hot leads to Slack: a leadscore webhook receiver that posts to a Slack incoming webhook
when a lead turns hot.

    pip install standardwebhooks
    LEADSCORE_WEBHOOK_SECRET=whsec_...                          # from POST /webhooks
    SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/X  # Slack: Incoming Webhooks
    LEADSCORE_API_URL=https://api.example.com                   # where the lead links point
    python hot_leads_to_slack.py 8081

Subscribe the address it listens on to `lead.tier_changed` (POST /webhooks). Every request is
verified with the Standard Webhooks library before it is read; one that does not verify gets
401. A lead that turned hot becomes one Slack message; when Slack does not take it, the answer
is 502 and leadscore tries again later. With port 0 it picks a free port and prints it first.
"""

import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

VERIFIER = Webhook(os.environ["LEADSCORE_WEBHOOK_SECRET"])
SLACK = os.environ["SLACK_WEBHOOK_URL"]
API = os.environ.get("LEADSCORE_API_URL", "").rstrip("/")


def message(data):
    reasons = "; ".join(f["description"] for f in data["top_factors"]) or "no factors"
    return (
        f":fire: A lead turned hot: score {data['score']}"
        f" (was {data['previous_score'] if data['previous_score'] is not None else 'new'}).\n"
        f"Why: {reasons}.\n{API}{data['lead_path']}"
    )


class Relay(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status):
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            event = VERIFIER.verify(body, dict(self.headers.items()))
        except WebhookVerificationError:
            return self.answer(401)
        data = event.get("data", {})
        if event.get("type") != "lead.tier_changed" or data.get("tier") != "hot":
            return self.answer(204)
        request = urllib.request.Request(
            SLACK,
            data=json.dumps({"text": message(data)}).encode(),
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except OSError:
            return self.answer(502)
        self.answer(204)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8081), Relay)
print(server.server_address[1], flush=True)
server.serve_forever()
