//! Every way a request is refused, each with its typed error.

use super::*;

#[test]
fn a_tampered_body_matches_no_signature() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let mut signed = Signed::new(&keys, &ALL, NOW, br#"{"amount":100}"#);
    signed.body = br#"{"amount":900}"#.to_vec();
    for scheme in ALL {
        assert_eq!(
            signed.check(&v, scheme, NOW),
            Err(VerifyError::NoMatch),
            "{scheme:?}"
        );
    }
}

#[test]
fn a_wrong_key_matches_no_signature() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[OLD_SECRET], &[&seed(2)], &[OLD_TOKEN]);
    let signed = Signed::new(&keys, &ALL, NOW, b"{}");
    for scheme in ALL {
        assert_eq!(
            signed.check(&v, scheme, NOW),
            Err(VerifyError::NoMatch),
            "{scheme:?}"
        );
    }
}

#[test]
fn a_changed_id_or_timestamp_matches_no_signature() {
    let keys = signer(&[SECRET], &[&seed(1)], &[]);
    let v = verifier(&[SECRET], &[&seed(1)], &[]);
    let mut signed = Signed::new(&keys, &[Scheme::Standard, Scheme::Telnyx], NOW, b"{}");
    signed.set("webhook-id", "evt_02");
    assert_eq!(
        signed.check(&v, Scheme::Standard, NOW),
        Err(VerifyError::NoMatch)
    );
    signed.set("telnyx-timestamp", &(NOW + 1).to_string());
    assert_eq!(
        signed.check(&v, Scheme::Telnyx, NOW),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn stale_and_future_timestamps_are_rejected_either_way() {
    let keys = signer(&[SECRET], &[&seed(1)], &[]);
    let v = verifier(&[SECRET], &[&seed(1)], &[]);
    for scheme in [Scheme::Standard, Scheme::Telnyx] {
        let old = Signed::new(&keys, &[scheme], NOW - 301, b"{}");
        let future = Signed::new(&keys, &[scheme], NOW + 301, b"{}");
        let edge = Signed::new(&keys, &[scheme], NOW - 300, b"{}");
        let stale = |t| {
            Err(VerifyError::Stale {
                timestamp: t,
                now: NOW,
            })
        };
        assert_eq!(old.check(&v, scheme, NOW), stale(NOW - 301), "{scheme:?}");
        assert_eq!(
            future.check(&v, scheme, NOW),
            stale(NOW + 301),
            "{scheme:?}"
        );
        assert_eq!(edge.check(&v, scheme, NOW), Ok(()), "{scheme:?}");
    }
}

#[test]
fn the_tolerance_can_be_changed() {
    let keys = signer(&[SECRET], &[], &[]);
    let signed = Signed::new(&keys, &[Scheme::Standard], NOW - 3000, b"{}");
    let strict = verifier(&[SECRET], &[], &[]).tolerance(Duration::from_secs(60));
    let lenient = verifier(&[SECRET], &[], &[]).tolerance(Duration::from_secs(3600));
    assert!(matches!(
        signed.check(&strict, Scheme::Standard, NOW),
        Err(VerifyError::Stale { .. })
    ));
    assert_eq!(signed.check(&lenient, Scheme::Standard, NOW), Ok(()));
}

#[test]
fn unknown_versions_alone_match_nothing() {
    let keys = signer(&[SECRET], &[], &[]);
    let v = verifier(&[SECRET], &[], &[]);
    let mut signed = Signed::new(&keys, &[Scheme::Standard], NOW, b"{}");
    let renamed = signed.headers[2].1.replacen("v1,", "v2,", 1);
    signed.set("webhook-signature", &renamed);
    assert_eq!(
        signed.check(&v, Scheme::Standard, NOW),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn each_missing_header_is_named() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    for (scheme, header) in [
        (Scheme::Standard, "webhook-id"),
        (Scheme::Standard, "webhook-timestamp"),
        (Scheme::Standard, "webhook-signature"),
        (Scheme::Telnyx, "telnyx-timestamp"),
        (Scheme::Telnyx, "telnyx-signature-ed25519"),
        (Scheme::Phaxio, "x-phaxio-signature"),
    ] {
        let mut signed = Signed::new(&keys, &ALL, NOW, b"{}");
        signed.remove(header);
        assert_eq!(
            signed.check(&v, scheme, NOW),
            Err(VerifyError::MissingHeader(header))
        );
    }
}

#[test]
fn malformed_headers_are_bad_encoding() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let sixty_four = STANDARD.encode([1u8; 64]);
    let many = vec!["v1,AAAA"; MAX_SIGNATURES + 1].join(" ");
    for (scheme, header, value) in [
        (Scheme::Standard, "webhook-timestamp", "soon"),
        (Scheme::Standard, "webhook-timestamp", ""),
        (
            Scheme::Standard,
            "webhook-timestamp",
            "99999999999999999999999",
        ),
        (Scheme::Standard, "webhook-signature", ""),
        (Scheme::Standard, "webhook-signature", "   "),
        (Scheme::Standard, "webhook-signature", "v1,not base64!"),
        (Scheme::Standard, "webhook-signature", "v1,AAAA"),
        (Scheme::Standard, "webhook-signature", "v1a,AAAA"),
        (Scheme::Standard, "webhook-signature", "no-comma-at-all"),
        (Scheme::Standard, "webhook-signature", &many),
        (Scheme::Telnyx, "telnyx-timestamp", "12:00"),
        (Scheme::Telnyx, "telnyx-signature-ed25519", "***"),
        (Scheme::Telnyx, "telnyx-signature-ed25519", "AAAA"),
        (Scheme::Phaxio, "x-phaxio-signature", "abc"),
        (Scheme::Phaxio, "x-phaxio-signature", &"zz".repeat(20)),
        (Scheme::Phaxio, "x-phaxio-signature", &"é".repeat(20)),
        (Scheme::Phaxio, "x-phaxio-signature", &sixty_four),
    ] {
        let mut signed = Signed::new(&keys, &ALL, NOW, b"{}");
        signed.set(header, value);
        match signed.check(&v, scheme, NOW) {
            Err(VerifyError::BadEncoding { header: h, detail }) => {
                assert_eq!(h, header, "{value:?}: {detail}")
            }
            other => panic!("{header}: {value:?} gave {other:?}"),
        }
    }
}

#[test]
fn upper_case_hex_is_accepted_for_phaxio() {
    let keys = signer(&[], &[], &[TOKEN]);
    let v = verifier(&[], &[], &[TOKEN]);
    let mut signed = Signed::new(&keys, &[Scheme::Phaxio], NOW, b"{}");
    let upper = signed.headers[0].1.to_ascii_uppercase();
    signed.set("x-phaxio-signature", &upper);
    assert_eq!(signed.check(&v, Scheme::Phaxio, NOW), Ok(()));
}

#[test]
fn without_a_key_of_the_right_kind_the_answer_is_no_key() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let signed = Signed::new(&keys, &ALL, NOW, b"{}");
    let none = verifier(&[], &[], &[]);
    for scheme in ALL {
        assert_eq!(
            signed.check(&none, scheme, NOW),
            Err(VerifyError::NoKey),
            "{scheme:?}"
        );
    }
    // HMAC secrets are no use for Telnyx, public keys none for Phaxio.
    let hmac_only = verifier(&[SECRET], &[], &[]);
    assert_eq!(
        signed.check(&hmac_only, Scheme::Telnyx, NOW),
        Err(VerifyError::NoKey)
    );
    let public_only = verifier(&[], &[&seed(1)], &[]);
    assert_eq!(
        signed.check(&public_only, Scheme::Phaxio, NOW),
        Err(VerifyError::NoKey)
    );
}

#[test]
fn errors_read_as_sentences() {
    let e = VerifyError::BadEncoding {
        header: "webhook-signature",
        detail: "no signature".into(),
    };
    assert_eq!(
        e.to_string(),
        "malformed header webhook-signature: no signature"
    );
    assert_eq!(
        VerifyError::MissingHeader("webhook-id").to_string(),
        "missing header webhook-id"
    );
}

#[test]
fn a_huge_request_is_handled_without_trouble() {
    let keys = signer(&[SECRET], &[&seed(1)], &[TOKEN]);
    let v = verifier(&[SECRET], &[&seed(1)], &[TOKEN]);
    let body = vec![b'x'; 4 << 20];
    let mut signed = Signed::new(&keys, &ALL, NOW, &body);
    for scheme in ALL {
        assert_eq!(signed.check(&v, scheme, NOW), Ok(()));
    }
    let flood = vec![format!("v1a,{}", STANDARD.encode([9u8; 64])); 100_000].join(" ");
    signed.set("webhook-signature", &flood);
    assert!(matches!(
        signed.check(&v, Scheme::Standard, NOW),
        Err(VerifyError::BadEncoding { .. })
    ));
}
