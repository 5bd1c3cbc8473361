//! The cluster's link to Redis: one non-blocking TCP connection, owned by the reactor thread like
//! every other socket, that carries commands and pub/sub traffic in RESP3.
//!
//! [`url`] reads where Redis is and how to log in.

pub mod url;

pub use url::RedisUrl;
