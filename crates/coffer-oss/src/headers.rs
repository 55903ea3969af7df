//! OSS header vocabulary: what a write request says about the object, and what responses
//! say about it.

use coffer_service::{BucketAcl, ObjectAcl, ObjectAttributes, ObjectKind, ObjectRecord};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use time::OffsetDateTime;

use crate::error::{ErrorCode, OssError, OssResult};

pub const META_PREFIX: &str = "x-oss-meta-";
/// Largest total size of user metadata (names and values).
pub const MAX_USER_META_BYTES: usize = 8 * 1024;

/// Standard headers stored with an object and returned on reads.
const STORED_HEADERS: &[&str] = &[
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
];

pub const STORAGE_CLASSES: &[&str] = &[
    "Standard",
    "IA",
    "Archive",
    "ColdArchive",
    "DeepColdArchive",
];

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn parse_bucket_acl(value: &str) -> OssResult<BucketAcl> {
    match value {
        "private" => Ok(BucketAcl::Private),
        "public-read" => Ok(BucketAcl::PublicRead),
        "public-read-write" => Ok(BucketAcl::PublicReadWrite),
        _ => Err(OssError::invalid_argument(
            "x-oss-acl",
            value,
            "no such bucket access control exists",
        )),
    }
}

pub fn parse_object_acl(value: &str) -> OssResult<ObjectAcl> {
    match value {
        "default" => Ok(ObjectAcl::Default),
        "private" => Ok(ObjectAcl::Private),
        "public-read" => Ok(ObjectAcl::PublicRead),
        "public-read-write" => Ok(ObjectAcl::PublicReadWrite),
        _ => Err(OssError::invalid_argument(
            "x-oss-object-acl",
            value,
            "no such object access control exists",
        )),
    }
}

pub fn bucket_acl_name(acl: BucketAcl) -> &'static str {
    match acl {
        BucketAcl::Private => "private",
        BucketAcl::PublicRead => "public-read",
        BucketAcl::PublicReadWrite => "public-read-write",
    }
}

pub fn object_acl_name(acl: ObjectAcl) -> &'static str {
    match acl {
        ObjectAcl::Default => "default",
        ObjectAcl::Private => "private",
        ObjectAcl::PublicRead => "public-read",
        ObjectAcl::PublicReadWrite => "public-read-write",
    }
}

pub fn parse_storage_class(value: &str) -> OssResult<String> {
    STORAGE_CLASSES
        .iter()
        .find(|c| c.eq_ignore_ascii_case(value))
        .map(|c| (*c).to_owned())
        .ok_or_else(|| {
            OssError::invalid_argument("x-oss-storage-class", value, "Invalid storage class.")
        })
}

/// The object attributes a PUT, append, copy (REPLACE) or initiate request sets.
pub fn object_attributes(headers: &HeaderMap) -> OssResult<ObjectAttributes> {
    let mut user_meta = Vec::new();
    let mut meta_bytes = 0;
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix(META_PREFIX) {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            meta_bytes += meta.len() + value.len();
            user_meta.push((meta.to_owned(), value));
        }
    }
    if meta_bytes > MAX_USER_META_BYTES {
        return Err(OssError::invalid_argument(
            "x-oss-meta-*",
            "",
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    user_meta.sort();
    let stored = STORED_HEADERS
        .iter()
        .filter_map(|name| header_str(headers, name).map(|v| ((*name).to_owned(), v.to_owned())))
        .collect();
    Ok(ObjectAttributes {
        content_type: header_str(headers, "content-type")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        headers: stored,
        user_meta,
        acl: header_str(headers, "x-oss-object-acl")
            .map(parse_object_acl)
            .transpose()?
            .unwrap_or_default(),
        storage_class: header_str(headers, "x-oss-storage-class")
            .map(parse_storage_class)
            .transpose()?,
    })
}

/// `Content-MD5`: base64 of the 16-byte digest.
pub fn content_md5(headers: &HeaderMap) -> OssResult<Option<[u8; 16]>> {
    use base64::Engine;
    let Some(value) = headers.get("content-md5") else {
        return Ok(None);
    };
    let invalid = || {
        OssError::of(
            ErrorCode::InvalidDigest,
            "The Content-MD5 you specified was invalid.",
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| invalid())?;
    decoded.try_into().map(Some).map_err(|_| invalid())
}

pub fn forbid_overwrite(headers: &HeaderMap) -> bool {
    header_str(headers, "x-oss-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}

pub fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    Some(OffsetDateTime::from(t))
}

pub fn quoted_etag(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub fn object_type_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Normal => "Normal",
        ObjectKind::Appendable => "Appendable",
        ObjectKind::Multipart => "Multipart",
    }
}

fn put(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        headers.insert(n, v);
    }
}

/// The headers GET and HEAD return for an object.
pub fn object_headers(object: &ObjectRecord, headers: &mut HeaderMap) {
    put(headers, "content-type", &object.content_type);
    put(headers, "etag", &quoted_etag(&object.etag));
    put(
        headers,
        "last-modified",
        &http_date(object.last_modified_ms),
    );
    put(headers, "x-oss-object-type", object_type_name(object.kind));
    put(headers, "x-oss-storage-class", &object.storage_class);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(crc) = object.crc64 {
        put(headers, "x-oss-hash-crc64ecma", &crc.to_string());
    }
    if let Some(md5) = &object.content_md5 {
        put(headers, "content-md5", md5);
    }
    if object.kind == ObjectKind::Appendable {
        put(
            headers,
            "x-oss-next-append-position",
            &object.size.to_string(),
        );
    }
    for (name, value) in &object.headers {
        put(headers, name, value);
    }
    for (name, value) in &object.user_meta {
        put(headers, &format!("{META_PREFIX}{name}"), value);
    }
}
