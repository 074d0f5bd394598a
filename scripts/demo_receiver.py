#!/usr/bin/env python3
"""A webhook receiver for trying hookpost: prints each delivery and checks its
Standard Webhooks signature (HMAC-SHA256 over "{id}.{timestamp}.{body}"), using
only Python's standard library.

    python3 scripts/demo_receiver.py --port 9000 --secret whsec_...
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json


def verify(secret: str, headers, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f'{headers["webhook-id"]}.{headers["webhook-timestamp"]}.'.encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, g) for g in given)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", help="the account's whsec_ secret (GET /v1/account/keys)")
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            print(f"--- {self.command} {self.path}")
            print(json.dumps(json.loads(body), indent=2), flush=True)
            if args.secret:
                ok = verify(args.secret, self.headers, body)
                print("signature:", "valid" if ok else "INVALID", flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_):
            pass

    print(f"listening on http://127.0.0.1:{args.port}/", flush=True)
    http.server.HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
