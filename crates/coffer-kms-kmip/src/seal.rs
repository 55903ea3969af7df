//! Sealing Coffer's root key with a KMIP key (`--root-key kmip:key=NAME`): the root key is
//! sent to the server's Encrypt once, when a data directory is created or its root key
//! rotated, and opened by Decrypt once per start. Only the sealed form is kept, in
//! `<data>/root-key.json`; without the KMIP server (and Coffer's client certificate),
//! nothing in the data directory opens.
//!
//! The sealed form names the key by its unique identifier, which never moves (a Name
//! can), and binds the purpose through the GCM additional data, so a wrapped data key can
//! never be presented as a root key:
//!
//! ```text
//! "KMIPROOT\x01" || len(uid) (u16 BE) || uid || nonce (12) || ciphertext (32) || tag (16)
//! ```

use coffer_service::KeyError;
use zeroize::Zeroizing;

use crate::protocol::{self, GcmInput, Operation, TAG_LEN, tag};
use crate::{KmipKms, NONCE_LEN, check_id, name_missing};

const MAGIC: &[u8] = b"KMIPROOT\x01";
const AAD: &[u8] = b"coffer/kmip/v1/root-key";

impl KmipKms {
    /// Seals a 32-byte root key under the key named `name`, created (and activated) if
    /// there is none.
    pub async fn seal_root_key(&self, name: &str, root: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
        let uid = self.find_or_create(name).await?;
        let nonce = self.random::<NONCE_LEN>()?;
        let input = GcmInput {
            uid: &uid,
            data: root,
            nonce: nonce.as_ref(),
            aad: AAD,
        };
        let payload = self
            .call(Operation::Encrypt, protocol::encrypt(&input), true)
            .await
            .map_err(|e| name_missing(e, &uid))?;
        let bad = |what: &str| KeyError::Unavailable(format!("kmip Encrypt answered {what}"));
        let ciphertext = protocol::bytes_of(&payload, tag::DATA).ok_or_else(|| bad("no data"))?;
        let auth_tag = protocol::bytes_of(&payload, tag::AUTHENTICATED_ENCRYPTION_TAG)
            .ok_or_else(|| bad("no authentication tag"))?;
        if ciphertext.len() != 32 || auth_tag.len() != TAG_LEN {
            return Err(bad("a ciphertext or tag of the wrong length"));
        }
        let uid_len = u16::try_from(uid.len()).map_err(|_| bad("an overlong identifier"))?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&uid_len.to_be_bytes());
        for part in [uid.as_bytes(), nonce.as_ref(), ciphertext, auth_tag] {
            out.extend_from_slice(part);
        }
        Ok(out)
    }

    /// Opens a root key sealed by [`KmipKms::seal_root_key`].
    pub async fn open_root_key(&self, sealed: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let (uid, nonce, ciphertext, auth_tag) =
            parse(sealed).ok_or(KeyError::InvalidCiphertext)?;
        check_id(uid)?;
        let input = GcmInput {
            uid,
            data: ciphertext,
            nonce,
            aad: AAD,
        };
        let payload = self
            .call(
                Operation::Decrypt,
                protocol::decrypt(&input, auth_tag),
                true,
            )
            .await
            .map_err(|e| name_missing(e, uid))?;
        let plain = protocol::bytes_of(&payload, tag::DATA).ok_or(KeyError::InvalidCiphertext)?;
        let key: Zeroizing<[u8; 32]> = Zeroizing::new(
            plain
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::InvalidCiphertext)?,
        );
        Ok(key)
    }
}

/// The sealed form's parts: identifier, nonce, ciphertext, tag.
type Parts<'a> = (&'a str, &'a [u8], &'a [u8], &'a [u8]);

fn parse(sealed: &[u8]) -> Option<Parts<'_>> {
    let rest = sealed.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() != len + NONCE_LEN + 32 + TAG_LEN {
        return None;
    }
    let (uid, rest) = rest.split_at(len);
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (ciphertext, auth_tag) = rest.split_at(32);
    Some((std::str::from_utf8(uid).ok()?, nonce, ciphertext, auth_tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sealed_form_parses_only_whole() {
        let mut sealed = MAGIC.to_vec();
        sealed.extend_from_slice(&3u16.to_be_bytes());
        sealed.extend_from_slice(b"uid");
        sealed.extend_from_slice(&[1; NONCE_LEN + 32 + TAG_LEN]);
        let (uid, nonce, ciphertext, auth_tag) = parse(&sealed).unwrap();
        assert_eq!(uid, "uid");
        assert_eq!(
            (nonce.len(), ciphertext.len(), auth_tag.len()),
            (12, 32, 16)
        );
        assert!(parse(&sealed[..sealed.len() - 1]).is_none());
        assert!(parse(&sealed[1..]).is_none());
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(parse(&longer).is_none());
    }
}
