//! Interoperability with the reference `standardwebhooks` Python package, both
//! ways: what Python signs, this crate verifies; what [`Keys`] signs, Python's
//! `Webhook(secret).verify(body, headers)` accepts.
//!
//! The interpreter is `$HOOKPOST_TEST_PYTHON` (hookpost's `scripts/test` points
//! it at `.venv/bin/python`), else `python3`. When the variable is unset and
//! `python3` lacks the package, the test says so and passes; when the variable
//! is set, a missing package fails the test.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hookpost_signatures::{Body, Keys, Message, Request, Scheme, Verifier, VerifyKeys};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads cases from stdin, one a line, tab-separated: secret, id, timestamp,
/// body (hex), the `webhook-signature` this crate made. Prints, per line,
/// Python's own signature and its verdict on ours (`ok` or the error).
const SCRIPT: &str = r#"
import sys
from datetime import datetime, timezone
from standardwebhooks import Webhook

for line in sys.stdin:
    secret, msg_id, ts, body_hex, ours = line.rstrip("\n").split("\t")
    body = bytes.fromhex(body_hex).decode("utf-8")
    wh = Webhook(secret)
    theirs = wh.sign(msg_id, datetime.fromtimestamp(int(ts), tz=timezone.utc), body)
    headers = {"Webhook-Id": msg_id, "Webhook-Timestamp": ts, "Webhook-Signature": ours}
    try:
        wh.verify(body.encode("utf-8"), headers, json_parse=False)
        verdict = "ok"
    except Exception as e:
        verdict = type(e).__name__ + ": " + str(e)
    print(theirs + "\t" + verdict)
"#;

/// One case: the secrets `Keys` signs with (newest first), the one Python
/// verifies with, an Ed25519 seed or none, and a body.
struct Case {
    sign_with: Vec<String>,
    python_secret: String,
    seed: Option<String>,
    body: Vec<u8>,
}

/// Deterministic bytes (xorshift), so failures reproduce.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn whsec(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

fn cases() -> Vec<Case> {
    let big: String = (0..2000).map(|i| format!("{i},")).collect();
    let bodies: [Vec<u8>; 5] = [
        br#"{"event_type":"fax.delivered","id":"evt_1"}"#.to_vec(),
        r#"{"name":"Zoë ✓ 日本"}"#.as_bytes().to_vec(),
        b"".to_vec(),
        b"not json at all\r\n with lines".to_vec(),
        format!(r#"{{"list":[{big}0]}}"#).into_bytes(),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let new = whsec(&bytes(i as u64, [24, 32, 64, 17, 40][i]));
            let old = whsec(&bytes(100 + i as u64, 32));
            match i {
                // A rotation: signed with both, Python knows only the old one.
                1 => Case {
                    sign_with: vec![new, old.clone()],
                    python_secret: old,
                    seed: None,
                    body,
                },
                // A `v1a` entry beside `v1`: Python skips the version it does not know.
                2 | 4 => Case {
                    sign_with: vec![new.clone()],
                    python_secret: new,
                    seed: Some(STANDARD.encode(bytes(200 + i as u64, 32))),
                    body,
                },
                // Python accepts a secret without base64 padding; so does VerifyKeys.
                3 => Case {
                    sign_with: vec![new.clone()],
                    python_secret: new.trim_end_matches('=').to_string(),
                    seed: None,
                    body,
                },
                _ => Case {
                    sign_with: vec![new.clone()],
                    python_secret: new,
                    seed: None,
                    body,
                },
            }
        })
        .collect()
}

/// The interpreter to use, or `None` to skip (unset variable, no package).
fn python() -> Option<String> {
    let configured = std::env::var("HOOKPOST_TEST_PYTHON").ok();
    let python = configured.clone().unwrap_or_else(|| "python3".into());
    let has_package = Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match (has_package, configured) {
        (true, _) => Some(python),
        (false, Some(p)) => panic!("HOOKPOST_TEST_PYTHON={p} cannot import standardwebhooks"),
        (false, None) => {
            eprintln!(
                "skipped: python3 lacks the standardwebhooks package \
                 (set HOOKPOST_TEST_PYTHON, e.g. to .venv/bin/python)"
            );
            None
        }
    }
}

#[test]
fn standardwebhooks_and_this_crate_accept_each_others_signatures() {
    let Some(python) = python() else { return };
    // Python checks the timestamp against its own clock, so sign at "now".
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let cases = cases();
    let mut input = String::new();
    let mut ours = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let secrets: Vec<&str> = case.sign_with.iter().map(String::as_str).collect();
        let seeds: Vec<&str> = case.seed.iter().map(String::as_str).collect();
        let keys = Keys::decode(&secrets, &seeds, &[]).unwrap();
        let id = format!("msg_{i}_{}", STANDARD.encode(bytes(300 + i as u64, 9)));
        let message = Message {
            id: &id,
            timestamp: now,
            url: "",
            body: Body::Bytes(&case.body),
            form_fields: None,
            form_files: &[],
        };
        let signature = keys.standard(&message).unwrap();
        assert_eq!(signature.split(' ').count(), secrets.len() + seeds.len());
        let hex: String = case.body.iter().map(|b| format!("{b:02x}")).collect();
        input.push_str(&format!(
            "{}\t{id}\t{now}\t{hex}\t{signature}\n",
            case.python_secret
        ));
        ours.push(id);
    }

    let mut child = Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start Python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<&str> = answers.lines().collect();
    assert_eq!(answers.len(), cases.len(), "{answers:?}");

    for ((case, id), answer) in cases.iter().zip(&ours).zip(answers) {
        let (theirs, verdict) = answer.split_once('\t').expect("two columns");
        // Python accepts what Keys signed.
        assert_eq!(verdict, "ok", "Python rejected our signature for {id}");
        // This crate accepts what Python signed.
        let timestamp = now.to_string();
        let headers = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", theirs),
        ];
        let request = Request {
            headers: &headers,
            url: "",
            body: &case.body,
            form_fields: None,
            form_files: &[],
        };
        let keys = VerifyKeys::decode(&[&case.python_secret], &[], &[]).unwrap();
        let verifier = Verifier::new(keys);
        assert_eq!(
            verifier.verify(Scheme::Standard, &request, now),
            Ok(()),
            "{id}: {theirs}"
        );
        // And both computed the same bytes (the last secret is Python's, padded).
        let keys = Keys::decode(&[case.sign_with.last().unwrap()], &[], &[]).unwrap();
        let message = Message {
            id,
            timestamp: now,
            url: "",
            body: Body::Bytes(&case.body),
            form_fields: None,
            form_files: &[],
        };
        assert_eq!(keys.standard(&message).unwrap(), theirs);
    }
}
