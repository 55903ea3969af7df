//! The client-side-encryption elements of `ListPartsResult`.
//!
//! The SDKs' encryption clients (oss2's `CryptoBucket`, alibabacloud-oss-v2's
//! `EncryptionClient`) store their wrapped content key and settings as
//! `x-oss-meta-client-side-encryption-*` metadata when they initiate an upload; OSS reports
//! them back in ListParts so a client can resume the upload with the same key.

use super::Doc;

/// User-metadata names (without `x-oss-meta-`) and the ListParts elements that carry them.
const ELEMENTS: [(&str, &str); 6] = [
    ("client-side-encryption-key", "ClientEncryptionKey"),
    ("client-side-encryption-start", "ClientEncryptionStart"),
    ("client-side-encryption-cek-alg", "ClientEncryptionCekAlg"),
    ("client-side-encryption-wrap-alg", "ClientEncryptionWrapAlg"),
    (
        "client-side-encryption-data-size",
        "ClientEncryptionDataSize",
    ),
    (
        "client-side-encryption-part-size",
        "ClientEncryptionPartSize",
    ),
];

/// An upload's client-side-encryption settings, as its initiator gave them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientEncryption {
    /// `(element name, value)` in the order OSS writes them.
    elements: Vec<(&'static str, String)>,
}

impl ClientEncryption {
    /// Picks the settings out of an upload's user metadata (lower-case names without
    /// `x-oss-meta-`); `None` when the upload was not initiated by an encryption client.
    pub fn from_user_meta(meta: &[(String, String)]) -> Option<Self> {
        let value = |name: &str| {
            meta.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        value(ELEMENTS[0].0)?;
        let elements = ELEMENTS
            .iter()
            .filter_map(|(meta_name, element)| Some((*element, value(meta_name)?)))
            .collect();
        Some(ClientEncryption { elements })
    }

    pub(super) fn render(&self, d: &mut Doc) {
        for (element, value) in &self.elements {
            d.text(element, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_uploads_with_a_key_have_settings() {
        assert_eq!(
            ClientEncryption::from_user_meta(&meta(&[("client-side-encryption-start", "x")])),
            None
        );
        assert_eq!(ClientEncryption::from_user_meta(&[]), None);
    }

    #[test]
    fn elements_follow_the_oss_order() {
        let found = ClientEncryption::from_user_meta(&meta(&[
            ("client-side-encryption-part-size", "102400"),
            ("other", "x"),
            ("client-side-encryption-key", "a2V5"),
            ("client-side-encryption-cek-alg", "AES/CTR/NoPadding"),
        ]))
        .unwrap_or_default();
        let mut d = Doc::new("R");
        found.render(&mut d);
        assert!(d.finish("R").ends_with(
            "<R><ClientEncryptionKey>a2V5</ClientEncryptionKey>\
             <ClientEncryptionCekAlg>AES/CTR/NoPadding</ClientEncryptionCekAlg>\
             <ClientEncryptionPartSize>102400</ClientEncryptionPartSize></R>"
        ));
    }
}
