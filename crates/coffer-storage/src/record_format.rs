//! How a metadata record is laid out in the database: a format version, then the record.
//!
//! Every value the metadata store writes (buckets, objects, uploads, parts) starts with one
//! byte naming its format version, followed by the record as JSON. Decoding dispatches on
//! that byte, so a later Coffer can change a record's shape and still read every value an
//! earlier one wrote: bumping [`CURRENT`] adds an arm to [`decode`] that reads the old
//! shape and converts it, the way Garage's `Migrate` modules chain versions. A value with
//! a version this build does not know is refused as corrupt, never guessed at.
//!
//! Values written before versions existed are bare JSON objects; their first byte is `{`,
//! which no version number uses, and they are read as version 1, whose shape they have.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{StorageError, StorageResult};

/// The format every record is written in.
pub const CURRENT: u8 = 1;
/// The first byte of a value written before format versions existed (a JSON object).
const UNVERSIONED: u8 = b'{';

/// The stored form of `record`: [`CURRENT`], then its JSON.
pub fn encode<T: Serialize>(record: &T) -> StorageResult<Vec<u8>> {
    let mut out = vec![CURRENT];
    serde_json::to_writer(&mut out, record).map_err(|e| StorageError::Corrupt {
        what: "new".to_owned(),
        detail: format!("cannot encode: {e}"),
    })?;
    Ok(out)
}

/// Reads a stored value of any known version as today's record; `what` names the record
/// kind in errors.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> StorageResult<T> {
    let corrupt = |detail: String| StorageError::Corrupt {
        what: what.to_owned(),
        detail,
    };
    let (version, body) = match bytes.split_first() {
        None => return Err(corrupt("empty value".to_owned())),
        Some((&UNVERSIONED, _)) => (1, bytes),
        Some((&version, body)) => (version, body),
    };
    match version {
        1 => serde_json::from_slice(body).map_err(|e| corrupt(e.to_string())),
        other => Err(corrupt(format!(
            "format version {other}; this build reads versions up to {CURRENT}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlobId;
    use crate::contract::meta::{bucket, object, part, upload};
    use crate::records::{BucketRecord, ObjectRecord, PartRecord, UploadRecord};

    #[test]
    fn records_round_trip_with_their_version_first() {
        let stored = encode(&bucket("b")).unwrap();
        assert_eq!(stored[0], CURRENT);
        assert_eq!(
            decode::<BucketRecord>("bucket", &stored).unwrap(),
            bucket("b")
        );
    }

    /// Both ways a record has been stored: bare JSON, as the metadata store wrote values
    /// before format versions existed, and version 1.
    fn stored_forms<T: Serialize>(record: &T) -> [Vec<u8>; 2] {
        let json = serde_json::to_vec(record).unwrap();
        let mut v1 = vec![1];
        v1.extend_from_slice(&json);
        [json, v1]
    }

    #[test]
    fn values_written_by_earlier_versions_still_read() {
        let blob = BlobId::random();
        for stored in stored_forms(&bucket("b")) {
            assert_eq!(
                decode::<BucketRecord>("bucket", &stored).unwrap(),
                bucket("b")
            );
        }
        let obj = object("k", 7, &[&blob]);
        for stored in stored_forms(&obj) {
            assert_eq!(decode::<ObjectRecord>("object", &stored).unwrap(), obj);
        }
        for stored in stored_forms(&upload("k", "u1")) {
            assert_eq!(
                decode::<UploadRecord>("upload", &stored).unwrap(),
                upload("k", "u1")
            );
        }
        for stored in stored_forms(&part(3, &blob)) {
            assert_eq!(
                decode::<PartRecord>("part", &stored).unwrap(),
                part(3, &blob)
            );
        }
        // A pinned legacy bucket value, typed in, not produced by today's code.
        let legacy = br#"{"name":"old","owner":"coffer-root","created_ms":1700000000000,"acl":"Private","storage_class":"Standard","data_redundancy_type":"LRS","encryption":null,"policy":null}"#;
        let read: BucketRecord = decode("bucket", legacy).unwrap();
        assert_eq!(
            (read.name.as_str(), read.created_ms),
            ("old", 1_700_000_000_000)
        );
    }

    /// An envelope as stored before customer-provided keys (SSE-C) added `key_verifier`,
    /// typed in rather than produced by today's code.
    const ENVELOPE_BEFORE_SSE_C: &str = r#"{"format":1,"method":"ServiceManaged","suite":"Sm4Gcm","key_id":"service","key_version":3,"wrapped_key":"00112233","salt":"0f0e0d0c0b0a09080706050403020100","bucket":"b","object":"k"}"#;

    #[test]
    fn encrypted_records_written_before_customer_keys_still_read() {
        let blob = BlobId::random();
        let plain_object = serde_json::to_string(&object("k", 7, &[&blob])).unwrap();
        let plain_upload = serde_json::to_string(&upload("k", "u1")).unwrap();
        let legacy = |json: &str| {
            assert!(json.contains(r#""encryption":null"#));
            json.replace(
                r#""encryption":null"#,
                &format!(r#""encryption":{ENVELOPE_BEFORE_SSE_C}"#),
            )
        };
        let obj = legacy(&plain_object);
        let up = legacy(&plain_upload);
        let mut v1 = vec![1];
        v1.extend_from_slice(obj.as_bytes());
        for stored in [obj.as_bytes(), v1.as_slice()] {
            let read: ObjectRecord = decode("object", stored).unwrap();
            let envelope = read.encryption.as_ref().unwrap();
            assert_eq!(envelope.method, coffer_crypto::SseMethod::ServiceManaged);
            assert_eq!(envelope.key_version, 3);
            assert_eq!(envelope.key_verifier, None);
            // Written again, it is the same bytes: managed envelopes did not change shape.
            assert_eq!(&encode(&read).unwrap()[1..], obj.as_bytes());
        }
        let read: UploadRecord = decode("upload", up.as_bytes()).unwrap();
        assert_eq!(
            read.encryption.unwrap().wrapped_key,
            [0x00, 0x11, 0x22, 0x33]
        );
    }

    #[test]
    fn unknown_versions_and_empty_values_are_corrupt_not_guessed() {
        let mut future = vec![CURRENT + 1];
        future.extend_from_slice(&serde_json::to_vec(&bucket("b")).unwrap());
        for bytes in [
            future.as_slice(),
            b"".as_slice(),
            b"\x01not json".as_slice(),
        ] {
            assert!(matches!(
                decode::<BucketRecord>("bucket", bytes),
                Err(StorageError::Corrupt { .. })
            ));
        }
    }
}
