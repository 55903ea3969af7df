//! The test vectors published in docs/encryption-format.md, computed independently with
//! OpenSSL (Python `cryptography`). If one of these changes, the on-disk format changed:
//! bump the format version instead.

use coffer_crypto::keys::segment_key_bytes;
use coffer_crypto::package::PackageSealer;
use coffer_crypto::{CipherSuite, DataKey, PackageOpener, SegmentKey};

fn data_key() -> DataKey {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    DataKey::from_bytes(k)
}

const SALT: [u8; 16] = [
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
];

fn sealed(suite: CipherSuite, segment: u32, plaintext: &[u8]) -> Vec<u8> {
    let mut sealer = PackageSealer::new(SegmentKey::derive(&data_key(), &SALT, suite, segment));
    let mut out = Vec::new();
    sealer.seal_into(plaintext, true, &mut out);
    out
}

fn vector(suite: CipherSuite, segment: u32, plaintext: &[u8]) -> (String, String) {
    (
        hex::encode(segment_key_bytes(&data_key(), &SALT, suite, segment)),
        hex::encode(sealed(suite, segment, plaintext)),
    )
}

#[test]
fn published_vectors_hold() {
    let cases: [(CipherSuite, u32, &[u8], &str, &str); 4] = [
        (
            CipherSuite::Aes256Gcm,
            0,
            b"coffer",
            AES_SEG0_KEY,
            AES_SEG0_PACKAGE,
        ),
        (
            CipherSuite::Aes256Gcm,
            3,
            b"coffer",
            AES_SEG3_KEY,
            AES_SEG3_PACKAGE,
        ),
        (
            CipherSuite::Sm4Gcm,
            0,
            b"coffer",
            SM4_SEG0_KEY,
            SM4_SEG0_PACKAGE,
        ),
        (
            CipherSuite::Aes256Gcm,
            0,
            b"",
            AES_SEG0_KEY,
            AES_EMPTY_PACKAGE,
        ),
    ];
    for (suite, segment, text, key, package) in cases {
        let (k, p) = vector(suite, segment, text);
        assert_eq!(
            (k.as_str(), p.as_str()),
            (key, package),
            "{suite:?} segment {segment}"
        );
        let mut stored = hex::decode(package).unwrap();
        let mut opener =
            PackageOpener::new(SegmentKey::derive(&data_key(), &SALT, suite, segment), 0);
        assert_eq!(opener.open(&mut stored).unwrap(), text);
        assert!(opener.is_finished());
    }
}

const AES_SEG0_KEY: &str = "3cbb864765f6bcfb5001c3e1344c8f627c1c0b63a09e1cfa337ce2c1a831ced7";
const AES_SEG0_PACKAGE: &str = "c0010101000000067db31ac4fcf7e1ba08331ef8d5ec8d01f003e7255bc3";
const AES_SEG3_KEY: &str = "acf97f15b86820617e0835c27fbd36fb15a9d7c827f83f3f83841b9ac9f3bece";
const AES_SEG3_PACKAGE: &str = "c00101010000000680017ef57de976bfdf27f94235cf1723ab2778f08aaf";
const SM4_SEG0_KEY: &str = "63280ac40d92cb9b56346425f5f63354";
const SM4_SEG0_PACKAGE: &str = "c001020100000006c902703997bffba6aab47472802f8e4c6ff1e398f5d2";
const AES_EMPTY_PACKAGE: &str = "c001010100000000b3287adb5d22c3ed1780408ce285aeda";
