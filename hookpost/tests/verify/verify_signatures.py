"""Checks hookpost's signatures with implementations hookpost did not write.

- Standard Webhooks `v1` (HMAC-SHA256): the `standardwebhooks` package from PyPI.
- Telnyx (`telnyx-signature-ed25519`): the official Telnyx Python SDK's helper.
- Standard Webhooks `v1a` (Ed25519): written here from the public specification
  alone (sign `{id}.{timestamp}.{body}`, key `whpk_<base64>`), with PyNaCl.
- Phaxio (`X-Phaxio-Signature`): written here from Phaxio's published algorithm
  alone (hex HMAC-SHA1 with the callback token over the URL, then each form
  field's name and value sorted by name, then each file's name and SHA-1 sorted
  by name), with the form parsed by Python's email package.

Reads one request as JSON on stdin:
  {"body_base64": str, "headers": {name: value}, "url": str, "secret": "whsec_…",
   "public_key": base64, "standard_public_key": "whpk_…", "callback_token": str}
Prints {"standard_v1": "ok" | reason, "standard_v1a": …, "telnyx": …, "phaxio": …}
with a verdict for each scheme whose headers the request carries. The two
libraries take the body as text, so for a body that is not UTF-8 (a form with a
binary file) they answer "not_utf8"; the checks written here take bytes.
"""

import base64
import email
import hashlib
import hmac
import json
import sys
from email import policy

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from standardwebhooks.webhooks import Webhook
from telnyx.lib.webhook_verification import verify_webhook_signature


class NotUtf8(Exception):
    """The library takes text, and this body is binary."""


def text(req):
    try:
        return req["body"].decode()
    except UnicodeDecodeError as e:
        raise NotUtf8 from e


def standard_v1(req):
    Webhook(req["secret"]).verify(text(req), req["headers"], json_parse=False)


def standard_v1a(req):
    headers = {k.lower(): v for k, v in req["headers"].items()}
    key = VerifyKey(base64.b64decode(req["standard_public_key"].removeprefix("whpk_")))
    content = f'{headers["webhook-id"]}.{headers["webhook-timestamp"]}.'.encode() + req["body"]
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
    verify_webhook_signature(text(req), req["headers"], req["public_key"])


def form_parts(content_type, body):
    """(fields, files) of a multipart/form-data body, by Python's MIME parser."""
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=policy.HTTP
    )
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if part.get_filename():
            files[name] = data
        else:
            fields[name] = data.decode()
    return fields, files


def phaxio(req):
    headers = {k.lower(): v for k, v in req["headers"].items()}
    content_type = headers.get("content-type", "")
    body = req["body"]
    signed = req["url"].encode()
    if content_type.startswith("multipart/form-data"):
        fields, files = form_parts(content_type, body)
        for name in sorted(fields):
            signed += name.encode() + fields[name].encode()
        for name in sorted(files):
            signed += name.encode() + hashlib.sha1(files[name]).hexdigest().encode()
    else:
        signed += body
    expected = hmac.new(req["callback_token"].encode(), signed, hashlib.sha1).hexdigest()
    if not hmac.compare_digest(expected, headers["x-phaxio-signature"]):
        raise ValueError("signature mismatch")


CHECKS = [
    ("standard_v1", "webhook-signature", standard_v1),
    ("standard_v1a", "webhook-signature", standard_v1a),
    ("telnyx", "telnyx-signature-ed25519", telnyx),
    ("phaxio", "x-phaxio-signature", phaxio),
]


def main():
    req = json.load(sys.stdin)
    req["body"] = base64.b64decode(req["body_base64"])
    present = {k.lower() for k in req["headers"]}
    result = {}
    for name, header, check in CHECKS:
        if header not in present:
            continue
        try:
            check(req)
            result[name] = "ok"
        except NotUtf8:
            result[name] = "not_utf8"
        except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
            result[name] = f"{type(e).__name__}: {e}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
