//! Sign with [`Keys`], verify with [`Verifier`]: round trips, every rejection,
//! rotation, and the Standard Webhooks specification's own test vector.

use super::*;
use crate::{public_key, Body, Keys, Message};
use base64::engine::general_purpose::STANDARD;

const NOW: i64 = 1_700_000_000;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_c2VjcmV0LW9mLWxhc3QteWVhcg==";
const TOKEN: &str = "callback-token-new";
const OLD_TOKEN: &str = "callback-token-old";

fn seed(n: u8) -> String {
    STANDARD.encode([n; 32])
}

fn signer(secrets: &[&str], seeds: &[&str], tokens: &[&str]) -> Keys {
    Keys::decode(secrets, seeds, tokens).unwrap()
}

fn verifier(secrets: &[&str], seeds: &[&str], tokens: &[&str]) -> Verifier {
    let public: Vec<String> = seeds.iter().map(|s| public_key(s).unwrap()).collect();
    let public: Vec<&str> = public.iter().map(String::as_str).collect();
    Verifier::new(VerifyKeys::decode(secrets, &public, tokens).unwrap())
}

/// A received request as `keys` signed it for `schemes`, at `timestamp`.
struct Signed {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    url: String,
    fields: Option<Vec<(&'static str, String)>>,
}

impl Signed {
    fn new(keys: &Keys, schemes: &[Scheme], timestamp: i64, body: &[u8]) -> Signed {
        Signed::with_fields(keys, schemes, timestamp, body, None)
    }

    fn with_fields(
        keys: &Keys,
        schemes: &[Scheme],
        timestamp: i64,
        body: &[u8],
        fields: Option<Vec<(&'static str, String)>>,
    ) -> Signed {
        let url = "https://receiver.example/hooks?account=7".to_string();
        let message = Message {
            id: "evt_01",
            timestamp,
            url: &url,
            body: Body::Bytes(body),
            form_fields: fields.as_deref(),
            form_files: &[],
        };
        let headers = keys
            .headers(schemes, &message)
            .expect("a body in memory is always read")
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        Signed {
            headers,
            body: body.to_vec(),
            url,
            fields,
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// Checks what was received with `v`.
    fn check(&self, v: &Verifier, scheme: Scheme, now: i64) -> Result<(), VerifyError> {
        let headers = self.pairs();
        let request = Request {
            headers: &headers,
            url: &self.url,
            body: &self.body,
            form_fields: self.fields.as_deref(),
            form_files: &[],
        };
        v.verify(scheme, &request, now)
    }

    fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn remove(&mut self, name: &str) -> &mut Self {
        self.headers.retain(|(n, _)| n != name);
        self
    }
}

const ALL: [Scheme; 3] = [Scheme::Standard, Scheme::Telnyx, Scheme::Phaxio];

#[test]
fn every_scheme_verifies_what_keys_signed() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let signed = Signed::new(&keys, &ALL, NOW, br#"{"event_type":"fax.delivered"}"#);
    for scheme in ALL {
        assert_eq!(signed.check(&v, scheme, NOW), Ok(()), "{scheme:?}");
    }
}

#[test]
fn standard_v1_alone_and_v1a_alone_each_suffice() {
    let both = signer(&[SECRET], &[&seed(1)], &[]);
    let signed = Signed::new(&both, &[Scheme::Standard], NOW, b"{}");
    let hmac_only = verifier(&[SECRET], &[], &[]);
    let ed25519_only = verifier(&[], &[&seed(1)], &[]);
    assert_eq!(signed.check(&hmac_only, Scheme::Standard, NOW), Ok(()));
    assert_eq!(signed.check(&ed25519_only, Scheme::Standard, NOW), Ok(()));
}

#[test]
fn phaxio_verifies_form_fields_in_any_order_and_a_json_body() {
    let keys = signer(&[], &[], &[TOKEN]);
    let v = verifier(&[], &[], &[TOKEN]);
    let fields = vec![
        ("id", "e1".to_string()),
        ("event_type", "fax.delivered".to_string()),
        ("payload", r#"{"a":1}"#.to_string()),
    ];
    let mut signed = Signed::with_fields(
        &keys,
        &[Scheme::Phaxio],
        NOW,
        b"--multipart--",
        Some(fields),
    );
    assert_eq!(signed.check(&v, Scheme::Phaxio, NOW), Ok(()));
    signed.fields.as_mut().unwrap().reverse();
    assert_eq!(signed.check(&v, Scheme::Phaxio, NOW), Ok(()));
    signed.fields.as_mut().unwrap()[0].1.push('!');
    assert_eq!(
        signed.check(&v, Scheme::Phaxio, NOW),
        Err(VerifyError::NoMatch)
    );

    let json = Signed::new(&keys, &[Scheme::Phaxio], NOW, br#"{"x":1}"#);
    assert_eq!(json.check(&v, Scheme::Phaxio, NOW), Ok(()));
    // Phaxio has no timestamp: nothing goes stale.
    assert_eq!(json.check(&v, Scheme::Phaxio, NOW + 86_400), Ok(()));
}

#[test]
fn phaxio_verifies_file_parts_by_their_sha1() {
    let keys = signer(&[], &[], &[TOKEN]);
    let v = verifier(&[], &[], &[TOKEN]);
    let url = "https://receiver.example/fax";
    let fields = [("event_type", "fax_completed".to_string())];
    let files = [(
        "file",
        "a6a1c8998d4f5f1b2224127ad170540cd46ebf3d".to_string(),
    )];
    let message = Message {
        id: "e1",
        timestamp: NOW,
        url,
        body: Body::Bytes(b"--multipart--"),
        form_fields: Some(&fields),
        form_files: &files,
    };
    let headers = keys.headers(&[Scheme::Phaxio], &message).unwrap();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let request = |files: &[(&str, String)]| {
        let request = Request {
            headers: &headers,
            url,
            body: b"--multipart--",
            form_fields: Some(&fields),
            form_files: files,
        };
        v.verify(Scheme::Phaxio, &request, NOW)
    };
    assert_eq!(request(&files), Ok(()));
    let other = [(
        "file",
        "0000000000000000000000000000000000000000".to_string(),
    )];
    assert_eq!(request(&other), Err(VerifyError::NoMatch), "another file");
    assert_eq!(request(&[]), Err(VerifyError::NoMatch), "the file left out");
}

#[test]
fn phaxio_signs_the_url_so_another_url_does_not_match() {
    let keys = signer(&[], &[], &[TOKEN]);
    let v = verifier(&[], &[], &[TOKEN]);
    let mut signed = Signed::new(&keys, &[Scheme::Phaxio], NOW, b"{}");
    signed.url.push_str("&more=1");
    assert_eq!(
        signed.check(&v, Scheme::Phaxio, NOW),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn a_rotated_out_key_is_rejected() {
    // Signed with last year's keys only; the receiver has moved on.
    let old = signer(&[OLD_SECRET], &[&seed(2)], &[OLD_TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let signed = Signed::new(&old, &ALL, NOW, b"{}");
    for scheme in ALL {
        assert_eq!(
            signed.check(&v, scheme, NOW),
            Err(VerifyError::NoMatch),
            "{scheme:?}"
        );
    }
}

#[test]
fn a_key_still_listed_during_rotation_is_accepted() {
    let v = verifier(
        &[SECRET, OLD_SECRET],
        &[&seed(1), &seed(2)],
        &[TOKEN, OLD_TOKEN],
    );
    // A sender still on the old keys, and one already on the new.
    for keys in [
        signer(&[OLD_SECRET], &[&seed(2)], &[OLD_TOKEN]),
        signer(&[SECRET], &[&seed(1)], &[TOKEN]),
    ] {
        let signed = Signed::new(&keys, &ALL, NOW, b"{}");
        for scheme in ALL {
            assert_eq!(signed.check(&v, scheme, NOW), Ok(()), "{scheme:?}");
        }
    }
}

#[test]
fn during_rotation_the_header_carries_both_and_either_key_verifies() {
    let keys = signer(&[SECRET, OLD_SECRET], &[], &[]);
    let signed = Signed::new(&keys, &[Scheme::Standard], NOW, b"{}");
    let header = &signed.headers[2].1;
    assert_eq!(header.split(' ').count(), 2);
    for secret in [SECRET, OLD_SECRET] {
        assert_eq!(
            signed.check(&verifier(&[secret], &[], &[]), Scheme::Standard, NOW),
            Ok(())
        );
    }
}

#[test]
fn one_valid_signature_among_several_is_enough() {
    let keys = signer(&[SECRET], &[], &[]);
    let v = verifier(&[SECRET], &[&seed(3)], &[]);
    let mut signed = Signed::new(&keys, &[Scheme::Standard], NOW, b"{}");
    let valid = signed.headers[2].1.clone();
    let wrong_v1 = format!("v1,{}", STANDARD.encode([0u8; 32]));
    let wrong_v1a = format!("v1a,{}", STANDARD.encode([0u8; 64]));
    let header = format!("{wrong_v1}  v2,future-version {wrong_v1a} v1,%%% nocomma {valid}");
    signed.set("webhook-signature", &header);
    assert_eq!(signed.check(&v, Scheme::Standard, NOW), Ok(()));
}

// The example of the Standard Webhooks specification, verified at its own time
// and replayed an hour later.
#[test]
fn the_specification_test_vector_verifies_and_goes_stale() {
    let headers = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ];
    let request = Request {
        headers: &headers,
        url: "https://example.com/",
        body: br#"{"test": 2432232314}"#,
        form_fields: None,
        form_files: &[],
    };
    for secret in [SECRET, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
        let v = Verifier::new(VerifyKeys::decode(&[secret], &[], &[]).unwrap());
        assert_eq!(v.verify(Scheme::Standard, &request, 1614265330), Ok(()));
        assert_eq!(
            v.verify(Scheme::Standard, &request, 1614265330 + 3600),
            Err(VerifyError::Stale {
                timestamp: 1614265330,
                now: 1614265330 + 3600
            })
        );
    }
}

#[test]
fn header_names_compare_case_insensitively() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let mut signed = Signed::new(&keys, &ALL, NOW, b"{}");
    for (name, _) in signed.headers.iter_mut() {
        name.make_ascii_uppercase();
    }
    for scheme in ALL {
        assert_eq!(signed.check(&v, scheme, NOW), Ok(()), "{scheme:?}");
    }
}

#[test]
fn verify_present_checks_the_schemes_the_request_carries_in_order() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[], &[TOKEN]);
    let signed = Signed::new(
        &keys,
        &[Scheme::Phaxio, Scheme::Telnyx, Scheme::Standard],
        NOW,
        b"{}",
    );
    let headers = signed.pairs();
    let request = Request {
        headers: &headers,
        url: &signed.url,
        body: &signed.body,
        form_fields: None,
        form_files: &[],
    };
    assert_eq!(
        v.verify_present(&request, NOW),
        vec![
            (Scheme::Standard, Ok(())),
            (Scheme::Telnyx, Err(VerifyError::NoKey)),
            (Scheme::Phaxio, Ok(())),
        ]
    );

    let partial = [
        ("telnyx-timestamp", "1700000000"),
        ("content-type", "application/json"),
    ];
    let request = Request {
        headers: &partial,
        ..request
    };
    assert_eq!(
        v.verify_present(&request, NOW),
        vec![(
            Scheme::Telnyx,
            Err(VerifyError::MissingHeader("telnyx-signature-ed25519"))
        )]
    );
    let request = Request {
        headers: &[],
        ..request
    };
    assert!(v.verify_present(&request, NOW).is_empty());
}

#[test]
fn verify_keys_reject_bad_material_with_a_typed_error() {
    let decode = |secrets: &[&str], public: &[&str], tokens: &[&str]| {
        VerifyKeys::decode(secrets, public, tokens).map(|_| ())
    };
    assert!(matches!(
        decode(&["whsec_***"], &[], &[]),
        Err(KeyError::NotBase64(_))
    ));
    assert_eq!(decode(&["whsec_"], &[], &[]), Err(KeyError::Empty));
    assert_eq!(decode(&[], &[], &[""]), Err(KeyError::Empty));
    assert!(matches!(
        decode(&[], &["whpk_!!"], &[]),
        Err(KeyError::NotBase64(_))
    ));
    assert_eq!(
        decode(&[], &["AAAA"], &[]),
        Err(KeyError::PublicKeyLength(3))
    );
    let not_a_point = (0..=255u8)
        .map(|b| STANDARD.encode([b; 32]))
        .find(|k| decode(&[], &[k], &[]).is_err())
        .expect("some 32-byte strings are not curve points");
    assert_eq!(
        decode(&[], &[&not_a_point], &[]),
        Err(KeyError::NotAPublicKey)
    );
}

#[test]
fn verify_keys_accept_prefixes_and_unpadded_base64() {
    let public = public_key(&seed(1)).unwrap();
    let prefixed = format!("whpk_{public}");
    let unpadded = public.trim_end_matches('=').to_string();
    let secret = OLD_SECRET.trim_end_matches('=');
    assert!(VerifyKeys::decode(&[secret], &[&public, &prefixed, &unpadded], &[TOKEN]).is_ok());
    let keys = signer(&[OLD_SECRET], &[&seed(1)], &[]);
    let signed = Signed::new(&keys, &[Scheme::Standard, Scheme::Telnyx], NOW, b"{}");
    let v = Verifier::new(VerifyKeys::decode(&[secret], &[&prefixed], &[]).unwrap());
    assert_eq!(signed.check(&v, Scheme::Standard, NOW), Ok(()));
    assert_eq!(signed.check(&v, Scheme::Telnyx, NOW), Ok(()));
}

#[test]
fn debug_output_shows_no_key_material() {
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let printed = format!("{v:?}");
    assert!(printed.contains("secrets: 1"), "{printed}");
    assert!(
        !printed.contains("MfKQ") && !printed.contains(TOKEN),
        "{printed}"
    );
}

#[test]
fn scheme_names_are_the_settings_spelling() {
    let names: Vec<_> = ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["standard", "telnyx", "phaxio"]);
    assert_eq!(Scheme::ALL, ALL);
}

mod props;
mod rejections;
