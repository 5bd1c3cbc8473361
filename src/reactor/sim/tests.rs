//! The simulation's runs in `cargo test`: a few thousand seeds, each a short run. `SIM_SEEDS`,
//! `SIM_FIRST_SEED` and `SIM_STEPS` make the run longer or replay one seed (fuzz/README.md).

use std::net::SocketAddr;

use clap::Parser;

use super::entropy::Entropy;
use super::kernel::{Faults, Kernel};
use super::{run_seed, Summary};
use crate::config::Config;
use crate::reactor::Reactor;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `seeds` seeds from `first` on every core; panics with the first failure's report.
fn run_seeds(first: u64, seeds: u64, steps: usize) -> Summary {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let runs: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut total = Summary::default();
                let mut seed = first + t;
                while seed < first + seeds {
                    match run_seed(seed, steps) {
                        Ok(s) => {
                            total.turns += s.turns;
                            total.accepted += s.accepted;
                            total.chat_lines_heard += s.chat_lines_heard;
                            total.logins += s.logins;
                            total.queue_drops += s.queue_drops;
                            total.flood_throttles += s.flood_throttles;
                            total.resets += s.resets;
                        }
                        Err(failure) => {
                            return Err(format!(
                                "seed {seed} failed; replay it with \
                                 SIM_FIRST_SEED={seed} SIM_SEEDS=1 SIM_STEPS={steps} cargo test --lib reactor::sim\n{failure}"
                            ))
                        }
                    }
                    seed += threads;
                }
                Ok(total)
            })
        })
        .collect();
    let mut total = Summary::default();
    for run in runs {
        match run.join().expect("a simulation thread panicked") {
            Ok(s) => {
                total.turns += s.turns;
                total.accepted += s.accepted;
                total.chat_lines_heard += s.chat_lines_heard;
                total.logins += s.logins;
                total.queue_drops += s.queue_drops;
                total.flood_throttles += s.flood_throttles;
                total.resets += s.resets;
            }
            Err(report) => panic!("{report}"),
        }
    }
    total
}

#[test]
fn seeds_keep_every_check() {
    let first = env("SIM_FIRST_SEED", 0);
    let seeds = env("SIM_SEEDS", 2000);
    let steps = env("SIM_STEPS", 150) as usize;
    let total = run_seeds(first, seeds, steps);
    // The runs must reach what they are there to test, or passing means little.
    assert!(total.logins > seeds, "{total:?}");
    assert!(total.chat_lines_heard > seeds * 5, "{total:?}");
    assert!(total.queue_drops > 0, "{total:?}");
    assert!(total.flood_throttles > 0, "{total:?}");
    assert!(total.resets > 0, "{total:?}");
}

/// The seam carries a whole conversation: two clients log in on simulated sockets and one
/// hears the other's line.
#[test]
fn a_line_crosses_the_simulated_kernel() {
    let kernel = Kernel::new(Entropy::seeded(1), Faults::NONE);
    let cfg = Config::parse_from(["reactor-chat", "--no-history", "--greet-delay-ms=0"]);
    let mut reactor = Reactor::simulated(cfg, &kernel, None).unwrap();
    let mut events = reactor.poll.events(64);
    let a = kernel
        .borrow_mut()
        .connect(SocketAddr::from(([10, 0, 0, 1], 1)));
    let b = kernel
        .borrow_mut()
        .connect(SocketAddr::from(([10, 0, 0, 2], 2)));
    kernel.borrow_mut().send(a, b"alice\n");
    kernel.borrow_mut().send(b, b"bob\n");
    let mut heard = Vec::new();
    for turn in 0..200 {
        if turn == 20 {
            kernel.borrow_mut().send(a, b"hello bob\n");
        }
        reactor.turn(&mut events).unwrap();
        kernel.borrow_mut().client_read(a, usize::MAX);
        heard.extend(kernel.borrow_mut().client_read(b, usize::MAX));
    }
    let heard = String::from_utf8_lossy(&heard);
    assert!(heard.contains("Welcome, bob!"), "{heard}");
    assert!(heard.contains("alice: hello bob\r\n"), "{heard}");
}

/// The fuzz target's way in: the committed seed inputs run clean, and an empty input is a run
/// with no step.
#[test]
fn fuzz_inputs_steer_a_run() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/reactor_sim");
    let mut ran = 0;
    for entry in std::fs::read_dir(corpus).expect("the reactor_sim corpus") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        if let Err(failure) = super::run_input(&data, 400) {
            panic!("{failure}");
        }
        ran += 1;
    }
    assert!(ran > 0);
    assert!(super::run_input(&[], 400).is_ok());
}

/// A seed replays: the same run, turn for turn, so a failure's replay command shows the failure.
#[test]
fn a_seed_replays() {
    for seed in [3, 59, 101] {
        assert_eq!(run_seed(seed, 150).unwrap(), run_seed(seed, 150).unwrap());
    }
}
