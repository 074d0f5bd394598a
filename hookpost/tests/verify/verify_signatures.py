"""Checks hookpost's signatures with implementations hookpost did not write.

- Standard Webhooks `v1` (HMAC-SHA256): the `standardwebhooks` package from PyPI.
- Telnyx (`telnyx-signature-ed25519`): the official Telnyx Python SDK's helper.
- Standard Webhooks `v1a` (Ed25519): written here from the public specification
  alone (sign `{id}.{timestamp}.{body}`, key `whpk_<base64>`), with PyNaCl.

Reads one request as JSON on stdin:
  {"body": str, "headers": {name: value}, "secret": "whsec_…",
   "public_key": base64, "standard_public_key": "whpk_…"}
Prints {"standard_v1": "ok" | reason, "standard_v1a": …, "telnyx": …}.
"""

import base64
import json
import sys

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from standardwebhooks.webhooks import Webhook
from telnyx.lib.webhook_verification import verify_webhook_signature


def standard_v1(req):
    Webhook(req["secret"]).verify(req["body"], req["headers"])


def standard_v1a(req):
    headers = {k.lower(): v for k, v in req["headers"].items()}
    key = VerifyKey(base64.b64decode(req["standard_public_key"].removeprefix("whpk_")))
    content = f'{headers["webhook-id"]}.{headers["webhook-timestamp"]}.{req["body"]}'.encode()
    for entry in headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(content, base64.b64decode(signature))
            return
        except BadSignatureError:
            pass
    raise ValueError("no matching v1a signature")


def telnyx(req):
    verify_webhook_signature(req["body"], req["headers"], req["public_key"])


def main():
    req = json.load(sys.stdin)
    result = {}
    for name, check in [("standard_v1", standard_v1), ("standard_v1a", standard_v1a), ("telnyx", telnyx)]:
        try:
            check(req)
            result[name] = "ok"
        except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
            result[name] = f"{type(e).__name__}: {e}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
