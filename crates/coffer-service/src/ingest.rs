//! The write path's one loop: body frames in, one durable blob out, with the digests
//! every dialect reports computed on the way.

use std::pin::Pin;

use bytes::Bytes;
use coffer_crypto::{PACKAGE_PLAINTEXT, PackageSealer};
use coffer_storage::{BlobId, BlobStore};
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::error::{ServiceError, ServiceResult};

/// Why a request body stream stopped early.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

/// A request body. The dialect adapts its HTTP body into this; a stream that ends early
/// must yield an error rather than end, so a truncated upload is never stored.
pub type Body = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

pub(crate) struct Ingested {
    pub blob: BlobId,
    pub size: u64,
    pub md5: [u8; 16],
    pub crc64: u64,
}

/// Streams `body` into a new blob and commits it. Nothing is committed if the body is
/// longer than `max_size`, fails, or does not match `expected_md5`.
///
/// With a `sealer`, the blob holds sealed packages instead of the body: plaintext is
/// gathered into package-sized pieces in memory and only ever written sealed. Digests are
/// always of the plaintext, which is what clients check.
pub(crate) async fn ingest(
    blobs: &dyn BlobStore,
    mut body: Body,
    max_size: u64,
    expected_md5: Option<[u8; 16]>,
    mut sealer: Option<PackageSealer>,
) -> ServiceResult<Ingested> {
    let mut writer = blobs.create().await?;
    let mut md5 = Md5::new();
    let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz);
    let mut size: u64 = 0;
    // Plaintext waiting to be sealed. A full package is held back until more data or the
    // end arrives, because only then is it known whether it is the final one.
    let mut pending = Zeroizing::new(Vec::with_capacity(if sealer.is_some() {
        PACKAGE_PLAINTEXT
    } else {
        0
    }));
    let mut sealed = Vec::new();
    let outcome: ServiceResult<()> = async {
        while let Some(frame) = body.next().await {
            let frame = frame.map_err(|e| ServiceError::IncompleteBody(e.0))?;
            size += frame.len() as u64;
            if size > max_size {
                return Err(ServiceError::EntityTooLarge);
            }
            md5.update(&frame);
            crc.update(&frame);
            let Some(sealer) = sealer.as_mut() else {
                writer.write(&frame).await?;
                continue;
            };
            let mut rest = &frame[..];
            while !rest.is_empty() {
                if pending.len() == PACKAGE_PLAINTEXT {
                    sealed.clear();
                    sealer.seal_into(&pending, false, &mut sealed);
                    pending.clear();
                    writer.write(&sealed).await?;
                }
                let take = (PACKAGE_PLAINTEXT - pending.len()).min(rest.len());
                pending.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
            }
        }
        if let Some(sealer) = sealer.as_mut() {
            sealed.clear();
            sealer.seal_into(&pending, true, &mut sealed);
            writer.write(&sealed).await?;
        }
        Ok(())
    }
    .await;
    let md5: [u8; 16] = md5.finalize().into();
    let outcome = outcome.and_then(|()| match expected_md5 {
        Some(expected) if expected != md5 => Err(ServiceError::BadDigest),
        _ => Ok(()),
    });
    if let Err(e) = outcome {
        writer.abort().await;
        return Err(e);
    }
    let blob = writer.commit().await?;
    Ok(Ingested {
        blob,
        size,
        md5,
        crc64: crc.finalize(),
    })
}

/// Upper-case hex, the form OSS ETags take.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// CRC-64/XZ of `a` followed by `b`, from the two CRCs and `b`'s length.
pub(crate) fn crc64_combine(a: u64, b: u64, b_len: u64) -> u64 {
    crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc64Xz, a, b, b_len)
}
