"""Object-level SSE on PutObject / GetObject / HeadObject in a bucket without default
encryption: the §2.1 response table row by row, validation errors, transparency of
ETag / CRC-64 / Content-MD5 / Content-Length, and the KMS key id (reference §2.1, §2.3, §2.5,
§5.6, §5.7)."""
import os
import time
import uuid

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

# Spans a 64 KiB package boundary and ends in a partial package.
SIZE = h.SSE_PACKAGE + 4321

# §2.1 table: (request headers, effective method reported in the response)
PUT_TABLE = [
    pytest.param({}, "none", id="none"),
    pytest.param({h.SSE_HDR: "KMS"}, "KMS", id="KMS"),
    pytest.param({h.SSE_HDR: "AES256"}, "AES256", id="AES256"),
    pytest.param({h.SSE_HDR: "SM4"}, "SM4", id="SM4"),
    pytest.param({h.SSE_HDR: "KMS", h.SSE_DATA_HDR: "SM4"}, "KMS+SM4", id="KMS+SM4"),
    pytest.param({h.SSE_HDR: "AES256", h.SSE_DATA_HDR: "SM4"}, "AES256", id="AES256+dataSM4"),
    pytest.param({h.SSE_HDR: "SM4", h.SSE_DATA_HDR: "SM4"}, "SM4", id="SM4+dataSM4"),
    pytest.param({h.SSE_DATA_HDR: "SM4"}, "none", id="dataSM4-only"),
]


@pytest.mark.parametrize("req,method", PUT_TABLE)
def test_oss2_put_object_table(o2, req, method):
    data = h.rand_bytes(SIZE)
    key = "t/" + method
    # oss2 (enable_crc) also verifies the response CRC against the plaintext it sent.
    r = o2.put_object(key, data, headers=dict(req, **{"x-oss-meta-m": method}))
    assert r.status == 200
    key_id = h.assert_sse(r.headers, method, what="PutObject")
    # §2.3 / §5.6 / §5.7: ETag, CRC and Content-MD5 describe the plaintext.
    assert r.headers["ETag"] == h.quoted_etag(data)
    assert r.crc == h.crc64(data)
    assert r.headers.get("Content-MD5") == h.md5_b64(data)

    g = o2.get_object(key)
    assert g.read() == data
    h.assert_sse(g.headers, method, key_id, what="GetObject")
    assert g.headers["ETag"] == h.quoted_etag(data)
    assert g.server_crc == h.crc64(data)
    assert g.content_length == len(data)
    assert g.headers["x-oss-meta-m"] == method

    hd = o2.head_object(key)
    h.assert_sse(hd.headers, method, key_id, what="HeadObject")
    assert hd.content_length == len(data)
    assert hd.etag == h.md5_hex_upper(data)
    assert hd.server_crc == h.crc64(data)

    # listings report the plaintext size and ETag
    listed = o2.list_objects(prefix=key).object_list
    assert [(o.key, o.size, o.etag) for o in listed] == [(key, len(data), h.md5_hex_upper(data))]


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_v2_put_get_head(v2, bucket_name, method):
    data = h.rand_bytes(SIZE)
    # v2 verifies the response CRC-64 of PutObject against the plaintext.
    r = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="o", body=data,
                                           **h.sse_v2_kwargs(method)))
    assert r.status_code == 200
    assert r.etag == h.quoted_etag(data)
    assert r.hash_crc64 == str(h.crc64(data))
    assert r.content_md5 == h.md5_b64(data)
    key_id = h.assert_sse(r.headers, method, what="v2 PutObject")

    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="o"))
    assert g.body.read() == data
    h.assert_sse_v2(g, method, key_id, what="v2 GetObject")
    assert g.content_length == len(data)
    assert g.hash_crc64 == str(h.crc64(data))
    assert g.etag == h.quoted_etag(data)

    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="o"))
    h.assert_sse_v2(hd, method, key_id, what="v2 HeadObject")
    assert hd.content_length == len(data)
    assert hd.hash_crc64 == str(h.crc64(data))


@pytest.mark.parametrize("size", [0, 1, h.SSE_PACKAGE - 1, h.SSE_PACKAGE, h.SSE_PACKAGE + 1,
                                  2 * h.SSE_PACKAGE])
@pytest.mark.parametrize("method", ["AES256", "SM4", "KMS+SM4"])
def test_sizes_around_package_boundary(o2_admin, method, size):
    data = h.rand_bytes(size)
    r = o2_admin.put_object("s", data, headers=h.sse_headers(method))
    h.assert_sse(r.headers, method)
    assert r.headers["ETag"] == h.quoted_etag(data)
    assert r.crc == h.crc64(data)
    g = o2_admin.get_object("s")
    assert g.read() == data
    assert g.content_length == size
    h.assert_sse(g.headers, method)


def test_kms_default_key_id_is_stable(o2_admin):
    # §2.1: the key id header is present for objects under the default KMS key; it names the
    # key actually used. [ASSUMPTION] one default CMK per server, so every object under it
    # reports the same id.
    a = h.assert_sse(o2_admin.put_object("a", b"a", headers=h.sse_headers("KMS")).headers, "KMS")
    b = h.assert_sse(o2_admin.put_object("b", b"b", headers=h.sse_headers("KMS+SM4")).headers,
                     "KMS+SM4")
    assert a == b
    assert h.hget(o2_admin.head_object("a").headers, h.SSE_KEY_HDR) == a


def test_overwrite_changes_method(o2):
    o2.put_object("o", b"first", headers=h.sse_headers("KMS+SM4"))
    o2.put_object("o", b"second")
    g = o2.get_object("o")
    assert g.read() == b"second"
    h.assert_sse(g.headers, "none")
    o2.put_object("o", b"third", headers=h.sse_headers("SM4"))
    g = o2.get_object("o")
    assert g.read() == b"third"
    h.assert_sse(g.headers, "SM4")


def _files_containing(root_dir, needle, since):
    """Files under root_dir modified at or after `since` that contain `needle`."""
    hits = []
    for root, _, files in os.walk(root_dir):
        for f in files:
            p = os.path.join(root, f)
            try:
                st = os.stat(p)
                if st.st_mtime < since or st.st_size > 64 * h.MB:
                    continue
                with open(p, "rb") as fh:
                    if needle in fh.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


def test_encrypted_objects_are_not_stored_in_plaintext(server, o2_admin):
    # The plaintext of AES256 / SM4 / KMS objects must not appear in any file under the data
    # directory; the unencrypted control object (different marker) proves the scan works.
    t0 = time.time() - 2
    marker = b"COFFER-SSE-PLAINTEXT-MARKER-" + uuid.uuid4().hex.encode()
    control = b"COFFER-SSE-CONTROL-MARKER-" + uuid.uuid4().hex.encode()
    body = marker * 2000  # ~122 KiB, spans packages
    for method in h.SSE_METHODS[1:]:
        o2_admin.put_object("enc/" + method, body, headers=h.sse_headers(method))
    o2_admin.put_object("plain", control * 10)
    assert _files_containing(server.data_dir, control, t0), "scan cannot see the data directory"
    found = _files_containing(server.data_dir, marker, t0)
    assert found == [], "plaintext of encrypted objects found on disk: %s" % found
    for method in h.SSE_METHODS[1:]:
        assert o2_admin.get_object("enc/" + method).read() == body


# ---------------------------------------------------------------- validation errors (§2.1, §2.5)

@pytest.mark.parametrize("value", ["DES", "random", "aws:kms"])
def test_put_invalid_algorithm(o2, value):
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_object("bad", b"data", headers={h.SSE_HDR: value})
    h.assert_oss2_error(ei.value, 400, "InvalidEncryptionAlgorithmError")
    assert o2.object_exists("bad") is False


def test_v2_put_invalid_algorithm(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="bad", body=b"x",
                                           server_side_encryption="DES"))
    h.assert_v2_error(ei, 400, "InvalidEncryptionAlgorithmError")


def test_invalid_algorithm_on_other_operations(o2_admin, bucket_name):
    # §2.1: InitiateMultipartUpload documents the same error; [INFERRED] Append and Copy
    # validate the header the same way.
    o2_admin.put_object("src", b"source")
    bad = {h.SSE_HDR: "DES"}
    calls = {
        "initiate": lambda: o2_admin.init_multipart_upload("mp", headers=bad),
        "append": lambda: o2_admin.append_object("app", 0, b"x", headers=bad),
        "copy": lambda: o2_admin.copy_object(bucket_name, "src", "dst", headers=bad),
    }
    for name, call in calls.items():
        with pytest.raises(oss2.exceptions.ServerError) as ei:
            call()
        assert (ei.value.status, ei.value.code) == (400, "InvalidEncryptionAlgorithmError"), name
    assert o2_admin.list_multipart_uploads().upload_list == []
    assert o2_admin.object_exists("app") is False
    assert o2_admin.object_exists("dst") is False


def test_kms_invalid_data_algorithm(o2):
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_object("bad", b"data", headers={h.SSE_HDR: "KMS", h.SSE_DATA_HDR: "abc"})
    h.assert_oss2_error(ei.value, 400, "InvalidDataEncryptionAlgorithmError")
    assert o2.object_exists("bad") is False
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.init_multipart_upload("bad", headers={h.SSE_HDR: "KMS", h.SSE_DATA_HDR: "AES256"})
    h.assert_oss2_error(ei.value, 400, "InvalidDataEncryptionAlgorithmError")


def test_v2_kms_invalid_data_algorithm(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="bad", body=b"x",
                                           server_side_encryption="KMS",
                                           server_side_data_encryption="abc"))
    h.assert_v2_error(ei, 400, "InvalidDataEncryptionAlgorithmError")


def test_data_algorithm_ignored_without_kms(o2_admin):
    # §2.1: "x-oss-server-side-data-encryption is ignored, not rejected, unless the SSE header
    # is KMS" -- whatever its value.
    r = o2_admin.put_object("o", b"data", headers={h.SSE_HDR: "AES256", h.SSE_DATA_HDR: "abc"})
    h.assert_sse(r.headers, "AES256")
    r = o2_admin.put_object("p", b"data", headers={h.SSE_DATA_HDR: "abc"})
    h.assert_sse(r.headers, "none")
    h.assert_sse(o2_admin.head_object("p").headers, "none")


def test_kms_unknown_key_id(o2, sig):
    missing = str(uuid.uuid4())
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_object("k", b"data", headers={h.SSE_HDR: "KMS", h.SSE_KEY_HDR: missing})
    h.assert_oss2_error(ei.value, 404, "KeyNotFound")
    assert o2.object_exists("k") is False
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_object("k", b"data", headers={h.SSE_HDR: "KMS", h.SSE_DATA_HDR: "SM4",
                                             h.SSE_KEY_HDR: missing})
    h.assert_oss2_error(ei.value, 404, "KeyNotFound")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.init_multipart_upload("k", headers={h.SSE_HDR: "KMS", h.SSE_KEY_HDR: missing})
    h.assert_oss2_error(ei.value, 404, "KeyNotFound")
    assert o2.list_multipart_uploads().upload_list == []


def test_v2_kms_unknown_key_id(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"x",
                                           server_side_encryption="KMS",
                                           server_side_encryption_key_id=str(uuid.uuid4())))
    h.assert_v2_error(ei, 404, "KeyNotFound")


def test_failed_sse_put_keeps_previous_object(o2_admin):
    o2_admin.put_object("keep", b"original", headers=h.sse_headers("SM4"))
    with pytest.raises(oss2.exceptions.ServerError):
        o2_admin.put_object("keep", b"replacement", headers={h.SSE_HDR: "DES"})
    with pytest.raises(oss2.exceptions.ServerError):
        o2_admin.put_object("keep", b"replacement", headers={h.SSE_HDR: "KMS",
                                                             h.SSE_KEY_HDR: str(uuid.uuid4())})
    g = o2_admin.get_object("keep")
    assert g.read() == b"original"
    h.assert_sse(g.headers, "SM4")


# ---------------------------------------------------------------- transparency of other features

def test_conditional_get_on_encrypted_object(o2_admin):
    data = h.rand_bytes(3000)
    o2_admin.put_object("c", data, headers=h.sse_headers("KMS"))
    etag = h.quoted_etag(data)
    g = o2_admin.get_object("c", headers={"If-Match": etag})
    assert g.read() == data
    with pytest.raises(oss2.exceptions.NotModified):
        o2_admin.get_object("c", headers={"If-None-Match": etag})


def test_put_with_content_md5_on_encrypted_object(o2_admin):
    data = h.rand_bytes(5000)
    r = o2_admin.put_object("m", data, headers=dict(h.sse_headers("SM4"),
                                                    **{"Content-MD5": h.md5_b64(data)}))
    assert r.status == 200
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.put_object("m2", data, headers=dict(h.sse_headers("SM4"),
                                                     **{"Content-MD5": h.md5_b64(b"other")}))
    h.assert_oss2_error(ei.value, 400, "InvalidDigest")


def test_delete_encrypted_objects(o2_admin):
    for m in h.SSE_METHODS:
        o2_admin.put_object("d/" + m, b"x", headers=h.sse_headers(m))
    r = o2_admin.batch_delete_objects(["d/" + m for m in h.SSE_METHODS])
    assert sorted(r.deleted_keys) == sorted("d/" + m for m in h.SSE_METHODS)
    assert o2_admin.list_objects(prefix="d/").object_list == []
