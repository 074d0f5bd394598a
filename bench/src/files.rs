//! The attachments scenario's files: random bytes, a different file per
//! event, each published in one `multipart/form-data` request (the event's
//! JSON in part `event`, the file in part `file`, as hookpost's
//! `POST /v1/events` takes them) and known afterwards by its SHA-256.

use sha2::{Digest, Sha256};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Bytes of every file: 10 MiB, exactly hookpost's default
/// `--max-attachment-bytes` per event (a file may reach it).
pub const FILE_BYTES: usize = 10 * 1024 * 1024;

/// One publish request carrying a file.
pub struct Form {
    /// `multipart/form-data; boundary=…`.
    pub content_type: String,
    /// The whole body.
    pub body: Vec<u8>,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// A seed for one invocation's files, different each time.
pub fn seed() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// The form publishing `event` (a JSON publish request) with file number
/// `seq`: `bytes` random bytes drawn from `seed` and `seq`. The boundary is
/// 128 random bits: the chance that it occurs in 10 MiB of random bytes is
/// nil, so it is not looked for.
pub fn form(event: &str, seq: usize, bytes: usize, seed: u64) -> Form {
    let mut random = SplitMix(SplitMix(seed.wrapping_add(seq as u64)).next());
    let boundary = format!("bench-{:016x}{:016x}", random.next(), random.next());
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"event\"\r\nContent-Type: application/json\r\n\r\n{event}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file-{seq}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let mut body = Vec::with_capacity(head.len() + bytes + tail.len());
    body.extend_from_slice(head.as_bytes());
    let start = body.len();
    random.fill(&mut body, bytes);
    let sha256 = hex(&Sha256::digest(&body[start..]));
    body.extend_from_slice(tail.as_bytes());
    Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
        sha256,
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SplitMix64: fast, and random enough that hookpost cannot compress or
/// dedupe the files; a file's generator starts at a scrambled seed, so two
/// files' streams do not overlap.
struct SplitMix(u64);

impl SplitMix {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Appends `bytes` random bytes to `out`.
    fn fill(&mut self, out: &mut Vec<u8>, bytes: usize) {
        let end = out.len() + bytes;
        while out.len() < end {
            let word = self.next().to_le_bytes();
            let n = (end - out.len()).min(word.len());
            out.extend_from_slice(&word[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{form, hex, seed};
    use sha2::{Digest, Sha256};

    /// The file sits between the part headers and the closing boundary, has
    /// its size and hash, and differs from the next file.
    #[test]
    fn a_form_carries_the_event_and_the_file() {
        let seed = seed();
        let event = r#"{"event_type":"t","payload":{}}"#;
        let one = form(event, 0, 1000, seed);
        let boundary = one.content_type.rsplit('=').next().unwrap();
        let text = String::from_utf8_lossy(&one.body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains(&format!("\r\n\r\n{event}\r\n--{boundary}\r\n")));
        let tail = format!("\r\n--{boundary}--\r\n");
        assert!(text.ends_with(&tail));
        let file_end = one.body.len() - tail.len();
        let file = &one.body[file_end - 1000..file_end];
        assert_eq!(hex(&Sha256::digest(file)), one.sha256);
        let two = form(event, 1, 1000, seed);
        assert_ne!(one.sha256, two.sha256);
        assert_eq!(form(event, 0, 1000, seed).sha256, one.sha256);
    }
}
