//! A node's id, claimed in Redis at start.
//!
//! Message ids carry a 10-bit node id (`chat::id`), so two live nodes must never share one. A node
//! claims its id before it serves anyone: `SET rc:{nodes}:node:N SECRET NX PX TIMEOUT` succeeds
//! only if no live node holds N. The node then refreshes the claim every quarter of the timeout
//! (`node::HEARTBEAT_SCRIPT`, which also checks the secret), so a node that dies frees its id
//! within `--cluster-timeout`, and a node whose claim was taken over learns it and stops.
//!
//! The claim is made over a blocking connection: it happens once, before the reactor runs, and
//! a node that cannot reach Redis at start has nothing to serve as part of the cluster.

use std::time::Duration;

use redis_protocol::resp3::types::BytesFrame;

use super::node::node_key;
use super::redis::{blocking, RedisUrl};
use crate::chat::id::random_key;

/// Sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`) and `SET ... NX GET` came with Redis 7: an older
/// Redis accepts the handshake and then refuses every event, so it is refused at start.
fn check_version(url: &RedisUrl) -> Result<(), String> {
    let info = [b"INFO".to_vec(), b"server".to_vec()];
    let replies = blocking::run(url, &[info.to_vec()], Duration::from_secs(5))
        .map_err(|e| format!("cannot claim a node id in Redis at {url}: {e}"))?;
    let text = match replies.first() {
        Some(BytesFrame::BlobString { data, .. } | BytesFrame::VerbatimString { data, .. }) => {
            String::from_utf8_lossy(data).into_owned()
        }
        other => return Err(format!("Redis at {url} answered INFO with {other:?}")),
    };
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(str::trim)
        .unwrap_or("unknown");
    match version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
    {
        Some(major) if major >= 7 => Ok(()),
        _ => Err(format!(
            "the cluster needs Redis 7 or later (sharded pub/sub); the Redis at {url} is {version}"
        )),
    }
}

/// Node ids are 10 bits.
pub const NODE_IDS: u16 = 1024;

/// A claimed node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub node: u16,
    /// What the claim's key holds: only its holder refreshes it.
    pub secret: String,
}

/// Claims `wanted`, or else the first free id from a random start (so nodes starting together
/// rarely race for the same one).
///
/// # Errors
/// Redis cannot be reached or refuses the commands; `wanted` is held by a live node; every id is.
pub fn claim(url: &RedisUrl, wanted: Option<u16>, timeout: Duration) -> Result<Claim, String> {
    check_version(url)?;
    let secret = random_key(24);
    let ttl = timeout.as_millis().to_string();
    let attempt = |node: u16| -> Result<bool, String> {
        let command = [
            b"SET".to_vec(),
            node_key(node).into_bytes(),
            secret.clone().into_bytes(),
            b"NX".to_vec(),
            b"PX".to_vec(),
            ttl.clone().into_bytes(),
        ];
        let replies = blocking::run(url, &[command.to_vec()], Duration::from_secs(5))
            .map_err(|e| format!("cannot claim a node id in Redis at {url}: {e}"))?;
        match replies.first() {
            Some(BytesFrame::SimpleString { .. }) => Ok(true),
            Some(BytesFrame::Null) => Ok(false),
            Some(BytesFrame::SimpleError { data, .. }) => {
                Err(format!("Redis at {url} refused the node id claim: {data}"))
            }
            other => Err(format!(
                "Redis at {url} answered the node id claim with {other:?}"
            )),
        }
    };
    if let Some(node) = wanted {
        return if attempt(node)? {
            Ok(Claim { node, secret })
        } else {
            Err(format!(
                "node id {node} is held by a live node of the cluster at {url} (ids are freed \
                 {} s after their node stops; leave --node-id out to take a free one)",
                timeout.as_secs()
            ))
        };
    }
    let mut start = [0u8; 2];
    getrandom::getrandom(&mut start).map_err(|e| e.to_string())?;
    let start = u16::from_le_bytes(start) % NODE_IDS;
    for offset in 0..NODE_IDS {
        let node = (start + offset) % NODE_IDS;
        if attempt(node)? {
            return Ok(Claim { node, secret });
        }
    }
    Err(format!(
        "all {NODE_IDS} node ids are held by live nodes of the cluster at {url}"
    ))
}
