//! Proof that encryption holds at rest: a known marker written under every method never
//! appears on disk except in unencrypted objects, and tampering with stored packages is
//! detected rather than served.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{TestServer, xml_value};
use http::{HeaderMap, HeaderValue};

const MARKER: &[u8] = b"COFFER-PLAINTEXT-MARKER-7f3a9c";

/// A body that is the marker repeated, so any plaintext fragment of it is findable.
fn marked_body(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Files under `dir` that contain the marker.
fn files_with_marker(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p).is_ok_and(|data| data.windows(MARKER.len()).any(|w| w == MARKER))
        })
        .collect()
}

fn sse(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn put(server: &TestServer, key: &str, body: &[u8], headers: &[(String, String)]) {
    let mut req = server
        .req("PUT", Some("atrest"), Some(key))
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await;
    assert_eq!(resp.status, 200, "PUT {key}: {}", resp.text());
}

async fn get(server: &TestServer, key: &str) -> Vec<u8> {
    let resp = server.req("GET", Some("atrest"), Some(key)).send().await;
    assert_eq!(resp.status, 200, "GET {key}: {}", resp.text());
    resp.body.to_vec()
}

#[tokio::test]
async fn no_plaintext_reaches_disk_under_any_method() {
    let server = TestServer::start();
    server.create_bucket("atrest").await;
    let body = marked_body(200 * 1024);
    let methods = [
        ("aes256", sse(&[("x-oss-server-side-encryption", "AES256")])),
        ("sm4", sse(&[("x-oss-server-side-encryption", "SM4")])),
        ("kms", sse(&[("x-oss-server-side-encryption", "KMS")])),
        (
            "kms-sm4",
            sse(&[
                ("x-oss-server-side-encryption", "KMS"),
                ("x-oss-server-side-data-encryption", "SM4"),
            ]),
        ),
    ];
    for (name, headers) in &methods {
        put(&server, name, &body, headers).await;
    }

    // Multipart under KMS, one part uploaded, one copied from an encrypted object.
    let resp = server
        .req("POST", Some("atrest"), Some("multipart"))
        .query("uploads", "")
        .header("x-oss-server-side-encryption", "KMS")
        .send()
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let upload_id = xml_value(&resp.text(), "UploadId").unwrap();
    let part1 = server
        .req("PUT", Some("atrest"), Some("multipart"))
        .query("partNumber", "1")
        .query("uploadId", &upload_id)
        .body(body.clone())
        .send()
        .await;
    assert_eq!(part1.status, 200, "{}", part1.text());
    let part2 = server
        .req("PUT", Some("atrest"), Some("multipart"))
        .query("partNumber", "2")
        .query("uploadId", &upload_id)
        .header("x-oss-copy-source", "/atrest/sm4")
        .send()
        .await;
    assert_eq!(part2.status, 200, "{}", part2.text());
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        part1.header("etag").unwrap(),
        xml_value(&part2.text(), "ETag").unwrap()
    );
    let resp = server
        .req("POST", Some("atrest"), Some("multipart"))
        .query("uploadId", &upload_id)
        .body(complete)
        .send()
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    // Appends under SM4, and a copy of a plaintext object into AES256.
    let mut position = 0;
    for chunk in body.chunks(70 * 1024) {
        let mut req = server
            .req("POST", Some("atrest"), Some("appended"))
            .query("append", "")
            .query("position", &position.to_string())
            .body(chunk.to_vec());
        if position == 0 {
            req = req.header("x-oss-server-side-encryption", "SM4");
        }
        let resp = req.send().await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        position += chunk.len();
    }
    put(&server, "plain", &body, &[]).await;
    let resp = server
        .req("PUT", Some("atrest"), Some("copied"))
        .header("x-oss-copy-source", "/atrest/plain")
        .header("x-oss-server-side-encryption", "AES256")
        .send()
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    // A body still in flight: its temporary file must already hold only sealed bytes.
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-oss-server-side-encryption",
        HeaderValue::from_static("AES256"),
    );
    headers.insert("content-length", HeaderValue::from(body.len() * 16));
    let (target, headers) =
        server.signed_parts("PUT", Some("atrest"), Some("inflight"), Vec::new(), headers);
    let mut stream = server.connect();
    let mut head = format!("PUT {target} HTTP/1.1\r\nHost: {}\r\n", server.addr).into_bytes();
    for (name, value) in &headers {
        head.extend_from_slice(format!("{}: ", name.as_str()).as_bytes());
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).unwrap();
    // More than the blob writer's 1 MiB buffer, so bytes must have reached the file.
    for _ in 0..8 {
        stream.write_all(&body).unwrap();
    }
    stream.flush().unwrap();
    let tmp = server.data_dir.join("tmp");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while files_under(&tmp)
        .iter()
        .all(|p| std::fs::metadata(p).map_or(0, |m| m.len()) < 200 * 1024)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the in-flight upload never reached disk"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        files_with_marker(&tmp).is_empty(),
        "plaintext in a temporary file"
    );

    // Every encrypted object still reads back exactly.
    for (name, _) in &methods {
        assert_eq!(get(&server, name).await, body, "{name}");
    }
    assert_eq!(get(&server, "appended").await, body);
    assert_eq!(get(&server, "copied").await, body);
    let mut expected = body.clone();
    expected.extend_from_slice(&body);
    assert_eq!(get(&server, "multipart").await, expected);
    drop(stream);

    // The only file on disk holding the marker is the plaintext object's blob.
    let plain_blob = files_with_marker(&server.data_dir);
    assert_eq!(plain_blob.len(), 1, "marker found in {plain_blob:?}");
    assert!(plain_blob[0].starts_with(server.data_dir.join("blobs")));
    assert_eq!(std::fs::read(&plain_blob[0]).unwrap(), body);
}

/// Small objects are stored inside the metadata database rather than as files; they
/// must be sealed there too, and the scan must be able to see into that file.
#[tokio::test]
async fn small_objects_are_sealed_inside_the_metadata_database() {
    let server = TestServer::start();
    server.create_bucket("atrest").await;
    let body = marked_body(4 * 1024);
    for (name, method) in [("aes256", "AES256"), ("sm4", "SM4"), ("kms", "KMS")] {
        put(
            &server,
            name,
            &body,
            &sse(&[("x-oss-server-side-encryption", method)]),
        )
        .await;
        assert_eq!(get(&server, name).await, body, "{name}");
    }
    assert!(
        files_under(&server.data_dir.join("blobs")).is_empty(),
        "small objects should not get files of their own"
    );
    let found = files_with_marker(&server.data_dir);
    assert!(found.is_empty(), "marker found in {found:?}");

    // The same body unencrypted is findable, in the database file.
    put(&server, "plain", &body, &[]).await;
    let found = files_with_marker(&server.data_dir);
    assert_eq!(found, vec![server.data_dir.join("metadata.redb")]);
}

/// The stored blob of the bucket's only object.
fn only_blob(data_dir: &Path) -> PathBuf {
    let blobs = files_under(&data_dir.join("blobs"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    blobs.into_iter().next().unwrap()
}

const PACKAGE: usize = 64 * 1024 + 24;

#[tokio::test]
async fn tampering_is_detected_and_never_served() {
    let server = TestServer::start();
    server.create_bucket("atrest").await;
    // Seventeen packages and a bit: reads go in batches of sixteen, so the last package
    // is damaged in a second batch, after a first one was already served.
    let body = marked_body(17 * 64 * 1024 + 100);
    for method in ["AES256", "SM4", "KMS"] {
        put(
            &server,
            "victim",
            &body,
            &sse(&[("x-oss-server-side-encryption", method)]),
        )
        .await;
        let blob = only_blob(&server.data_dir);
        let pristine = std::fs::read(&blob).unwrap();

        let damaged: Vec<(&str, Vec<u8>)> = vec![
            ("flipped byte in the first package", {
                let mut d = pristine.clone();
                d[100] ^= 1;
                d
            }),
            ("flipped byte in the last package", {
                let mut d = pristine.clone();
                let n = d.len();
                d[n - 20] ^= 0x80;
                d
            }),
            (
                "truncated after two packages",
                pristine[..2 * PACKAGE].to_vec(),
            ),
            ("packages swapped", {
                let mut d = pristine.clone();
                let (a, b) = d.split_at_mut(PACKAGE);
                a.swap_with_slice(&mut b[..PACKAGE]);
                d
            }),
        ];
        for (what, bytes) in damaged {
            std::fs::write(&blob, &bytes).unwrap();
            let resp = server
                .req("GET", Some("atrest"), Some("victim"))
                .send_lenient()
                .await;
            match resp {
                Ok(resp) if resp.status == 500 => {
                    assert!(
                        resp.text().contains("<Code>InternalError</Code>"),
                        "{method}, {what}: {}",
                        resp.text()
                    );
                }
                Ok(resp) => {
                    // Cut short at the bad package: never wrong bytes, never all of them.
                    assert!(
                        resp.body.len() < body.len(),
                        "{method}, {what}: served everything"
                    );
                    assert!(
                        body.starts_with(&resp.body),
                        "{method}, {what}: served wrong bytes"
                    );
                }
                Err(_) => {} // connection cut mid-body: also refusal
            }
            let log = server.log();
            assert!(
                log.contains("atrest/victim") && log.contains("integrity"),
                "{method}, {what}: no log line names the object"
            );
        }
        std::fs::write(&blob, &pristine).unwrap();
        assert_eq!(
            get(&server, "victim").await,
            body,
            "{method}: restored blob reads again"
        );
        let resp = server
            .req("DELETE", Some("atrest"), Some("victim"))
            .send()
            .await;
        assert_eq!(resp.status, 204);
    }
}
