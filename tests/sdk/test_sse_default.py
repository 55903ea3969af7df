"""Precedence between the bucket default encryption and object-level SSE headers
(reference §2.2, §2.3, §8.6): the default applies to every upload without SSE headers
(PutObject, AppendObject, multipart, CopyObject), an object header beats it, and changing or
deleting it does not touch existing objects."""
import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

DEFAULTS = ["AES256", "SM4", "KMS", "KMS+SM4"]
PART = 100 * h.KB


@pytest.fixture
def src_bucket(server, make_bucket):
    """A second bucket, without default encryption, holding a plain and a KMS object."""
    name = make_bucket(prefix="src")
    b = h.oss2_bucket(server, name)
    data = h.rand_bytes(70 * h.KB)
    b.put_object("plain", data, headers={"x-oss-meta-from": "src"})
    b.put_object("kms", data, headers=dict(h.sse_headers("KMS+SM4"), **{"x-oss-meta-from": "src"}))
    return name, data


@pytest.mark.parametrize("default", DEFAULTS)
def test_default_applies_to_uploads_without_headers(o2, bucket_name, src_bucket, default):
    o2.put_bucket_encryption(h.sse_rule(default))
    src_name, src_data = src_bucket

    # PutObject
    data = h.rand_bytes(70 * h.KB)
    r = o2.put_object("put", data)
    key_id = h.assert_sse(r.headers, default, what="PutObject")
    assert r.crc == h.crc64(data)
    g = o2.get_object("put")
    assert g.read() == data
    h.assert_sse(g.headers, default, key_id, what="GET put")

    # AppendObject
    r1 = o2.append_object("app", 0, data[:1000], init_crc=0)
    h.assert_sse(r1.headers, default, key_id, what="first append")
    r2 = o2.append_object("app", 1000, data[1000:], init_crc=r1.crc)
    h.assert_sse(r2.headers, default, key_id, what="second append")
    assert r2.crc == h.crc64(data)
    g = o2.get_object("app")
    assert g.read() == data
    h.assert_sse(g.headers, default, key_id, what="GET app")

    # Multipart
    init = o2.init_multipart_upload("mp")
    h.assert_sse(init.headers, default, key_id, what="InitiateMultipartUpload")
    chunks = [h.rand_bytes(PART), b"tail"]
    parts = []
    for i, c in enumerate(chunks, 1):
        r = o2.upload_part("mp", init.upload_id, i, c)
        h.assert_sse(r.headers, default, key_id, what="UploadPart")
        parts.append(oss2.models.PartInfo(i, r.etag, size=len(c), part_crc=r.crc))
    done = o2.complete_multipart_upload("mp", init.upload_id, parts)
    h.assert_sse(done.headers, default, key_id, what="Complete")
    g = o2.get_object("mp")
    assert g.read() == b"".join(chunks)
    h.assert_sse(g.headers, default, key_id, what="GET mp")

    # CopyObject without SSE headers into this bucket: §8.6 [INFERRED] gets the default,
    # whatever the source (plain, or KMS+SM4 in a bucket without default).
    for src_key in ("plain", "kms"):
        r = o2.copy_object(src_name, src_key, "copy-" + src_key)
        h.assert_sse(r.headers, default, key_id, what="CopyObject from " + src_key)
        g = o2.get_object("copy-" + src_key)
        assert g.read() == src_data
        h.assert_sse(g.headers, default, key_id, what="GET copy-" + src_key)
        assert g.headers["x-oss-meta-from"] == "src"


@pytest.mark.parametrize("default,explicit", [
    ("KMS", "AES256"),
    ("KMS+SM4", "SM4"),
    ("AES256", "KMS+SM4"),
    ("SM4", "KMS"),
    ("AES256", "SM4"),
    ("KMS", "KMS+SM4"),
    ("KMS+SM4", "KMS"),
])
def test_object_header_beats_default(o2, bucket_name, default, explicit):
    o2.put_bucket_encryption(h.sse_rule(default))
    hdrs = h.sse_headers(explicit)
    data = h.rand_bytes(5000)

    r = o2.put_object("put", data, headers=hdrs)
    h.assert_sse(r.headers, explicit, what="PutObject")
    h.assert_sse(o2.head_object("put").headers, explicit, what="HEAD put")
    assert o2.get_object("put").read() == data

    r = o2.append_object("app", 0, data, headers=hdrs)
    h.assert_sse(r.headers, explicit, what="AppendObject")

    init = o2.init_multipart_upload("mp", headers=hdrs)
    h.assert_sse(init.headers, explicit, what="Initiate")
    p = o2.upload_part("mp", init.upload_id, 1, data)
    o2.complete_multipart_upload("mp", init.upload_id, [oss2.models.PartInfo(1, p.etag)])
    h.assert_sse(o2.head_object("mp").headers, explicit, what="HEAD mp")

    o2.put_object("src", data)
    r = o2.copy_object(bucket_name, "src", "copy", headers=hdrs)
    h.assert_sse(r.headers, explicit, what="CopyObject")
    h.assert_sse(o2.head_object("copy").headers, explicit, what="HEAD copy")
    assert o2.get_object("copy").read() == data


def test_v2_default_and_override(v2, bucket_name):
    v2.put_bucket_encryption(oss.PutBucketEncryptionRequest(
        bucket=bucket_name, server_side_encryption_rule=oss.ServerSideEncryptionRule(
            apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
                sse_algorithm="SM4"))))
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="d", body=b"default"))
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"kms",
                                       **h.sse_v2_kwargs("KMS")))
    h.assert_sse_v2(v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="d")), "SM4")
    h.assert_sse_v2(v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="k")), "KMS")
    r = v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="a", position=0,
                                                 body=b"append"))
    h.assert_sse_v2(r, "SM4")
    r = v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="c", source_key="k"))
    h.assert_sse_v2(r, "SM4", what="copy of a KMS object into an SM4-default bucket")
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c"))
    assert g.body.read() == b"kms"
    h.assert_sse_v2(g, "SM4")


def test_changing_or_deleting_default_keeps_existing_objects(o2):
    data = {}
    o2.put_bucket_encryption(h.sse_rule("AES256"))
    data["a"] = h.rand_bytes(3000)
    o2.put_object("a", data["a"])

    o2.put_bucket_encryption(h.sse_rule("KMS+SM4"))
    data["b"] = h.rand_bytes(3000)
    kid = h.assert_sse(o2.put_object("b", data["b"]).headers, "KMS+SM4")
    h.assert_sse(o2.head_object("a").headers, "AES256", what="a after change")

    o2.delete_bucket_encryption()
    data["c"] = h.rand_bytes(3000)
    h.assert_sse(o2.put_object("c", data["c"]).headers, "none")

    expected = {"a": "AES256", "b": "KMS+SM4", "c": "none"}
    for k, m in expected.items():
        g = o2.get_object(k)
        assert g.read() == data[k], k
        h.assert_sse(g.headers, m, kid if m.startswith("KMS") else None, what=k)


def test_upload_fixes_sse_at_initiate(o2):
    # §2.3: Initiate fixes SSE for the whole upload; a default changed mid-upload does not
    # change it.
    o2.put_bucket_encryption(h.sse_rule("SM4"))
    init = o2.init_multipart_upload("mp")
    h.assert_sse(init.headers, "SM4")
    o2.put_bucket_encryption(h.sse_rule("KMS"))
    p = o2.upload_part("mp", init.upload_id, 1, b"part")
    h.assert_sse(p.headers, "SM4", what="UploadPart after default change")
    done = o2.complete_multipart_upload("mp", init.upload_id, [oss2.models.PartInfo(1, p.etag)])
    h.assert_sse(done.headers, "SM4", what="Complete after default change")
    g = o2.get_object("mp")
    assert g.read() == b"part"
    h.assert_sse(g.headers, "SM4")


def test_appendable_keeps_sse_after_default_change(o2):
    o2.put_bucket_encryption(h.sse_rule("KMS"))
    r = o2.append_object("app", 0, b"one")
    kid = h.assert_sse(r.headers, "KMS")
    o2.delete_bucket_encryption()
    r = o2.append_object("app", 3, b"two")
    h.assert_sse(r.headers, "KMS", kid, what="append after default deleted")
    g = o2.get_object("app")
    assert g.read() == b"onetwo"
    h.assert_sse(g.headers, "KMS", kid)


def test_copy_onto_itself_reencrypts(o2, bucket_name):
    # §2.2: to re-encrypt an object, CopyObject it onto itself.
    data = h.rand_bytes(70 * h.KB)
    o2.put_object("self", data, headers={"x-oss-meta-k": "v"})
    o2.put_bucket_encryption(h.sse_rule("SM4"))
    h.assert_sse(o2.head_object("self").headers, "none")
    r = o2.copy_object(bucket_name, "self", "self", headers=dict(
        h.sse_headers("KMS+SM4"), **{"x-oss-metadata-directive": "REPLACE",
                                     "x-oss-meta-k": "v2"}))
    h.assert_sse(r.headers, "KMS+SM4")
    g = o2.get_object("self")
    assert g.read() == data
    h.assert_sse(g.headers, "KMS+SM4")
    assert g.headers["x-oss-meta-k"] == "v2"


def test_cross_bucket_copy_from_default_encrypted_bucket(server, o2, bucket_name, make_bucket):
    # Source bucket has a KMS default; destination bucket has none: a copy without SSE
    # headers is not encrypted (§2.3: the source's SSE is never inherited).
    src = make_bucket(prefix="srcdef")
    sb = h.oss2_bucket(server, src)
    sb.put_bucket_encryption(h.sse_rule("KMS"))
    data = h.rand_bytes(9000)
    h.assert_sse(sb.put_object("o", data).headers, "KMS")
    r = o2.copy_object(src, "o", "copied")
    h.assert_sse(r.headers, "none")
    g = o2.get_object("copied")
    assert g.read() == data
    h.assert_sse(g.headers, "none")
