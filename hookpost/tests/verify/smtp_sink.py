"""A real SMTP server (aiosmtpd) for the e-mail webhook tests.

    python smtp_sink.py PORT OUT_DIR

Accepts every message on 127.0.0.1:PORT and writes each, parsed by Python's
email package, to OUT_DIR/NNNN.json: {mail_from, rcpt_tos, subject, text, html,
attachments: [{filename, content_type, size, sha256}]}.
Prints "ready" once listening; stops when its standard input closes.
"""

import email
import hashlib
import json
import os
import sys
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "attachments": [
                {
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "size": len(part.get_payload(decode=True)),
                    "sha256": hashlib.sha256(part.get_payload(decode=True)).hexdigest(),
                }
                for part in message.iter_attachments()
            ],
        }
        self.count += 1
        path = os.path.join(self.out, f"{self.count:04}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Message accepted by the test sink"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
