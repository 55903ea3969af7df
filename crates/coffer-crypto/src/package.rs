//! Sealed packages: how a segment's bytes are stored.
//!
//! ```text
//! package = header (8 bytes) || ciphertext (len bytes) || GCM tag (16 bytes)
//! header  = 0xC0 || version (1) || suite id || flags || len (u32 BE)
//! flags   = bit 0: FINAL, set on the segment's last package and only there
//! nonce   = sequence number (u64 BE) || 0x00 0x00 0x00 || flags
//! AAD     = header
//! ```
//!
//! Every package but the last holds exactly [`PACKAGE_PLAINTEXT`] bytes, so the package
//! holding any plaintext offset is found by division and a range read opens only the
//! packages it needs. The sequence number in the nonce detects reordering, the FINAL flag
//! (bound into nonce and AAD) detects truncation, and per-segment keys detect splicing.
//! An empty segment is one empty FINAL package, so even it cannot be truncated unnoticed.

use crate::cipher::Tampered;
use crate::keys::SegmentKey;

/// Plaintext bytes per package.
pub const PACKAGE_PLAINTEXT: usize = 64 * 1024;
pub const HEADER_LEN: usize = 8;
pub const TAG_LEN: usize = 16;
/// Stored bytes per package beyond its plaintext.
pub const PACKAGE_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Stored size of a full package.
pub const PACKAGE_STORED: usize = PACKAGE_PLAINTEXT + PACKAGE_OVERHEAD;

const MAGIC: u8 = 0xC0;
const VERSION: u8 = 1;
const FLAG_FINAL: u8 = 1;

/// Stored size of a segment of `plaintext_len` bytes.
pub fn stored_len(plaintext_len: u64) -> u64 {
    let packages = plaintext_len.div_ceil(PACKAGE_PLAINTEXT as u64).max(1);
    plaintext_len + packages * PACKAGE_OVERHEAD as u64
}

/// The package holding plaintext offset `offset`, and where it starts in the stored segment.
pub fn locate(offset: u64) -> (u64, u64) {
    let index = offset / PACKAGE_PLAINTEXT as u64;
    (index, index * PACKAGE_STORED as u64)
}

fn nonce(seq: u64, flags: u8) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&seq.to_be_bytes());
    n[11] = flags;
    n
}

/// Seals a segment's plaintext, package by package, in order.
pub struct PackageSealer {
    key: SegmentKey,
    seq: u64,
    finished: bool,
}

impl PackageSealer {
    pub fn new(key: SegmentKey) -> Self {
        PackageSealer {
            key,
            seq: 0,
            finished: false,
        }
    }

    /// Appends one sealed package to `out`. `plaintext` holds exactly
    /// [`PACKAGE_PLAINTEXT`] bytes, or fewer for the `last` package.
    ///
    /// # Panics
    /// If called after the last package, or with a wrongly sized package: both are
    /// programming errors that would otherwise produce an unreadable segment.
    pub fn seal_into(&mut self, plaintext: &[u8], last: bool, out: &mut Vec<u8>) {
        assert!(!self.finished, "segment already sealed its final package");
        assert!(
            plaintext.len() == PACKAGE_PLAINTEXT || (last && plaintext.len() < PACKAGE_PLAINTEXT),
            "only the last package may be short"
        );
        let flags = if last { FLAG_FINAL } else { 0 };
        let header = header(self.key.suite.id(), flags, plaintext.len() as u32);
        let start = out.len();
        out.extend_from_slice(&header);
        out.extend_from_slice(plaintext);
        let tag = self.key.cipher.seal(
            nonce(self.seq, flags),
            &header,
            &mut out[start + HEADER_LEN..],
        );
        out.extend_from_slice(&tag);
        self.seq += 1;
        self.finished = last;
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

fn header(suite: u8, flags: u8, len: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = MAGIC;
    h[1] = VERSION;
    h[2] = suite;
    h[3] = flags;
    h[4..].copy_from_slice(&len.to_be_bytes());
    h
}

/// Opens a segment's packages in order, from any package index onwards.
pub struct PackageOpener {
    key: SegmentKey,
    seq: u64,
    finished: bool,
}

impl PackageOpener {
    /// Starts at package `first_seq` (0 for a whole segment; [`locate`] for a range).
    pub fn new(key: SegmentKey, first_seq: u64) -> Self {
        PackageOpener {
            key,
            seq: first_seq,
            finished: false,
        }
    }

    /// The full stored length of the package whose header this is. A header that is not
    /// a header of this segment's format and cipher is tampering.
    pub fn package_len(&self, header: &[u8; HEADER_LEN]) -> Result<usize, Tampered> {
        let len = u32::from_be_bytes(header[4..].try_into().expect("4 bytes")) as usize;
        let flags = header[3];
        let well_formed = header[0] == MAGIC
            && header[1] == VERSION
            && header[2] == self.key.suite.id()
            && flags & !FLAG_FINAL == 0
            && len <= PACKAGE_PLAINTEXT
            && (flags & FLAG_FINAL != 0 || len == PACKAGE_PLAINTEXT);
        if well_formed {
            Ok(HEADER_LEN + len + TAG_LEN)
        } else {
            Err(Tampered)
        }
    }

    /// Authenticates and decrypts one whole package in place, returning its plaintext.
    pub fn open<'a>(&mut self, package: &'a mut [u8]) -> Result<&'a [u8], Tampered> {
        if self.finished || package.len() < PACKAGE_OVERHEAD {
            return Err(Tampered);
        }
        let header: [u8; HEADER_LEN] = package[..HEADER_LEN].try_into().expect("checked length");
        if self.package_len(&header)? != package.len() {
            return Err(Tampered);
        }
        let flags = header[3];
        let body_len = package.len() - HEADER_LEN - TAG_LEN;
        let (body, tag) = package[HEADER_LEN..].split_at_mut(body_len);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().expect("checked length");
        self.key
            .cipher
            .open(nonce(self.seq, flags), &header, body, tag)?;
        self.seq += 1;
        self.finished = flags & FLAG_FINAL != 0;
        Ok(body)
    }

    /// Whether the FINAL package has been opened. A reader that reaches the end of the
    /// stored bytes without it has a truncated segment.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::CipherSuite;
    use crate::keys::DataKey;
    use proptest::prelude::*;

    const SUITES: [CipherSuite; 2] = [CipherSuite::Aes256Gcm, CipherSuite::Sm4Gcm];

    fn key(suite: CipherSuite, segment: u32) -> SegmentKey {
        SegmentKey::derive(&DataKey::from_bytes([7; 32]), &[9; 16], suite, segment)
    }

    fn seal_all(suite: CipherSuite, data: &[u8]) -> Vec<u8> {
        let mut sealer = PackageSealer::new(key(suite, 0));
        let mut out = Vec::new();
        let mut chunks = data.chunks(PACKAGE_PLAINTEXT).peekable();
        if chunks.peek().is_none() {
            sealer.seal_into(&[], true, &mut out);
        }
        while let Some(chunk) = chunks.next() {
            sealer.seal_into(chunk, chunks.peek().is_none(), &mut out);
        }
        out
    }

    /// Opens every package in `stored`; errors on tampering or a missing FINAL package.
    fn open_all(suite: CipherSuite, segment: u32, stored: &[u8]) -> Result<Vec<u8>, Tampered> {
        let mut opener = PackageOpener::new(key(suite, segment), 0);
        let mut stored = stored.to_vec();
        let mut at = 0;
        let mut plain = Vec::new();
        while at < stored.len() {
            let header: [u8; HEADER_LEN] = stored
                .get(at..at + HEADER_LEN)
                .ok_or(Tampered)?
                .try_into()
                .unwrap();
            let len = opener.package_len(&header)?;
            let package = stored.get_mut(at..at + len).ok_or(Tampered)?;
            plain.extend_from_slice(opener.open(package)?);
            at += len;
        }
        if opener.is_finished() {
            Ok(plain)
        } else {
            Err(Tampered)
        }
    }

    #[test]
    fn round_trips_at_package_boundaries() {
        for suite in SUITES {
            for len in [
                0,
                1,
                PACKAGE_PLAINTEXT - 1,
                PACKAGE_PLAINTEXT,
                PACKAGE_PLAINTEXT + 1,
                3 * PACKAGE_PLAINTEXT,
            ] {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let stored = seal_all(suite, &data);
                assert_eq!(stored.len() as u64, stored_len(len as u64));
                assert_eq!(
                    open_all(suite, 0, &stored).unwrap(),
                    data,
                    "{suite:?} {len}"
                );
            }
        }
    }

    #[test]
    fn truncation_reordering_and_splicing_are_detected() {
        for suite in SUITES {
            let data = vec![0x5a; 3 * PACKAGE_PLAINTEXT + 10];
            let stored = seal_all(suite, &data);
            // Dropping the final package.
            assert_eq!(
                open_all(suite, 0, &stored[..3 * PACKAGE_STORED]),
                Err(Tampered)
            );
            // Cutting inside a package.
            assert_eq!(
                open_all(suite, 0, &stored[..stored.len() - 1]),
                Err(Tampered)
            );
            // Swapping two full packages.
            let mut swapped = stored.clone();
            let (a, b) = swapped.split_at_mut(PACKAGE_STORED);
            a.swap_with_slice(&mut b[..PACKAGE_STORED]);
            assert_eq!(open_all(suite, 0, &swapped), Err(Tampered));
            // The same bytes read as another segment of the object.
            assert_eq!(open_all(suite, 1, &stored), Err(Tampered));
            // Trailing data after the final package.
            let mut extended = stored.clone();
            extended.extend_from_slice(&stored[..PACKAGE_STORED]);
            assert_eq!(open_all(suite, 0, &extended), Err(Tampered));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_flipped_bit_is_detected(len in 0usize..(2 * PACKAGE_PLAINTEXT + 100), pos in any::<prop::sample::Index>(), bit in 0u8..8, sm4 in any::<bool>()) {
            let suite = if sm4 { CipherSuite::Sm4Gcm } else { CipherSuite::Aes256Gcm };
            let data = vec![0xa5u8; len];
            let mut stored = seal_all(suite, &data);
            let i = pos.index(stored.len());
            stored[i] ^= 1 << bit;
            prop_assert_eq!(open_all(suite, 0, &stored), Err(Tampered));
        }
    }

    #[test]
    fn range_reads_start_at_any_package() {
        let suite = CipherSuite::Aes256Gcm;
        let data: Vec<u8> = (0..3 * PACKAGE_PLAINTEXT + 5)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut stored = seal_all(suite, &data);
        let offset = 2 * PACKAGE_PLAINTEXT as u64 + 3;
        let (index, at) = locate(offset);
        assert_eq!((index, at), (2, 2 * PACKAGE_STORED as u64));
        let mut opener = PackageOpener::new(key(suite, 0), index);
        let package = &mut stored[at as usize..at as usize + PACKAGE_STORED];
        let plain = opener.open(package).unwrap();
        assert_eq!(plain[3], data[offset as usize]);
    }
}
