"""Multipart upload with SSE (reference §2.3 Multipart upload, §2.6): Initiate fixes and echoes
the method (with the key id for KMS); UploadPart / Complete reject SSE headers with 400
InvalidArgument; UploadPart, UploadPartCopy and Complete echo the upload's SSE; the
final object reads back exactly; SDK upload helpers with SSE."""
import io

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

PART = 100 * h.KB


def _chunks():
    # part sizes deliberately not multiples of the 64 KiB package
    return [h.rand_bytes(PART + 7), h.rand_bytes(PART + 4099), h.rand_bytes(50 * h.KB + 3)]


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_oss2_multipart_with_sse(o2, bucket_name, method):
    key = "mp/" + method
    chunks = _chunks()
    data = b"".join(chunks)
    init = o2.init_multipart_upload(key, headers=dict(h.sse_headers(method),
                                                      **{"x-oss-meta-m": method}))
    assert init.status == 200
    key_id = h.assert_sse(init.headers, method, what="InitiateMultipartUpload")

    parts = []
    for i, c in enumerate(chunks, 1):
        r = o2.upload_part(key, init.upload_id, i, c)
        h.assert_sse(r.headers, method, key_id, what="UploadPart %d" % i)
        # part ETag / CRC are of the plaintext part
        assert r.etag == h.md5_hex_upper(c)
        assert r.crc == h.crc64(c)
        parts.append(oss2.models.PartInfo(i, r.etag, size=len(c), part_crc=r.crc))

    lp = o2.list_parts(key, init.upload_id)
    assert [(p.part_number, p.size, p.etag) for p in lp.parts] == \
        [(p.part_number, p.size, p.etag) for p in parts]

    # oss2 checks the combined CRC of the parts against the Complete response
    done = o2.complete_multipart_upload(key, init.upload_id, parts)
    assert done.status == 200
    h.assert_sse(done.headers, method, key_id, what="CompleteMultipartUpload")
    assert done.crc == h.crc64(data)

    g = o2.get_object(key)
    assert g.read() == data
    h.assert_sse(g.headers, method, key_id, what="GET")
    assert g.server_crc == h.crc64(data)
    assert g.content_length == len(data)
    assert g.headers["x-oss-meta-m"] == method
    h.assert_sse(o2.head_object(key).headers, method, key_id, what="HEAD")
    listed = o2.list_objects(prefix=key).object_list
    assert [(o.key, o.size) for o in listed] == [(key, len(data))]


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_v2_multipart_with_sse(server, bucket_name, method):
    v2 = h.v2_client(server, "v4")
    key = "mp/v2-" + method
    chunks = _chunks()
    init = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key=key, **h.sse_v2_kwargs(method)))
    key_id = h.assert_sse(init.headers, method, what="v2 Initiate")
    parts = []
    for i, c in enumerate(chunks, 1):
        r = v2.upload_part(oss.UploadPartRequest(bucket=bucket_name, key=key, part_number=i,
                                                 upload_id=init.upload_id, body=c))
        assert r.etag == h.quoted_etag(c)
        assert r.hash_crc64 == str(h.crc64(c))
        h.assert_sse(r.headers, method, key_id, what="v2 UploadPart")
        parts.append(oss.UploadPart(part_number=i, etag=r.etag))
    done = v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key=key, upload_id=init.upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=parts)))
    h.assert_sse(done.headers, method, key_id, what="v2 Complete")
    assert done.hash_crc64 == str(h.crc64(b"".join(chunks)))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
    assert g.body.read() == b"".join(chunks)
    h.assert_sse_v2(g, method, key_id)


UPLOAD_PART_SSE_HEADERS = [
    pytest.param({h.SSE_HDR: "AES256"}, id="AES256"),
    pytest.param({h.SSE_HDR: "KMS"}, id="KMS"),
    pytest.param({h.SSE_DATA_HDR: "SM4"}, id="data-SM4"),
    pytest.param({h.SSE_KEY_HDR: "some-key"}, id="key-id"),
]


@pytest.mark.parametrize("upload_method", ["none", "KMS"])
@pytest.mark.parametrize("bad", UPLOAD_PART_SSE_HEADERS)
def test_upload_part_with_sse_header_rejected(o2, upload_method, bad):
    init = o2.init_multipart_upload("mp", headers=h.sse_headers(upload_method))
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.upload_part("mp", init.upload_id, 1, b"part data", headers=bad)
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")
    assert o2.list_parts("mp", init.upload_id).parts == []


def test_upload_part_with_same_sse_as_upload_rejected(o2):
    # "any SSE header", even the one the upload already uses
    init = o2.init_multipart_upload("mp", headers=h.sse_headers("AES256"))
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.upload_part("mp", init.upload_id, 1, b"x", headers=h.sse_headers("AES256"))
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")


def test_v2_upload_part_with_sse_header_rejected(v2, bucket_name):
    init = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key="mp", server_side_encryption="SM4"))
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.upload_part(oss.UploadPartRequest(bucket=bucket_name, key="mp", part_number=1,
                                             upload_id=init.upload_id, body=b"x",
                                             headers={h.SSE_HDR: "SM4"}))
    h.assert_v2_error(ei, 400, "InvalidArgument")


@pytest.mark.parametrize("bad", UPLOAD_PART_SSE_HEADERS)
def test_complete_with_sse_header_rejected(o2, bad):
    init = o2.init_multipart_upload("mp", headers=h.sse_headers("KMS"))
    kid = h.assert_sse(init.headers, "KMS")
    p = o2.upload_part("mp", init.upload_id, 1, b"only part")
    parts = [oss2.models.PartInfo(1, p.etag)]
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.complete_multipart_upload("mp", init.upload_id, parts, headers=bad)
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")
    assert o2.object_exists("mp") is False
    # the upload survives the rejected Complete and can still be completed
    done = o2.complete_multipart_upload("mp", init.upload_id, parts)
    h.assert_sse(done.headers, "KMS", kid)
    assert o2.get_object("mp").read() == b"only part"


# ---------------------------------------------------------------- UploadPartCopy

@pytest.mark.parametrize("src_method,upload_method", [
    ("none", "KMS"),
    ("none", "AES256"),
    ("AES256", "none"),
    ("KMS+SM4", "none"),
    ("KMS", "SM4"),
    ("SM4", "KMS+SM4"),
])
def test_upload_part_copy_with_sse(o2, bucket_name, src_method, upload_method):
    src = h.rand_bytes(3 * h.SSE_PACKAGE + 5)
    o2.put_object("src", src, headers=h.sse_headers(src_method))
    init = o2.init_multipart_upload("dst", headers=h.sse_headers(upload_method))
    kid = h.assert_sse(init.headers, upload_method, what="Initiate")

    # part 1: a range crossing package boundaries; part 2: whole source; part 3: plain upload
    r1 = o2.upload_part_copy(bucket_name, "src", (h.SSE_PACKAGE - 3, 2 * h.SSE_PACKAGE + 40000),
                             "dst", init.upload_id, 1)
    h.assert_sse(r1.headers, upload_method, kid, what="UploadPartCopy (range)")
    r2 = o2.upload_part_copy(bucket_name, "src", None, "dst", init.upload_id, 2)
    h.assert_sse(r2.headers, upload_method, kid, what="UploadPartCopy (whole)")
    tail = b"tail bytes"
    r3 = o2.upload_part("dst", init.upload_id, 3, tail)
    h.assert_sse(r3.headers, upload_method, kid, what="UploadPart")

    done = o2.complete_multipart_upload("dst", init.upload_id, [
        oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag),
        oss2.models.PartInfo(3, r3.etag)])
    h.assert_sse(done.headers, upload_method, kid, what="Complete")
    expected = src[h.SSE_PACKAGE - 3:2 * h.SSE_PACKAGE + 40001] + src + tail
    g = o2.get_object("dst")
    assert g.read() == expected
    h.assert_sse(g.headers, upload_method, kid, what="GET")
    crc = g.headers.get("x-oss-hash-crc64ecma")
    assert crc is None or crc == str(h.crc64(expected))
    # the source is untouched
    gs = o2.get_object("src")
    assert gs.read() == src
    h.assert_sse(gs.headers, src_method)


def test_v2_upload_part_copy_echoes_sse(server, bucket_name):
    v2 = h.v2_client(server, "v1")
    src = h.rand_bytes(PART + 1)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="src", body=src))
    init = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key="dst", **h.sse_v2_kwargs("KMS+SM4")))
    kid = h.assert_sse(init.headers, "KMS+SM4")
    r = v2.upload_part_copy(oss.UploadPartCopyRequest(
        bucket=bucket_name, key="dst", part_number=1, upload_id=init.upload_id,
        source_key="src"))
    h.assert_sse(r.headers, "KMS+SM4", kid, what="v2 UploadPartCopy")
    v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key="dst", upload_id=init.upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=[
            oss.UploadPart(part_number=1, etag=r.etag)])))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="dst"))
    assert g.body.read() == src
    h.assert_sse_v2(g, "KMS+SM4", kid)


# ---------------------------------------------------------------- SDK helpers

@pytest.mark.parametrize("method", ["KMS+SM4", "SM4"])
def test_oss2_resumable_upload_with_sse(o2, tmp_path, method):
    # resumable_upload passes the headers to Initiate only (not to UploadPart / Complete).
    data = h.rand_bytes(450 * h.KB + 17)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    r = oss2.resumable_upload(o2, "resumable.bin", str(f),
                              store=oss2.ResumableStore(root=str(tmp_path)),
                              headers=h.sse_headers(method),
                              multipart_threshold=200 * h.KB, part_size=PART, num_threads=2)
    assert r.status == 200
    kid = h.assert_sse(r.headers, method, what="resumable_upload (Complete)")
    g = o2.get_object("resumable.bin")
    assert g.read() == data
    assert g.object_type == "Multipart"
    h.assert_sse(g.headers, method, kid)
    assert o2.list_multipart_uploads().upload_list == []

    # below the threshold it is a single PutObject with the same headers
    small = h.rand_bytes(10 * h.KB)
    f2 = tmp_path / "small.bin"
    f2.write_bytes(small)
    oss2.resumable_upload(o2, "small.bin", str(f2), store=oss2.ResumableStore(root=str(tmp_path)),
                          headers=h.sse_headers(method), multipart_threshold=200 * h.KB)
    g = o2.get_object("small.bin")
    assert g.read() == small
    assert g.object_type == "Normal"
    h.assert_sse(g.headers, method)


def test_v2_uploader_with_sse(server, bucket_name):
    v2 = h.v2_client(server, "v4")
    data = h.rand_bytes(350 * h.KB + 1)
    up = v2.uploader(part_size=PART, parallel_num=2)
    r = up.upload_from(oss.PutObjectRequest(bucket=bucket_name, key="up.bin",
                                            **h.sse_v2_kwargs("KMS")), io.BytesIO(data))
    assert r.status_code == 200
    assert r.hash_crc64 == str(h.crc64(data))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="up.bin"))
    assert g.body.read() == data
    assert g.object_type == "Multipart"
    h.assert_sse_v2(g, "KMS")
