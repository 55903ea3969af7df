"""CopyObject across every pair of SSE methods (reference §2.3 CopyObject): the destination is
encrypted exactly as the CopyObject request asks, never as the source was, with either
metadata directive; content is identical and the source is untouched."""
import itertools

import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

PAIRS = list(itertools.product(h.SSE_METHODS, h.SSE_METHODS))
PAIR_IDS = ["%s->%s" % p for p in PAIRS]
SIZE = 2 * h.SSE_PACKAGE + 777

SRC_META = {"Content-Type": "text/x-src", "x-oss-meta-origin": "source"}


@pytest.mark.parametrize("src_method,dst_method", PAIRS, ids=PAIR_IDS)
def test_oss2_copy_matrix(o2_admin, bucket_name, src_method, dst_method):
    data = h.rand_bytes(SIZE)
    sr = o2_admin.put_object("src", data, headers=dict(SRC_META, **h.sse_headers(src_method)))
    src_key_id = h.assert_sse(sr.headers, src_method, what="source PUT")

    r = o2_admin.copy_object(bucket_name, "src", "dst", headers=dict(
        h.sse_headers(dst_method), **{"x-oss-metadata-directive": "COPY",
                                      "x-oss-meta-ignored": "yes"}))
    assert r.status == 200
    dst_key_id = h.assert_sse(r.headers, dst_method, what="CopyObject response")

    g = o2_admin.get_object("dst")
    assert g.read() == data
    h.assert_sse(g.headers, dst_method, dst_key_id, what="GET destination")
    # metadata was copied (directive COPY), SSE was not
    assert g.headers["Content-Type"] == "text/x-src"
    assert g.headers["x-oss-meta-origin"] == "source"
    assert "x-oss-meta-ignored" not in g.headers
    assert g.content_length == len(data)
    crc = g.headers.get("x-oss-hash-crc64ecma")
    assert crc is None or crc == str(h.crc64(data))  # §5.7: copies may lack the CRC

    hd = o2_admin.head_object("dst")
    h.assert_sse(hd.headers, dst_method, dst_key_id, what="HEAD destination")
    assert hd.content_length == len(data)

    # source untouched
    gs = o2_admin.get_object("src")
    assert gs.read() == data
    h.assert_sse(gs.headers, src_method, src_key_id, what="GET source after copy")


@pytest.mark.parametrize("src_method,dst_method", PAIRS, ids=PAIR_IDS)
def test_v2_copy_matrix(server, bucket_name, src_method, dst_method):
    v2 = h.v2_client(server, "v4")
    data = h.rand_bytes(SIZE)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="src", body=data,
                                       metadata={"origin": "source"},
                                       **h.sse_v2_kwargs(src_method)))
    # default directive (COPY), no SSE fields unless the destination asks for them
    r = v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="dst", source_key="src",
                                             **h.sse_v2_kwargs(dst_method)))
    assert r.status_code == 200
    key_id = h.assert_sse_v2(r, dst_method, what="v2 CopyObject")
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="dst"))
    assert g.body.read() == data
    h.assert_sse_v2(g, dst_method, key_id, what="v2 GET destination")
    assert g.metadata["origin"] == "source"


@pytest.mark.parametrize("src_method", h.SSE_METHODS)
def test_copy_replace_directive_does_not_inherit(o2_admin, bucket_name, src_method):
    data = h.rand_bytes(5000)
    o2_admin.put_object("src", data, headers=h.sse_headers(src_method))
    r = o2_admin.copy_object(bucket_name, "src", "dst", headers={
        "x-oss-metadata-directive": "REPLACE", "x-oss-meta-new": "1"})
    h.assert_sse(r.headers, "none")
    g = o2_admin.get_object("dst")
    assert g.read() == data
    h.assert_sse(g.headers, "none")
    assert g.headers["x-oss-meta-new"] == "1"


def test_copy_with_source_conditions_on_encrypted_source(o2_admin, bucket_name):
    data = h.rand_bytes(5000)
    o2_admin.put_object("src", data, headers=h.sse_headers("KMS"))
    # the ETag the copy-source conditions compare against is the plaintext MD5
    r = o2_admin.copy_object(bucket_name, "src", "dst", headers=dict(
        h.sse_headers("SM4"), **{"x-oss-copy-source-if-match": h.quoted_etag(data)}))
    assert r.status == 200
    h.assert_sse(o2_admin.head_object("dst").headers, "SM4")
    assert o2_admin.get_object("dst").read() == data


def test_copy_across_buckets_matrix_sample(server, o2_admin, bucket_name, make_bucket):
    other = make_bucket(prefix="dst")
    dst = h.oss2_bucket(server, other)
    data = h.rand_bytes(SIZE)
    o2_admin.put_object("src", data, headers=h.sse_headers("KMS+SM4"))
    for method in h.SSE_METHODS:
        r = dst.copy_object(bucket_name, "src", "c-" + method, headers=h.sse_headers(method))
        kid = h.assert_sse(r.headers, method, what="cross-bucket copy to " + method)
        g = dst.get_object("c-" + method)
        assert g.read() == data
        h.assert_sse(g.headers, method, kid)
