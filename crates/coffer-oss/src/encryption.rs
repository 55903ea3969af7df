//! Server-side encryption in the OSS vocabulary: the three `x-oss-server-side-*` headers,
//! the bucket `?encryption` API, and how SSE and key errors are reported.

use coffer_service::{
    CipherSuite, EncryptionRule, Envelope, KmsDataEncryption, SseAlgorithm, SseMethod, SseRequest,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::body::{MAX_XML_BODY, RequestBody, ResponseBody, collect_small};
use crate::error::{ErrorCode, OssError, OssResult};
use crate::headers::header_str;
use crate::xml;
use crate::{OssApi, RequestContext, empty_response, xml_response};

pub const SSE: &str = "x-oss-server-side-encryption";
pub const SSE_DATA: &str = "x-oss-server-side-data-encryption";
pub const SSE_KEY_ID: &str = "x-oss-server-side-encryption-key-id";

fn invalid_algorithm() -> OssError {
    OssError::of(
        ErrorCode::InvalidEncryptionAlgorithm,
        "The encryption algorithm specified is not valid.",
    )
}

fn invalid_data_algorithm() -> OssError {
    OssError::of(
        ErrorCode::InvalidDataEncryptionAlgorithm,
        "The KMS Data Encryption request you specified is not valid. Supported value:SM4",
    )
}

/// Reads a write request's SSE headers. The data-encryption header matters only with
/// `KMS` (it is ignored otherwise, as OSS does), and so does the key id.
pub(crate) fn sse_request(headers: &HeaderMap) -> OssResult<Option<SseRequest>> {
    let Some(algorithm) = header_str(headers, SSE) else {
        return Ok(None);
    };
    let request = match SseAlgorithm::parse(algorithm).ok_or_else(invalid_algorithm)? {
        SseAlgorithm::Aes256 => SseRequest {
            method: SseMethod::ServiceManaged,
            suite: CipherSuite::Aes256Gcm,
            kms_key_id: None,
        },
        SseAlgorithm::Sm4 => SseRequest {
            method: SseMethod::ServiceManaged,
            suite: CipherSuite::Sm4Gcm,
            kms_key_id: None,
        },
        SseAlgorithm::Kms => {
            let suite = match header_str(headers, SSE_DATA).map(KmsDataEncryption::parse) {
                None => CipherSuite::Aes256Gcm,
                Some(Some(KmsDataEncryption::Sm4)) => CipherSuite::Sm4Gcm,
                Some(None | Some(KmsDataEncryption::Unknown(_))) => {
                    return Err(invalid_data_algorithm());
                }
            };
            let kms_key_id = match headers.get(SSE_KEY_ID) {
                None => None,
                Some(v) if v.as_bytes().iter().all(u8::is_ascii_whitespace) => {
                    return Err(OssError::of(
                        ErrorCode::EmptyKmsKeyId,
                        "The x-oss-server-side-encryption-key-id header must not be empty.",
                    ));
                }
                Some(v) => Some(
                    v.to_str()
                        .map_err(|_| {
                            OssError::of(
                                ErrorCode::InvalidKmsKeyId,
                                "The specified parameter KMS keyId is not valid",
                            )
                        })?
                        .trim()
                        .to_owned(),
                ),
            };
            SseRequest {
                method: SseMethod::Kms,
                suite,
                kms_key_id,
            }
        }
        SseAlgorithm::Unknown(_) => return Err(invalid_algorithm()),
    };
    Ok(Some(request))
}

/// UploadPart and CompleteMultipartUpload may not choose encryption: the upload did.
pub(crate) fn reject_sse_headers(headers: &HeaderMap) -> OssResult<()> {
    for name in [SSE, SSE_DATA, SSE_KEY_ID] {
        if headers.contains_key(name) {
            return Err(OssError::invalid_argument(
                name,
                header_str(headers, name).unwrap_or_default(),
                format!(
                    "The {name} header is only allowed when the multipart upload is initiated."
                ),
            ));
        }
    }
    Ok(())
}

/// The response headers that declare how an object (or upload) is encrypted.
pub(crate) fn declare(envelope: Option<&Envelope>, headers: &mut HeaderMap) {
    let Some(e) = envelope else { return };
    let (algorithm, data) = match (e.method, e.suite) {
        (SseMethod::ServiceManaged, CipherSuite::Aes256Gcm) => ("AES256", None),
        (SseMethod::ServiceManaged, CipherSuite::Sm4Gcm) => ("SM4", None),
        (SseMethod::Kms, CipherSuite::Aes256Gcm) => ("KMS", None),
        (SseMethod::Kms, CipherSuite::Sm4Gcm) => ("KMS", Some("SM4")),
        // OSS has no header for a customer-provided key, and never serves such objects.
        (SseMethod::CustomerProvided, _) => return,
    };
    headers.insert(SSE, HeaderValue::from_static(algorithm));
    if let Some(data) = data {
        headers.insert(SSE_DATA, HeaderValue::from_static(data));
    }
    if e.method == SseMethod::Kms
        && let Ok(v) = HeaderValue::from_str(&e.key_id)
    {
        headers.insert(SSE_KEY_ID, v);
    }
}

/// A bucket's default-encryption rule from PutBucket's SSE headers (§1.5).
pub(crate) fn rule_from_headers(headers: &HeaderMap) -> OssResult<Option<EncryptionRule>> {
    let Some(algorithm) = header_str(headers, SSE) else {
        return Ok(None);
    };
    let document = xml::ServerSideEncryptionRule {
        sse_algorithm: algorithm.to_owned(),
        kms_master_key_id: header_str(headers, SSE_KEY_ID)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        kms_data_encryption: header_str(headers, SSE_DATA).map(str::to_owned),
    };
    validate_rule(document).map(Some)
}

/// The validation table of PutBucketEncryption (§1.3): algorithm must be known; a key id
/// only with KMS; the data algorithm silently dropped unless KMS; key ids are not
/// checked against the KMS here.
fn validate_rule(rule: xml::ServerSideEncryptionRule) -> OssResult<EncryptionRule> {
    let algorithm = SseAlgorithm::parse(&rule.sse_algorithm).ok_or_else(|| {
        OssError::of(
            ErrorCode::InvalidEncryptionAlgorithm,
            "The Encryption request you specified is not valid. Supported value: AES256/SM4/KMS",
        )
    })?;
    let kms = algorithm == SseAlgorithm::Kms;
    if !kms && rule.kms_master_key_id.is_some() {
        return Err(OssError::invalid_argument(
            "KMSMasterKeyID",
            rule.kms_master_key_id.as_deref().unwrap_or_default(),
            "KMSMasterKeyID is not applicable if the default sse algorithm is not KMS",
        ));
    }
    let data = match rule.kms_data_encryption.filter(|_| kms) {
        None => None,
        Some(name) => Some(KmsDataEncryption::parse(&name).ok_or_else(invalid_data_algorithm)?),
    };
    Ok(EncryptionRule {
        algorithm,
        kms_key_id: rule.kms_master_key_id,
        kms_data_encryption: data,
    })
}

/// The rule as stored, for GetBucketEncryption and GetBucketInfo. A value this build
/// does not know is shown as it is, so the owner can see what to replace or delete.
pub(crate) fn rule_xml(rule: &EncryptionRule) -> xml::ServerSideEncryptionRule {
    xml::ServerSideEncryptionRule {
        sse_algorithm: rule.algorithm.as_str().to_owned(),
        kms_master_key_id: rule.kms_key_id.clone(),
        kms_data_encryption: rule
            .kms_data_encryption
            .as_ref()
            .map(|d| d.as_str().to_owned()),
    }
}

pub(crate) async fn put_bucket_encryption(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    let document = collect_small(body, MAX_XML_BODY).await?;
    let rule =
        xml::ServerSideEncryptionRule::parse(&document).map_err(|_| OssError::malformed_xml())?;
    let rule = validate_rule(rule)?;
    api.service
        .set_bucket_encryption(ctx.bucket(), Some(rule))
        .await?;
    Ok(empty_response(StatusCode::OK))
}

pub(crate) async fn get_bucket_encryption(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let bucket = api.service.get_bucket(ctx.bucket()).await?;
    match &bucket.encryption {
        Some(rule) => xml_response(rule_xml(rule).to_xml()),
        None => Err(OssError::of(
            ErrorCode::NoSuchServerSideEncryptionRule,
            "The server side encryption configuration was not found",
        )),
    }
}

pub(crate) async fn delete_bucket_encryption(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    api.service
        .set_bucket_encryption(ctx.bucket(), None)
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(algorithm: &str, data: Option<&str>) -> xml::ServerSideEncryptionRule {
        xml::ServerSideEncryptionRule {
            sse_algorithm: algorithm.into(),
            kms_master_key_id: None,
            kms_data_encryption: data.map(Into::into),
        }
    }

    #[test]
    fn a_valid_rule_is_typed_and_an_unknown_value_refused() {
        let rule = validate_rule(document("KMS", Some("SM4"))).unwrap();
        assert_eq!(
            (rule.algorithm, rule.kms_data_encryption),
            (SseAlgorithm::Kms, Some(KmsDataEncryption::Sm4))
        );
        // The data cipher is dropped unless KMS, as on OSS.
        let rule = validate_rule(document("SM4", Some("SM4"))).unwrap();
        assert_eq!(rule.kms_data_encryption, None);
        for (doc, code) in [
            (document("AES128", None), "InvalidEncryptionAlgorithmError"),
            (
                document("KMS", Some("SM3")),
                "InvalidDataEncryptionAlgorithmError",
            ),
        ] {
            let err = validate_rule(doc).unwrap_err();
            assert_eq!((err.status().as_u16(), err.code.as_str()), (400, code));
        }
    }

    #[test]
    fn a_stored_unknown_rule_renders_as_stored_and_fails_writes_with_500() {
        let rule = EncryptionRule {
            algorithm: SseAlgorithm::from("AES128".to_owned()),
            kms_key_id: None,
            kms_data_encryption: Some(KmsDataEncryption::from("SM3".to_owned())),
        };
        let shown = rule_xml(&rule);
        assert_eq!(shown.sse_algorithm, "AES128");
        assert_eq!(shown.kms_data_encryption.as_deref(), Some("SM3"));
        let refused = coffer_service::SseRequest::from_rule(&rule).unwrap_err();
        let err = OssError::from(refused);
        assert_eq!(
            (err.status().as_u16(), err.code.as_str()),
            (500, "InternalError")
        );
    }
}
