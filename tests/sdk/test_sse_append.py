"""AppendObject with SSE (reference §2.3 AppendObject, §5.7): the first append fixes the
object's encryption; later SSE headers are accepted and ignored; content and the
whole-object CRC-64 stay right after every append."""
import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h


def test_kms_first_then_other_headers(o2):
    # [REAL oss2 test_append_object_with_encryption]: KMS first, then none, then AES256 ->
    # every response reports KMS with the same key id.
    d = [h.rand_bytes(1000), h.rand_bytes(70000), h.rand_bytes(333), h.rand_bytes(5)]
    r = o2.append_object("a", 0, d[0], headers=h.sse_headers("KMS"), init_crc=0)
    kid = h.assert_sse(r.headers, "KMS", what="append 1 (KMS)")
    assert r.crc == h.crc64(d[0])

    later = [None, h.sse_headers("AES256"), h.sse_headers("KMS+SM4")]
    for i, (piece, hdrs) in enumerate(zip(d[1:], later), 2):
        prev = b"".join(d[:i - 1])
        r = o2.append_object("a", len(prev), piece, headers=hdrs, init_crc=r.crc)
        h.assert_sse(r.headers, "KMS", kid, what="append %d with %r" % (i, hdrs))
        # oss2 verified the whole-object CRC (init_crc); check it explicitly too
        assert r.crc == h.crc64(prev + piece)
        assert r.next_position == len(prev + piece)

    data = b"".join(d)
    g = o2.get_object("a")
    assert g.read() == data
    h.assert_sse(g.headers, "KMS", kid, what="GET")
    assert g.server_crc == h.crc64(data)
    hd = o2.head_object("a")
    h.assert_sse(hd.headers, "KMS", kid, what="HEAD")
    assert hd.object_type == "Appendable"
    assert hd.content_length == len(data)
    assert hd.server_crc == h.crc64(data)


def test_unencrypted_first_then_sse_headers_ignored(o2):
    # [REAL Java ObjectEncryptionTest.testAppendObject]: later KMS+SM4 headers are ignored
    r = o2.append_object("a", 0, b"plain", init_crc=0)
    h.assert_sse(r.headers, "none", what="append 1")
    for hdrs in (h.sse_headers("KMS+SM4"), h.sse_headers("AES256"), h.sse_headers("SM4")):
        r = o2.append_object("a", r.next_position, b"-more", headers=hdrs, init_crc=r.crc)
        h.assert_sse(r.headers, "none", what="later append with %r" % hdrs)
    data = b"plain" + b"-more" * 3
    g = o2.get_object("a")
    assert g.read() == data
    h.assert_sse(g.headers, "none")
    assert g.server_crc == h.crc64(data)


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_append_sequence_per_method(o2, method):
    # odd sizes so that appends start and end inside packages and on their boundaries
    pieces = [h.rand_bytes(n) for n in (1, h.SSE_PACKAGE - 1, h.SSE_PACKAGE, 12345, 0, 77777)]
    r = None
    kid = None
    written = b""
    for i, piece in enumerate(pieces):
        r = o2.append_object("seq", len(written), piece,
                             headers=h.sse_headers(method) if i == 0 else None,
                             init_crc=r.crc if r else 0)
        written += piece
        kid = h.assert_sse(r.headers, method, kid, what="append %d" % i)
        assert r.next_position == len(written)
        assert r.crc == h.crc64(written)
        # readable right after each append
        hd = o2.head_object("seq")
        assert hd.server_crc == h.crc64(written)
        assert hd.content_length == len(written)
    g = o2.get_object("seq")
    assert g.read() == written
    h.assert_sse(g.headers, method, kid)
    assert g.server_crc == h.crc64(written)
    listed = o2.list_objects(prefix="seq").object_list
    assert [(o.key, o.type, o.size) for o in listed] == [("seq", "Appendable", len(written))]


def test_kms_sm4_first_append_fixed(o2):
    r = o2.append_object("a", 0, b"x" * 100, headers=h.sse_headers("KMS+SM4"))
    kid = h.assert_sse(r.headers, "KMS+SM4")
    r = o2.append_object("a", 100, b"y" * 100, headers=h.sse_headers("KMS"))
    h.assert_sse(r.headers, "KMS+SM4", kid, what="second append with plain KMS")
    g = o2.get_object("a")
    assert g.read() == b"x" * 100 + b"y" * 100
    h.assert_sse(g.headers, "KMS+SM4", kid)


def test_wrong_position_on_encrypted_appendable(o2):
    o2.append_object("a", 0, b"12345", headers=h.sse_headers("SM4"))
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as ei:
        o2.append_object("a", 3, b"x")
    h.assert_oss2_error(ei.value, 409, "PositionNotEqualToLength")
    assert ei.value.next_position == 5  # the plaintext length
    g = o2.get_object("a")
    assert g.read() == b"12345"
    h.assert_sse(g.headers, "SM4")


def test_put_replaces_encrypted_appendable(o2):
    o2.append_object("a", 0, b"appendable", headers=h.sse_headers("KMS"))
    r = o2.put_object("a", b"normal now")
    h.assert_sse(r.headers, "none")
    g = o2.get_object("a")
    assert g.read() == b"normal now"
    assert g.object_type == "Normal"
    h.assert_sse(g.headers, "none")


@pytest.mark.parametrize("method", ["KMS+SM4", "AES256"])
def test_v2_append_with_sse(v2, bucket_name, method):
    d1, d2 = h.rand_bytes(70000), h.rand_bytes(3000)
    r = v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="a", position=0,
                                                 body=d1, **h.sse_v2_kwargs(method)))
    kid = h.assert_sse_v2(r, method, what="v2 first append")
    assert r.hash_crc64 == str(h.crc64(d1))
    r = v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="a",
                                                 position=r.next_position, body=d2,
                                                 **h.sse_v2_kwargs("SM4")))
    h.assert_sse_v2(r, method, kid, what="v2 second append (SM4 ignored)")
    assert r.hash_crc64 == str(h.crc64(d1 + d2))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="a"))
    assert g.body.read() == d1 + d2
    h.assert_sse_v2(g, method, kid)


def test_v2_append_file_with_sse(v2, bucket_name):
    # AppendOnlyFile applies create_parameter (incl. SSE) only when it creates the object.
    with v2.append_file(bucket_name, "f.log", create_parameter=oss.AppendObjectRequest(
            **h.sse_v2_kwargs("SM4"))) as f:
        f.write(b"hello ")
        f.write(b"world")
    with v2.append_file(bucket_name, "f.log") as f:
        f.write(b"!")
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="f.log"))
    assert g.body.read() == b"hello world!"
    h.assert_sse_v2(g, "SM4")
