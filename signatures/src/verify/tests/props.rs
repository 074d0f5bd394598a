//! Property tests: whatever a request holds, verifying answers with a verdict
//! and never panics.

use super::*;
use proptest::prelude::*;

/// A header name: one the schemes read (so values reach the parsers), or any.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "webhook-id",
            "webhook-timestamp",
            "Webhook-Signature",
            "telnyx-timestamp",
            "telnyx-signature-ed25519",
            "X-Phaxio-Signature",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z-]{0,20}",
    ]
}

/// A header value: arbitrary text, or text shaped like a signature.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "-?[0-9]{0,25}",
        "((v1|v1a|v2),[A-Za-z0-9+/=]{0,100} ?){0,5}",
        "[0-9a-fA-F]{0,50}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_requests_never_panic(
        headers in prop::collection::vec((header_name(), header_value()), 0..8),
        body in prop::collection::vec(any::<u8>(), 0..256),
        url in any::<String>(),
        fields in prop::option::of(prop::collection::vec(("[a-z]{0,8}", any::<String>()), 0..4)),
        now in any::<i64>(),
    ) {
        let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let fields: Option<Vec<(&str, String)>> =
            fields.as_ref().map(|f| f.iter().map(|(n, v)| (n.as_str(), v.clone())).collect());
        let request = Request { headers: &headers, url: &url, body: &body, form_fields: fields.as_deref(), form_files: &[] };
        for (_, verdict) in v.verify_present(&request, now) {
            // Random input can't carry a valid signature.
            prop_assert!(verdict.is_err());
        }
    }

    #[test]
    fn any_body_and_time_round_trips(
        body in prop::collection::vec(any::<u8>(), 0..512),
        timestamp in any::<i64>(),
    ) {
        let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
        let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
        let signed = Signed::new(&keys, &ALL, timestamp, &body);
        for scheme in ALL {
            prop_assert_eq!(signed.check(&v, scheme, timestamp), Ok(()));
        }
    }

    #[test]
    fn a_valid_request_with_one_header_replaced_never_panics(
        which in 0usize..6,
        value in header_value(),
    ) {
        let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
        let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
        let mut signed = Signed::new(&keys, &ALL, NOW, b"{}");
        let name = signed.headers[which].0.clone();
        let original = signed.headers[which].1.clone();
        signed.set(&name, &value);
        let headers = signed.pairs();
        let request = Request { headers: &headers, url: &signed.url, body: &signed.body, form_fields: None, form_files: &[] };
        let verdicts = v.verify_present(&request, NOW);
        prop_assert_eq!(verdicts.len(), 3);
        if value != original && name != "webhook-signature" {
            // Only the scheme whose header changed can have changed its verdict.
            prop_assert_eq!(verdicts.iter().filter(|(_, r)| r.is_err()).count(), 1);
        }
    }
}
