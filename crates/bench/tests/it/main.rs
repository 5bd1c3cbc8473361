//! Integration tests of `reactor-chat-bench`: the real load generator against the real server
//! (found by the harness, `crates/testkit`) and against Redis.

mod bench;
