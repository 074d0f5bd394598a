//! Attachments: stored with their event in chunks, read back byte for byte
//! one chunk at a time, described on the event and its claims, and deleted
//! with the event.

use super::*;
use bytes::Bytes;
use hookpost::domain::attachment::{new_attachment, CHUNK_BYTES};

/// An event carrying a file of `size` bytes (spanning chunks) and a small one.
fn with_files(a: &Account, size: usize) -> (NewEvent, Vec<u8>) {
    let big: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut e = event(a, None, Duration::from_secs(30));
    let file = |name: &str, filename: &str, bytes: Vec<u8>| {
        new_attachment(
            "f",
            name.into(),
            filename.into(),
            Some("application/pdf".into()),
            Bytes::from(bytes),
        )
        .unwrap()
    };
    e.attachments = vec![
        file("file", "fax.pdf", big.clone()),
        file("cover", "c.txt", b"hi".to_vec()),
    ];
    (e, big)
}

pub async fn attachments_are_stored_in_chunks_and_go_with_their_event(store: Arc<dyn Store>) {
    let a = account(&store, "hp_files").await;
    let size = 2 * CHUNK_BYTES + 17;
    let (e, big) = with_files(&a, size);
    publish_one(&store, e.clone()).await;

    let files = store
        .event_attachments(&e.id)
        .await
        .unwrap()
        .expect("the event");
    assert_eq!(files.account_id, a.id);
    let metas: Vec<_> = e.attachments.iter().map(|f| f.meta.clone()).collect();
    assert_eq!(files.files, metas);
    assert_eq!(files.files[0].chunks(), 3);

    let mut read = Vec::new();
    for seq in 0..files.files[0].chunks() {
        read.extend(
            store
                .attachment_chunk(&e.id, 0, seq)
                .await
                .unwrap()
                .expect("chunk"),
        );
    }
    assert!(read == big, "the file reads back byte for byte");
    assert_eq!(store.attachment_chunk(&e.id, 0, 3).await.unwrap(), None);
    assert_eq!(
        store.attachment_chunk(&e.id, 1, 0).await.unwrap(),
        Some(b"hi".to_vec())
    );

    let stored = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(stored.attachments, metas);
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed[0].attachments, metas,
        "a claim carries the descriptions"
    );

    let removed = store
        .delete_events(&a.id, std::slice::from_ref(&e.id))
        .await
        .unwrap();
    assert_eq!(removed.events, 1);
    assert!(store.event_attachments(&e.id).await.unwrap().is_none());
    assert_eq!(
        store.attachment_chunk(&e.id, 0, 0).await.unwrap(),
        None,
        "the bytes went too"
    );
}

pub async fn an_event_without_files_has_none(store: Arc<dyn Store>) {
    let a = account(&store, "hp_nofiles").await;
    let e = event(&a, None, Duration::from_secs(30));
    publish_one(&store, e.clone()).await;
    let files = store.event_attachments(&e.id).await.unwrap().unwrap();
    assert!(files.files.is_empty());
    assert!(store
        .event_attachments("no-such-event")
        .await
        .unwrap()
        .is_none());
}
