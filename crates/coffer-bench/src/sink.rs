//! A trivial HTTP/1.1 server: every request gets 200; request bodies are read and dropped;
//! GETs are answered with `get_size` bytes from one shared buffer. Measuring the load tool
//! against it shows the tool's own ceiling on this machine.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn answer(
    request: http::Request<Incoming>,
    get_body: Bytes,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = request.method().clone();
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    let payload = if method == Method::GET {
        get_body
    } else {
        Bytes::new()
    };
    let mut response = Response::new(Full::new(payload));
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// Binds `listen` and serves until the process is stopped. Reports the bound address on
/// stderr (useful with port 0).
pub async fn serve(listen: SocketAddr, get_size: u64) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    eprintln!(
        "coffer-bench sink listening on http://{}",
        listener.local_addr()?
    );
    serve_on(listener, get_size).await
}

pub async fn serve_on(listener: TcpListener, get_size: u64) -> std::io::Result<()> {
    let get_body = crate::run::payload(get_size);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let get_body = get_body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(req, get_body.clone()));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
