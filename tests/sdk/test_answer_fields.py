"""Fields of OSS answers that the official SDKs (and the Node SDK) read: Location on
PutBucket/PutBucketAcl, Content-MD5 on UploadPart, the full GetBucketInfo document,
<Condition> on PreconditionFailed, the empty-region V4 credential error, headers honoured
by CompleteMultipartUpload, client-side-encryption settings in ListParts, and
ListMultipartUploads paging with a delimiter (reference §1.6, §3.4, §4.2, §5.2-§5.4)."""
import base64

import oss2
import pytest
import alibabacloud_oss_v2 as oss
from alibabacloud_oss_v2 import encryption_client as v2_encryption
from alibabacloud_oss_v2.crypto import MasterRsaCipher
from alibabacloud_oss_v2.crypto.aes_ctr_cipher import AESCtrCipherBuilder
from Crypto.PublicKey import RSA

import sdkhelpers as h

PART = 100 * h.KB
MISSING_ETAG = '"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"'
LONG_AGO = "Mon, 01 Jan 2001 00:00:00 GMT"


# ---------------------------------------------------------------- Location

def test_oss2_put_bucket_and_acl_answer_location(server, fresh_name, sig):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    r = b.create_bucket(oss2.BUCKET_ACL_PRIVATE)
    assert r.headers.get("Location") == "/" + name
    # PutBucket on a bucket you own modifies it, and answers the same way.
    assert b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ).headers.get("Location") == "/" + name
    r = b.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    assert r.status == 200
    assert r.headers.get("Location") == "/" + name


def test_v2_put_bucket_and_acl_answer_location(server, fresh_name, v2):
    name = fresh_name()
    r = v2.put_bucket(oss.PutBucketRequest(bucket=name))
    assert h.hget(r.headers, "Location") == "/" + name
    r = v2.put_bucket_acl(oss.PutBucketAclRequest(bucket=name, acl="public-read"))
    assert h.hget(r.headers, "Location") == "/" + name


# ---------------------------------------------------------------- UploadPart Content-MD5

@pytest.mark.parametrize("sse", ["none", "AES256"])
def test_oss2_upload_part_answers_content_md5(o2, sse):
    key = "mp/md5-" + sse
    init = o2.init_multipart_upload(key, headers=h.sse_headers(sse))
    chunk = h.rand_bytes(PART + 7)
    r = o2.upload_part(key, init.upload_id, 1, chunk)
    # The MD5 of the bytes sent, not of what is stored (the part may be encrypted).
    assert r.headers.get("Content-MD5") == h.md5_b64(chunk)
    assert r.etag == h.md5_hex_upper(chunk)
    o2.abort_multipart_upload(key, init.upload_id)


def test_v2_upload_part_answers_content_md5(v2, bucket_name):
    key = "mp/md5-v2"
    init = v2.initiate_multipart_upload(
        oss.InitiateMultipartUploadRequest(bucket=bucket_name, key=key))
    chunk = h.rand_bytes(1234)
    r = v2.upload_part(oss.UploadPartRequest(bucket=bucket_name, key=key, part_number=1,
                                             upload_id=init.upload_id, body=chunk))
    assert r.content_md5 == h.md5_b64(chunk)


# ---------------------------------------------------------------- GetBucketInfo

def test_oss2_bucket_info_carries_every_element(o2, bucket_name):
    info = o2.get_bucket_info()
    assert info.name == bucket_name
    # Present even when empty: oss2 reads an absent element as None, an empty one as ''.
    assert info.comment == ""
    assert info.resource_group_id == ""
    # What Coffer has: no access tracking, acceleration, replication or versioning.
    assert info.access_monitor == "Disabled"
    assert info.transfer_acceleration == "Disabled"
    assert info.cross_region_replication == "Disabled"
    assert info.data_redundancy_type == "LRS"
    assert info.versioning_status is None
    assert info.bucket_encryption_rule.sse_algorithm is None


def test_v2_bucket_info_carries_every_element(v2, bucket_name):
    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)).bucket_info
    assert info.name == bucket_name
    assert info.access_monitor == "Disabled"
    assert info.transfer_acceleration == "Disabled"
    assert info.cross_region_replication == "Disabled"
    assert info.data_redundancy_type == "LRS"
    assert info.block_public_access is False
    # Access logging is off: the BucketPolicy element is there, its children empty.
    assert info.bucket_policy is not None
    assert not info.bucket_policy.log_bucket and not info.bucket_policy.log_prefix
    assert info.versioning is None
    assert info.sse_rule.sse_algorithm == "None"


# ---------------------------------------------------------------- PreconditionFailed

def _put(o2, key, data=b"conditions"):
    return o2.put_object(key, data).etag


def test_oss2_get_and_head_name_the_failed_condition(o2):
    _put(o2, "c")
    for headers, condition in [({"If-Match": MISSING_ETAG}, "If-Match"),
                               ({"If-Unmodified-Since": LONG_AGO}, "If-Unmodified-Since")]:
        with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
            o2.get_object("c", headers=headers)
        assert ei.value.details.get("Condition") == condition
        # HEAD carries the document base64-encoded in x-oss-err.
        with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
            o2.head_object("c", headers=headers)
        assert ei.value.details.get("Condition") == condition


def test_v2_get_and_head_name_the_failed_condition(v2, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="c", body=b"x"))
    for kwargs, condition in [({"if_match": MISSING_ETAG}, "If-Match"),
                              ({"if_unmodified_since": LONG_AGO}, "If-Unmodified-Since")]:
        with pytest.raises(oss.exceptions.OperationError) as ei:
            v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", **kwargs))
        err = h.assert_v2_error(ei, 412, "PreconditionFailed")
        assert err.error_fileds.get("Condition") == condition
        with pytest.raises(oss.exceptions.OperationError) as ei:
            v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="c", **kwargs))
        err = h.assert_v2_error(ei, 412, "PreconditionFailed")
        assert err.error_fileds.get("Condition") == condition


def test_oss2_copy_and_part_copy_name_the_failed_source_condition(o2, bucket_name):
    _put(o2, "src", h.rand_bytes(PART))
    cases = [({"x-oss-copy-source-if-match": MISSING_ETAG}, "x-oss-copy-source-if-match"),
             ({"x-oss-copy-source-if-unmodified-since": LONG_AGO},
              "x-oss-copy-source-if-unmodified-since")]
    uid = o2.init_multipart_upload("dst-mp").upload_id
    for headers, condition in cases:
        with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
            o2.copy_object(bucket_name, "src", "dst", headers=headers)
        assert ei.value.details.get("Condition") == condition
        with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
            o2.upload_part_copy(bucket_name, "src", (0, 99), "dst-mp", uid, 1, headers=headers)
        assert ei.value.details.get("Condition") == condition
    o2.abort_multipart_upload("dst-mp", uid)


def test_v2_copy_and_part_copy_name_the_failed_source_condition(v2, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="src", body=b"y" * 200))
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="dst", source_key="src",
                                             if_unmodified_since=LONG_AGO))
    err = h.assert_v2_error(ei, 412, "PreconditionFailed")
    assert err.error_fileds.get("Condition") == "x-oss-copy-source-if-unmodified-since"
    uid = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key="dst-mp")).upload_id
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.upload_part_copy(oss.UploadPartCopyRequest(
            bucket=bucket_name, key="dst-mp", source_key="src", upload_id=uid, part_number=1,
            if_match=MISSING_ETAG))
    err = h.assert_v2_error(ei, 412, "PreconditionFailed")
    assert err.error_fileds.get("Condition") == "x-oss-copy-source-if-match"


# ---------------------------------------------------------------- V4 credential region

def test_oss2_v4_url_signed_without_region(server, bucket_name):
    """oss2 signs V4 URLs with an empty region when the bucket has none; OSS refuses with
    the message oss2's real-server test records (test_sign_v4_no_region)."""
    auth = oss2.AuthV4(server.access_key_id, server.access_key_secret)
    no_region = oss2.Bucket(auth, server.endpoint, bucket_name)
    url = no_region.sign_url("PUT", "v4-no-region.txt", 600, slash_safe=True)
    assert "%2F%2Foss%2Faliyun_v4_request" in url
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        no_region.put_object_with_url(url, b"Hello OSS")
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")
    assert ei.value.message == "The signing region in credential is invalid."
    assert ei.value.ec == "0002-00000228"


# ---------------------------------------------------------------- CompleteMultipartUpload

def _one_part_upload(o2, key, headers=None):
    uid = o2.init_multipart_upload(key, headers=headers).upload_id
    r = o2.upload_part(key, uid, 1, b"part")
    return uid, [oss2.models.PartInfo(1, r.etag)]


def test_oss2_complete_honours_object_acl(o2):
    uid, parts = _one_part_upload(o2, "acl/a", headers={"x-oss-object-acl": "private"})
    o2.complete_multipart_upload("acl/a", uid, parts,
                                 headers={"x-oss-object-acl": "public-read"})
    assert o2.get_object_acl("acl/a").acl == "public-read"
    # Without the header the ACL given at initiation stands.
    uid, parts = _one_part_upload(o2, "acl/b", headers={"x-oss-object-acl": "private"})
    o2.complete_multipart_upload("acl/b", uid, parts)
    assert o2.get_object_acl("acl/b").acl == "private"


def test_oss2_complete_rejects_a_bad_object_acl_and_keeps_the_upload(o2):
    uid, parts = _one_part_upload(o2, "acl/bad")
    with pytest.raises(oss2.exceptions.InvalidArgument) as ei:
        o2.complete_multipart_upload("acl/bad", uid, parts,
                                     headers={"x-oss-object-acl": "everyone"})
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")
    assert ei.value.details.get("ArgumentName") == "x-oss-object-acl"
    assert [p.part_number for p in o2.list_parts("acl/bad", uid).parts] == [1]
    o2.complete_multipart_upload("acl/bad", uid, parts)
    assert o2.get_object_acl("acl/bad").acl == "default"


def test_v2_complete_honours_acl_and_complete_all(v2, bucket_name):
    key = "acl/v2"
    uid = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key=key)).upload_id
    v2.upload_part(oss.UploadPartRequest(bucket=bucket_name, key=key, part_number=1,
                                         upload_id=uid, body=b"all"))
    r = v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key=key, upload_id=uid, acl="public-read-write",
        complete_all="yes"))
    assert r.status_code == 200
    acl = v2.get_object_acl(oss.GetObjectAclRequest(bucket=bucket_name, key=key))
    assert acl.acl == "public-read-write"


# ---------------------------------------------------------------- ListParts and CSE

def _rsa_pair():
    key = RSA.generate(2048)
    return key.publickey().export_key().decode(), key.export_key().decode()


def test_oss2_crypto_bucket_multipart_round_trip(server, bucket_name, sig):
    public, private = _rsa_pair()
    provider = oss2.RsaProvider(key_pair={"public_key": public, "private_key": private})
    auth = h.oss2_auth(sig, server.access_key_id, server.access_key_secret)
    cb = oss2.CryptoBucket(auth, server.endpoint, bucket_name, crypto_provider=provider,
                           region=h.REGION)
    data = h.rand_bytes(2 * PART + 99)
    context = oss2.models.MultipartUploadCryptoContext(data_size=len(data), part_size=PART)
    key = "cse/oss2"
    uid = cb.init_multipart_upload(key, upload_context=context).upload_id
    parts = []
    for n, at in enumerate(range(0, len(data), PART), 1):
        r = cb.upload_part(key, uid, n, data[at:at + PART], upload_context=context)
        parts.append(oss2.models.PartInfo(n, r.etag))
    listed = cb.list_parts(key, uid)
    assert [p.part_number for p in listed.parts] == [1, 2, 3]
    # The settings the crypto client stored at initiation come back in ListParts.
    v2 = h.v2_client(server)
    lp = v2.list_parts(oss.ListPartsRequest(bucket=bucket_name, key=key, upload_id=uid))
    material = context.content_crypto_material
    assert base64.b64decode(lp.client_encryption_key) == material.encrypted_key
    assert base64.b64decode(lp.client_encryption_start) == material.encrypted_iv
    assert lp.client_encryption_cek_alg == material.cek_alg
    assert lp.client_encryption_wrap_alg == material.wrap_alg
    assert lp.client_encryption_data_size == len(data)
    assert lp.client_encryption_part_size == PART
    cb.complete_multipart_upload(key, uid, parts)
    assert cb.get_object(key).read() == data
    # What is stored is ciphertext.
    plain = h.oss2_bucket(server, bucket_name, sig)
    assert plain.get_object(key).read() != data


def test_v2_encryption_client_resumes_an_upload_from_list_parts(server, bucket_name, v2):
    public, private = _rsa_pair()
    master = MasterRsaCipher(mat_desc={"tag": "coffer"}, public_key=public,
                             private_key=private)
    ec = oss.EncryptionClient(v2, master)
    data = h.rand_bytes(2 * PART + 5)
    key = "cse/v2"
    init = ec.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key=key, cse_part_size=PART, cse_data_size=len(data)))
    first = ec.upload_part(oss.UploadPartRequest(
        bucket=bucket_name, key=key, upload_id=init.upload_id, part_number=1,
        body=data[:PART], cse_multipart_context=init.cse_multipart_context))
    # A new client, with only the upload id, rebuilds the upload's cipher from ListParts.
    lp = ec.list_parts(oss.ListPartsRequest(bucket=bucket_name, key=key,
                                            upload_id=init.upload_id))
    envelope = v2_encryption._get_envelope_from_list_parts(lp)
    resumed = v2_encryption.EncryptionMultiPartContext(
        content_cipher=AESCtrCipherBuilder(master).content_cipher_from_env(envelope),
        data_size=lp.client_encryption_data_size,
        part_size=lp.client_encryption_part_size)
    parts = [oss.UploadPart(part_number=1, etag=first.etag)]
    for n, at in [(2, PART), (3, 2 * PART)]:
        r = ec.upload_part(oss.UploadPartRequest(
            bucket=bucket_name, key=key, upload_id=init.upload_id, part_number=n,
            body=data[at:at + PART], cse_multipart_context=resumed))
        parts.append(oss.UploadPart(part_number=n, etag=r.etag))
    ec.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key=key, upload_id=init.upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=parts)))
    got = ec.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
    assert got.body.read() == data


def test_list_parts_without_cse_has_no_cse_elements(v2, bucket_name):
    uid = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key="plain", headers={"x-oss-meta-client-side": "x"})).upload_id
    lp = v2.list_parts(oss.ListPartsRequest(bucket=bucket_name, key="plain", upload_id=uid))
    assert lp.client_encryption_key is None and lp.client_encryption_part_size is None


# ---------------------------------------------------------------- ListMultipartUploads

UPLOAD_KEYS = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/1"]


def _start_uploads(o2):
    for key in UPLOAD_KEYS:
        o2.init_multipart_upload(key)


def test_oss2_list_uploads_pages_never_repeat_a_common_prefix(o2):
    _start_uploads(o2)
    o2.init_multipart_upload("a/1")  # two uploads of one key, both under "a/"
    seen, key_marker, id_marker = [], "", ""
    for _ in range(10):
        r = o2.list_multipart_uploads(delimiter="/", max_uploads=1, key_marker=key_marker,
                                      upload_id_marker=id_marker)
        seen += r.prefix_list + [u.key for u in r.upload_list]
        if not r.is_truncated:
            break
        key_marker, id_marker = r.next_key_marker, r.next_upload_id_marker
    assert seen == ["a/", "b/", "c", "d/"]


def test_v2_list_uploads_pages_never_repeat_a_common_prefix(v2, o2, bucket_name):
    """v2 does not parse CommonPrefixes, but it reads the markers: each page's
    NextKeyMarker is the common prefix or key it ended with, and no page starts over."""
    _start_uploads(o2)
    markers, uploads, key_marker, id_marker = [], [], None, None
    for _ in range(10):
        r = v2.list_multipart_uploads(oss.ListMultipartUploadsRequest(
            bucket=bucket_name, delimiter="/", max_uploads=1, key_marker=key_marker,
            upload_id_marker=id_marker))
        uploads += [u.key for u in (r.uploads or [])]
        if not r.is_truncated:
            break
        key_marker, id_marker = r.next_key_marker, r.next_upload_id_marker
        markers.append(key_marker)
    assert markers == ["a/", "b/", "c"]
    assert uploads == ["c"]
