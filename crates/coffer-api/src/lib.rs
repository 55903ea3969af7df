//! What every wire dialect of Coffer shares, and nothing any one of them says.
//!
//! A dialect (the OSS API in `coffer-oss`, the S3 API later) plugs in here; this crate
//! knows no header name, XML document, signature scheme or error code of any of them.
//!
//! * [`pipeline`]: the request pipeline ([`ApiServer`]) around the trait a dialect
//!   implements ([`ApiHandler`]): request id, limits, error rendering, one log line,
//!   metrics.
//! * [`server`]: the listeners, one per dialect, and graceful shutdown.
//! * [`tls`]: a listener's certificate, served with rustls and reloadable.
//! * [`body`]: the request and response body types handlers exchange.
//! * [`identity`]: who holds an AccessKey and its secret, as every dialect asks.

pub mod body;
pub mod identity;
pub mod pipeline;
pub mod server;
pub mod tls;

pub use body::{RequestBody, ResponseBody};
pub use pipeline::{ApiError, ApiHandler, ApiServer, Endpoint, LimitExceeded, Limits};
pub use server::{HttpSettings, Listen, Server, Transport};
pub use tls::{Tls, TlsError, TlsFiles};
