//! The deadline heap (`reactor_chat::timer::Timers`): insert and expire.
//!
//! Every connection sets a greeting and a login timer when it arrives, so a connect storm of
//! thousands is thousands of inserts, then as many expiries; the heap must stay O(log n) with
//! stale entries left in place.

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reactor_chat::timer::Timers;

/// Deadlines spread over ten seconds in a scrambled order (a multiplicative hash of the index).
fn deadlines(t0: Instant, n: usize) -> Vec<Instant> {
    (0..n)
        .map(|i| {
            let ms = (i as u64).wrapping_mul(2_654_435_761) % 10_000;
            t0 + Duration::from_millis(ms)
        })
        .collect()
}

fn insert_then_expire(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers");
    group.sample_size(30);
    let t0 = Instant::now();
    for n in [1_000usize, 10_000] {
        let at = deadlines(t0, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("insert+expire", n), &at, |b, at| {
            b.iter(|| {
                let mut timers = Timers::new();
                for (i, &deadline) in at.iter().enumerate() {
                    timers.insert(deadline, i);
                }
                let end = t0 + Duration::from_secs(11);
                let mut fired = 0;
                while let Some(item) = timers.pop_due(end) {
                    black_box(item);
                    fired += 1;
                }
                fired
            });
        });
    }
    // Steady state: a heap of 10,000 pending timers, one insert and one expiry per step.
    group.throughput(Throughput::Elements(1));
    group.bench_function("steady-10000", |b| {
        let mut timers = Timers::new();
        let mut now = t0;
        for (i, deadline) in deadlines(t0, 10_000).into_iter().enumerate() {
            timers.insert(deadline, i);
        }
        let mut i = 0usize;
        b.iter(|| {
            now += Duration::from_micros(1);
            timers.insert(now + Duration::from_secs(10), i);
            i += 1;
            black_box(timers.pop_due(now + Duration::from_secs(10)))
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = insert_then_expire
}
criterion_main!(benches);
