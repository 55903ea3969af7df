//! The HTTP/1 listeners: one per dialect (each through [`ApiServer`]'s pipeline) plus any
//! plain service (the admin listener), one accept loop over all of them, and graceful
//! shutdown. Any listener may serve TLS ([`Listen::tls`]); the handshake runs on the
//! connection's own task, so a slow one never holds up the accept loop.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::body::ResponseBody;
use crate::pipeline::{ApiHandler, ApiServer};
use crate::tls::Tls;

/// A hyper service a listener can run on a connection's own task: it answers every request
/// (errors are responses, so `Infallible`) and it and its futures move between threads.
pub trait ConnectionService<B>:
    hyper::service::Service<
        Request<Incoming>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Send
    + 'static
{
}

impl<S, B> ConnectionService<B> for S where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Send
        + 'static
{
}

/// A response body hyper can send from any thread.
pub trait SendBody:
    hyper::body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}

impl<B> SendBody for B where
    B: hyper::body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// hyper's read buffer, which bounds a request head and each body frame.
    pub read_buffer: usize,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
}

/// How a request reached the server; every request of a dialect listener carries it in its
/// extensions (beside the peer's `SocketAddr`), for `SecureTransport`-style conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

/// A bound socket and whether it speaks TLS. A bare `TcpListener` converts to plain HTTP.
pub struct Listen {
    tcp: TcpListener,
    tls: Option<Tls>,
}

impl Listen {
    pub fn plain(tcp: TcpListener) -> Self {
        Listen { tcp, tls: None }
    }

    /// Every connection must complete a TLS handshake with `tls` first.
    pub fn tls(tcp: TcpListener, tls: Tls) -> Self {
        Listen {
            tcp,
            tls: Some(tls),
        }
    }

    /// Plain HTTP unless `tls` is given.
    pub fn new(tcp: TcpListener, tls: Option<Tls>) -> Self {
        Listen { tcp, tls }
    }

    pub fn transport(&self) -> Transport {
        match self.tls {
            Some(_) => Transport::Tls,
            None => Transport::Plain,
        }
    }
}

impl From<TcpListener> for Listen {
    fn from(tcp: TcpListener) -> Self {
        Listen::plain(tcp)
    }
}

/// Starts serving one accepted connection, watched for graceful shutdown.
type Serve = Box<dyn Fn(TcpStream, SocketAddr, Watcher) + Send + Sync>;

struct Listener {
    /// Names the listener in logs.
    name: &'static str,
    tcp: TcpListener,
    serve: Serve,
}

/// Every listener of the process, served until shutdown.
pub struct Server {
    http: HttpSettings,
    listeners: Vec<Listener>,
}

impl Server {
    pub fn new(http: HttpSettings) -> Self {
        Server {
            http,
            listeners: Vec::new(),
        }
    }

    /// Serves a dialect on `listen`, every request through `api`'s pipeline.
    pub fn api<A: ApiHandler>(
        self,
        name: &'static str,
        listen: impl Into<Listen>,
        api: Arc<ApiServer<A>>,
    ) -> Self {
        let listen = listen.into();
        let transport = listen.transport();
        self.service(name, listen, move |peer| {
            api_service(api.clone(), peer, transport)
        })
    }

    /// Serves on `listen` whatever service `make` builds for each connection's peer.
    pub fn service<M, S, B>(
        mut self,
        name: &'static str,
        listen: impl Into<Listen>,
        make: M,
    ) -> Self
    where
        M: Fn(SocketAddr) -> S + Send + Sync + 'static,
        S: ConnectionService<B>,
        B: SendBody,
    {
        let http = self.http;
        let Listen { tcp, tls } = listen.into();
        let serve = move |stream: TcpStream, peer: SocketAddr, watcher: Watcher| {
            let _ = stream.set_nodelay(true);
            let service = make(peer);
            match &tls {
                None => {
                    tokio::spawn(serve_connection(http, watcher, stream, peer, service));
                }
                Some(tls) => {
                    let handshake = tls.acceptor().accept(stream);
                    tokio::spawn(serve_tls(http, watcher, handshake, name, peer, service));
                }
            }
        };
        self.listeners.push(Listener {
            name,
            tcp,
            serve: Box::new(serve),
        });
        self
    }

    /// Accepts connections on every listener until `shutdown` completes, then stops
    /// listening and lets in-flight requests finish for up to `grace`.
    pub async fn run(self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        let mut first = 0;
        loop {
            tokio::select! {
                (i, accepted) = accept_any(&self.listeners, &mut first) => {
                    let listener = &self.listeners[i];
                    match accepted {
                        Ok((stream, peer)) => (listener.serve)(stream, peer, graceful.watcher()),
                        Err(e) => {
                            tracing::warn!(listener = listener.name, error = %e, "accept failed");
                        }
                    }
                }
                _ = &mut shutdown => break,
            }
        }
        tracing::info!("shutting down: waiting for in-flight requests");
        drop(self.listeners);
        match tokio::time::timeout(grace, graceful.shutdown()).await {
            Ok(()) => tracing::info!("all connections closed"),
            Err(_) => tracing::warn!("grace period over; closing remaining connections"),
        }
    }
}

/// The next connection on any listener, and which one. The listener polled first rotates,
/// so a busy one cannot starve the others.
async fn accept_any(
    listeners: &[Listener],
    first: &mut usize,
) -> (usize, std::io::Result<(TcpStream, SocketAddr)>) {
    poll_fn(|cx| {
        let n = listeners.len();
        for step in 0..n {
            let i = (*first + step) % n;
            if let Poll::Ready(accepted) = listeners[i].tcp.poll_accept(cx) {
                *first = (i + 1) % n;
                return Poll::Ready((i, accepted));
            }
        }
        Poll::Pending
    })
    .await
}

/// The hyper service of one connection to a dialect's listener.
fn api_service<A: ApiHandler>(
    api: Arc<ApiServer<A>>,
    peer: SocketAddr,
    transport: Transport,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<ResponseBody>,
    Error = Infallible,
    Future: Send + 'static,
> + Send
+ 'static {
    service_fn(move |mut req: Request<Incoming>| {
        let api = api.clone();
        // The peer address and the transport feed policy conditions (source address,
        // secure transport).
        req.extensions_mut().insert(peer);
        req.extensions_mut().insert(transport);
        async move { Ok::<_, Infallible>(api.handle(req).await) }
    })
}

/// Completes the TLS handshake, then serves HTTP/1 over it. A client gets as long for its
/// handshake as for its request head.
async fn serve_tls<S, B>(
    http: HttpSettings,
    watcher: Watcher,
    handshake: tokio_rustls::Accept<TcpStream>,
    listener: &'static str,
    peer: SocketAddr,
    service: S,
) where
    S: ConnectionService<B>,
    B: SendBody,
{
    match tokio::time::timeout(http.header_read_timeout, handshake).await {
        Ok(Ok(stream)) => serve_connection(http, watcher, stream, peer, service).await,
        Ok(Err(e)) => tracing::debug!(listener, %peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(listener, %peer, "TLS handshake timed out"),
    }
}

/// Serves HTTP/1 on `io` until the client leaves or shutdown ends the connection.
async fn serve_connection<I, S, B>(
    http: HttpSettings,
    watcher: Watcher,
    io: I,
    peer: SocketAddr,
    service: S,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: ConnectionService<B>,
    B: SendBody,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_read_timeout)
        .max_buf_size(http.read_buffer)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
