//! The actions a policy may name.

use crate::wildcard;

/// Every OSS action Coffer authorizes, as named in RAM and bucket policies.
///
/// How operations map to actions (the server does the mapping): PutObject, PostObject,
/// AppendObject, InitiateMultipartUpload, UploadPart, CompleteMultipartUpload and PutSymlink are
/// `oss:PutObject`; GetObject, HeadObject, GetObjectMeta and GetSymlink are `oss:GetObject`;
/// DeleteObject and DeleteMultipleObjects are `oss:DeleteObject`; CopyObject and UploadPartCopy
/// need `oss:GetObject` on the source and `oss:PutObject` on the destination; ListObjects V1 and
/// V2 are `oss:ListObjects`; an object operation with `versionId` uses the `…Version…` action.
pub const OSS_ACTIONS: &[&str] = &[
    // Service level.
    "oss:ListBuckets",
    // Bucket level.
    "oss:PutBucket",
    "oss:DeleteBucket",
    "oss:GetBucketInfo",
    "oss:GetBucketLocation",
    "oss:GetBucketStat",
    "oss:ListObjects",
    "oss:ListObjectVersions",
    "oss:ListMultipartUploads",
    "oss:PutBucketAcl",
    "oss:GetBucketAcl",
    "oss:PutBucketEncryption",
    "oss:GetBucketEncryption",
    "oss:DeleteBucketEncryption",
    "oss:PutBucketPolicy",
    "oss:GetBucketPolicy",
    "oss:DeleteBucketPolicy",
    "oss:PutBucketTagging",
    "oss:GetBucketTagging",
    "oss:DeleteBucketTagging",
    "oss:PutBucketVersioning",
    "oss:GetBucketVersioning",
    // Object level.
    "oss:PutObject",
    "oss:GetObject",
    "oss:DeleteObject",
    "oss:ListParts",
    "oss:AbortMultipartUpload",
    "oss:PutObjectAcl",
    "oss:GetObjectAcl",
    "oss:PutObjectTagging",
    "oss:GetObjectTagging",
    "oss:DeleteObjectTagging",
    "oss:RestoreObject",
    "oss:GetObjectVersion",
    "oss:DeleteObjectVersion",
    "oss:PutObjectVersionAcl",
    "oss:GetObjectVersionAcl",
    "oss:PutObjectVersionTagging",
    "oss:GetObjectVersionTagging",
    "oss:DeleteObjectVersionTagging",
];

/// Every KMS action Coffer authorizes (Alibaba Cloud KMS names).
///
/// SSE-KMS needs, on the CMK: `kms:GenerateDataKey` (and `kms:Decrypt`, which the OSS docs list
/// with it) to write, `kms:Decrypt` to read; PutBucketEncryption with a CMK id needs
/// `kms:DescribeKey` and the `kms:List*` actions. Key rotation is `kms:CreateKeyVersion`.
pub const KMS_ACTIONS: &[&str] = &[
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:ListKeys",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:CreateKeyVersion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:ListAliases",
    "kms:ListAliasesByKeyId",
    "kms:GenerateDataKey",
    "kms:Decrypt",
];

/// Whether `pattern` (lower-cased, may hold `*` and `?`) names at least one action of `list`.
pub(crate) fn matches_any(pattern_lc: &str, list: &[&str]) -> bool {
    list.iter()
        .any(|a| wildcard::matches(pattern_lc, &a.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_well_formed_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for a in OSS_ACTIONS.iter().chain(KMS_ACTIONS) {
            let (svc, name) = a.split_once(':').unwrap();
            assert!(svc == "oss" || svc == "kms");
            assert!(name.chars().all(|c| c.is_ascii_alphabetic()), "{a}");
            assert!(seen.insert(a.to_ascii_lowercase()), "duplicate {a}");
        }
        assert!(matches_any("kms:list*", KMS_ACTIONS));
        assert!(!matches_any("oss:foo", OSS_ACTIONS));
    }
}
