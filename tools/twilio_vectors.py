"""Signature test vectors from Twilio's own SDK (the `twilio` package on PyPI).

    python -m venv /tmp/tw && /tmp/tw/bin/pip install twilio==9.13.0
    /tmp/tw/bin/python tools/twilio_vectors.py > shared/src/sms/twilio_vectors.json

Each case is a request as Twilio would send it (URL, form parameters or JSON body, the
X-Twilio-Signature the SDK computes) and a list of checks: a request, possibly tampered with,
and whether the SDK's RequestValidator accepts it. leadscore's verifier must agree with every
check (shared/src/sms/twilio.rs).
"""

import json
import sys
from urllib.parse import parse_qsl

import twilio
from twilio.request_validator import RequestValidator

TOKEN = "12345678901234567890123456789012"
OTHER_TOKEN = "0" * 32
# A real inbound-SMS webhook body (tests/fixtures/twilio/README.md says where it is from).
CAPTURED = open("tests/fixtures/twilio/inbound_sms_webhook.form-urlencoded.txt").read().strip()


def sign(url, params, token=TOKEN, algorithm=None):
    return RequestValidator(token).compute_signature(url, params, algorithm)


def valid(url, params, signature, token=TOKEN, algorithm=None):
    return RequestValidator(token).validate(url, params, signature, algorithm)


def form_case(name, url, pairs, algorithm=None):
    params = {}
    for k, v in pairs:
        params.setdefault(k, v)  # the SDK's dict form: one value per name
    signature = sign(url, params, algorithm=algorithm)
    checks = []

    def check(what, url2, params2, token=TOKEN, sig=signature):
        checks.append({
            "what": what,
            "url": url2,
            "params": sorted(params2.items()),
            "token": token,
            "signature": sig,
            "valid": valid(url2, params2, sig, token, algorithm),
        })

    check("as sent", url, params)
    check("another auth token", url, params, token=OTHER_TOKEN)
    check("tampered URL", url.replace("/sms", "/sms2").replace("/status", "/status2"), params)
    first = sorted(params)[0]
    check("tampered parameter", url, {**params, first: params[first] + "x"})
    check("added parameter", url, {**params, "Extra": "1"})
    check("removed parameter", url, {k: v for k, v in params.items() if k != first})
    check("empty signature", url, params, sig="")
    if ":443" not in url and url.startswith("https://"):
        host_end = url.index("/", len("https://"))
        check("URL with the default port", url[:host_end] + ":443" + url[host_end:], params)
    return {
        "name": name,
        "kind": "form",
        "algorithm": algorithm or "HMAC_SHA1",
        "url": url,
        "params": sorted(params.items()),
        "signature": signature,
        "checks": checks,
    }


def json_case(name, url_base, body):
    import hashlib
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    url = f"{url_base}?bodySHA256={digest}"
    signature = sign(url, {})
    checks = []
    for what, url2, body2 in [
        ("as sent", url, body),
        ("tampered body", url, body.replace("1", "2")),
        ("tampered URL", url.replace("/status", "/other"), body),
    ]:
        checks.append({
            "what": what, "url": url2, "body": body2, "token": TOKEN,
            "signature": signature, "valid": valid(url2, body2, signature),
        })
    return {"name": name, "kind": "json", "url": url, "body": body,
            "signature": signature, "checks": checks}


cases = [
    form_case("captured inbound SMS", "https://api.example.com/twilio/acme/sms",
              parse_qsl(CAPTURED, keep_blank_values=True)),
    form_case("inbound SMS on a local port", "http://127.0.0.1:8080/twilio/acme/sms", [
        ("MessageSid", "SM00000000000000000000000000000001"), ("From", "+15125550147"),
        ("To", "+15125550100"), ("Body", "Call me tomorrow at 3pm 🙂"), ("NumMedia", "0"),
        ("AccountSid", "AC00000000000000000000000000000000")]),
    form_case("non-Latin 1,600-character body", "https://api.example.com/twilio/acme/sms?tag=a&b=2", [
        ("MessageSid", "SM00000000000000000000000000000002"), ("From", "+442071838750"),
        ("Body", ("Здравствуйте, 你好! " * 100)[:1600]), ("NumMedia", "0")]),
    form_case("MMS with media only", "https://api.example.com/twilio/acme/sms", [
        ("MessageSid", "MM00000000000000000000000000000003"), ("From", "+15125550147"),
        ("Body", ""), ("NumMedia", "1"), ("MediaContentType0", "image/jpeg"),
        ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0")]),
    form_case("status callback", "https://api.example.com/twilio/acme/status", [
        ("MessageSid", "SM00000000000000000000000000000004"), ("MessageStatus", "delivered"),
        ("SmsStatus", "delivered"), ("To", "+15125550147"), ("From", "+15125550100"),
        ("AccountSid", "AC00000000000000000000000000000000"), ("ApiVersion", "2010-04-01")]),
    form_case("HMAC-SHA256 shared key", "https://api.example.com/twilio/acme/sms", [
        ("MessageSid", "SM00000000000000000000000000000005"), ("From", "+15125550147"),
        ("Body", "STOP")], algorithm="HMAC_SHA256"),
    json_case("JSON body", "https://api.example.com/twilio/acme/status",
              json.dumps({"MessageSid": "SM00000000000000000000000000000006",
                          "MessageStatus": "sent", "To": "+15125550147"})),
]

json.dump({"generator": f"twilio {twilio.__version__} RequestValidator (tools/twilio_vectors.py)",
           "cases": cases}, sys.stdout, indent=1, ensure_ascii=False)
print()
