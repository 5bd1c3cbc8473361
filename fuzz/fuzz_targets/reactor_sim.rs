//! The reactor on the simulated kernel (`reactor_chat::reactor::sim`), with the fuzz input as
//! the source of every choice the simulation makes: the run's configuration and faults, which
//! client acts and how, how bytes are split and when they arrive, which call says `WouldBlock`,
//! when the clock jumps. The run ends when the input is used up (at most 400 steps), then goes
//! quiet and makes its end-of-run checks.
//!
//! Every check of the simulation applies after every step (see the module's docs): nothing
//! written to a connection already let go, queues within their caps, no lost or reordered line,
//! every departure announced once, the chat core's invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = reactor_chat::reactor::sim::run_input(data, 400) {
        panic!("{failure}");
    }
});
