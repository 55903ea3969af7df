"""AppendObject: positions, PositionNotEqualToLength (with x-oss-next-append-position),
ObjectNotAppendable, whole-object CRC after each append (reference §4.2, §4.3, §5.2, §5.7)."""
import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h


def test_oss2_append_sequence(o2):
    d1, d2, d3 = h.rand_bytes(1000), h.rand_bytes(2345), b"tail"
    # init_crc makes oss2 verify the returned whole-object CRC after each append (§5.7).
    r1 = o2.append_object("app.log", 0, d1, init_crc=0)
    assert r1.status == 200
    assert r1.next_position == len(d1)
    assert r1.crc == h.crc64(d1)
    assert h.REQUEST_ID_RE.match(r1.request_id)
    assert r1.etag

    r2 = o2.append_object("app.log", r1.next_position, d2, init_crc=r1.crc)
    assert r2.next_position == len(d1) + len(d2)
    assert r2.crc == h.crc64(d1 + d2)

    r3 = o2.append_object("app.log", r2.next_position, d3, init_crc=r2.crc)
    assert r3.next_position == len(d1 + d2 + d3)
    assert r3.crc == h.crc64(d1 + d2 + d3)

    hd = o2.head_object("app.log")
    assert hd.object_type == "Appendable"
    assert hd.content_length == len(d1 + d2 + d3)
    assert hd.server_crc == h.crc64(d1 + d2 + d3)
    assert int(hd.headers["x-oss-next-append-position"]) == len(d1 + d2 + d3)
    g = o2.get_object("app.log")
    assert g.read() == d1 + d2 + d3
    assert g.object_type == "Appendable"
    # appended objects are listed with Type=Appendable
    listed = o2.list_objects(prefix="app.log").object_list
    assert [(o.key, o.type, o.size) for o in listed] == [("app.log", "Appendable", len(d1 + d2 + d3))]


def test_oss2_append_empty_then_data(o2):
    r = o2.append_object("e", 0, b"")
    assert r.next_position == 0
    r = o2.append_object("e", 0, b"abc")
    assert r.next_position == 3
    assert o2.get_object("e").read() == b"abc"


def test_oss2_append_wrong_position(o2):
    o2.append_object("pos", 0, b"12345")
    for bad in (0, 4, 6, 100):
        with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as ei:
            o2.append_object("pos", bad, b"x")
        h.assert_oss2_error(ei.value, 409, "PositionNotEqualToLength")
        # oss2 requires the x-oss-next-append-position header on this error (§4.2)
        assert ei.value.next_position == 5
    assert o2.get_object("pos").read() == b"12345"


def test_oss2_append_nonzero_position_on_new_object(o2):
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as ei:
        o2.append_object("brand-new", 10, b"x")
    h.assert_oss2_error(ei.value, 409, "PositionNotEqualToLength")
    assert ei.value.next_position == 0
    assert o2.object_exists("brand-new") is False


def test_oss2_append_to_normal_object(o2):
    o2.put_object("normal", b"regular object")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable) as ei:
        o2.append_object("normal", len(b"regular object"), b"more")
    h.assert_oss2_error(ei.value, 409, "ObjectNotAppendable")
    assert o2.get_object("normal").read() == b"regular object"


def test_put_object_replaces_appendable(o2):
    o2.append_object("mixed", 0, b"appendable")
    o2.put_object("mixed", b"now normal")
    hd = o2.head_object("mixed")
    assert hd.object_type == "Normal"
    assert o2.get_object("mixed").read() == b"now normal"
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        o2.append_object("mixed", len(b"now normal"), b"x")


def test_oss2_first_append_sets_metadata(o2):
    o2.append_object("meta.txt", 0, b"a", headers={"x-oss-meta-k": "v",
                                                   "Content-Type": "text/x-log"})
    o2.append_object("meta.txt", 1, b"b")
    hd = o2.head_object("meta.txt")
    assert hd.headers["x-oss-meta-k"] == "v"
    assert hd.content_type == "text/x-log"


def test_delete_appendable_then_restart(o2):
    o2.append_object("restart", 0, b"abc")
    o2.delete_object("restart")
    r = o2.append_object("restart", 0, b"xy")
    assert r.next_position == 2
    assert o2.get_object("restart").read() == b"xy"


def test_v2_append(v2, bucket_name):
    d1, d2 = h.rand_bytes(700), h.rand_bytes(300)
    r = v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="v2.log", position=0,
                                                 body=d1))
    assert r.status_code == 200
    assert r.next_position == len(d1)
    assert r.hash_crc64 == str(h.crc64(d1))
    r = v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="v2.log",
                                                 position=r.next_position, body=d2))
    assert r.next_position == len(d1) + len(d2)
    assert r.hash_crc64 == str(h.crc64(d1 + d2))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="v2.log"))
    assert g.body.read() == d1 + d2
    assert g.object_type == "Appendable"

    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="v2.log", position=1,
                                                 body=b"x"))
    err = h.assert_v2_error(ei, 409, "PositionNotEqualToLength")
    assert h.hget(err.headers, "x-oss-next-append-position") == str(len(d1) + len(d2))


def test_v2_append_not_appendable(v2, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="n", body=b"abc"))
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="n", position=3,
                                                 body=b"d"))
    h.assert_v2_error(ei, 409, "ObjectNotAppendable")


def test_v2_append_only_file(v2, bucket_name):
    # AppendOnlyFile heads the object, then appends at the returned length.
    with v2.append_file(bucket_name, "file.log") as f:
        assert f.write(b"hello ") == 6
        assert f.write(b"world") == 5
        assert f.tell() == 11
    with v2.append_file(bucket_name, "file.log") as f:
        assert f.tell() == 11
        f.write(b"!")
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="file.log"))
    assert g.body.read() == b"hello world!"
