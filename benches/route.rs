//! Routing-table lookups per second at 100, 10,000 and 100,000 address spaces, beside a
//! linear scan of the same entries with the same matcher (the peer: what a naive GWART
//! does). Also the time to compile a 100,000-entry table.
//!
//! Run: `cargo bench --bench route`
//!
//! `route/lookup` is wall-clock time. On a shared, loaded machine that mostly measures the
//! other processes, so `route/lookup-cpu` times the same loop by the thread's own on-CPU
//! time (`/proc/thread-self/schedstat`, updated at scheduler ticks, so samples are long;
//! wall time where that file is missing).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use postern_route::{
    AddressPattern, AddressSpace, AddressType, Connector, Limits, MatchQuality, RouteRequest,
    RoutingTable, RoutingTableBuilder,
};

const SIZES: [usize; 3] = [100, 10_000, 100_000];
const CONNECTORS: usize = 64;

/// A deterministic table of `n` SMTP address spaces in the shapes real ones take: mostly
/// domains, some subdomain wildcards and single addresses, a handful of general wildcards
/// and one type-only default.
fn spaces(n: usize) -> Vec<(String, String, u32)> {
    let mut out = Vec::with_capacity(n);
    out.push(("c0".to_owned(), "*".to_owned(), 50));
    for (i, p) in [
        "*@mail*.example.net",
        "postmaster@*",
        "*@%%.example.org",
        "*-admin@*.example.com",
        "*@*.*.gov",
        "abuse@*",
        "*@smtp%.example.io",
        "list-*@lists.example.*",
    ]
    .iter()
    .enumerate()
    {
        out.push((format!("c{}", i % CONNECTORS), (*p).to_owned(), 20));
    }
    let mut i = 0usize;
    while out.len() < n {
        let conn = format!("c{}", i % CONNECTORS);
        let cost = 1 + (i % 7) as u32;
        let pattern = match i % 10 {
            0..=6 => format!("d{i}.example{}.com", i % 97),
            7 | 8 => format!("*.s{i}.example{}.org", i % 89),
            _ => format!("user{i}@d{}.example{}.com", i - 9, (i - 9) % 97),
        };
        out.push((conn, pattern, cost));
        i += 1;
    }
    out
}

fn build(spaces: &[(String, String, u32)]) -> RoutingTable {
    let mut b = RoutingTableBuilder::new();
    for c in 0..CONNECTORS {
        b.connector(Connector::new(format!("c{c}")));
    }
    for (c, p, cost) in spaces {
        b.address_space(AddressSpace::new(c.clone(), "SMTP", p.clone()).cost(*cost));
    }
    b.build().expect("bench table builds")
}

/// Addresses that hit every kind of entry across the table, and some that only the
/// default matches.
fn addresses(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let step = (n / 200).max(1);
    let mut i = 0usize;
    while out.len() < 1024 {
        let k = (i * step + i) % n.max(10);
        out.push(match i % 6 {
            0 | 1 => format!("jo.smith@d{k}.example{}.com", k % 97),
            2 => format!("x@mx.s{k}.example{}.org", k % 89),
            3 => format!(
                "user{k}@d{}.example{}.com",
                k.saturating_sub(9),
                k.saturating_sub(9) % 97
            ),
            4 => format!("someone@nowhere{i}.example"),
            _ => format!("Mixed.Case@D{k}.EXAMPLE{}.COM", k % 97),
        });
        i += 1;
    }
    out
}

/// The peer: test every entry, keep the best match (quality, then cost).
fn linear_best(
    patterns: &[(AddressPattern, u32)],
    address: &str,
    limits: &Limits,
) -> Option<(MatchQuality, u32)> {
    let mut best: Option<(MatchQuality, u32)> = None;
    for (p, cost) in patterns {
        if let Some(q) = p.matches(address, limits) {
            let better = match best {
                None => true,
                Some((bq, bc)) => q > bq || (q == bq && *cost < bc),
            };
            if better {
                best = Some((q, *cost));
            }
        }
    }
    best
}

/// Nanoseconds this thread has spent on a CPU, if the kernel says.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Routes every address once; returns the number of candidates (kept alive by the caller).
fn route_all(table: &RoutingTable, addrs: &[String]) -> usize {
    let mut found = 0usize;
    for (i, a) in addrs.iter().enumerate() {
        let id = if i & 1 == 0 { "<a@b>" } else { "<c@d>" };
        let req = RouteRequest::smtp(a).message_id(id);
        if let Ok(r) = table.route(black_box(&req), &()) {
            found += r.candidates.len();
        }
    }
    found
}

fn lookups_cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("route/lookup-cpu");
    // The kernel updates the figure at scheduler ticks: long samples keep that error small.
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.warm_up_time(Duration::from_secs(1));
    for &n in &SIZES {
        let table = build(&spaces(n));
        let addrs = addresses(n);
        group.throughput(Throughput::Elements(addrs.len() as u64));
        group.bench_with_input(BenchmarkId::new("table", n), &addrs, |b, addrs| {
            b.iter_custom(|iters| {
                let (cpu0, wall0) = (thread_cpu_ns(), Instant::now());
                for _ in 0..iters {
                    black_box(route_all(&table, addrs));
                }
                match (cpu0, thread_cpu_ns()) {
                    (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
                    _ => wall0.elapsed(),
                }
            })
        });
    }
    group.finish();
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("route/lookup");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for &n in &SIZES {
        let table = build(&spaces(n));
        let addrs = addresses(n);
        group.throughput(Throughput::Elements(addrs.len() as u64));
        group.bench_with_input(BenchmarkId::new("table", n), &addrs, |b, addrs| {
            b.iter(|| black_box(route_all(&table, addrs)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("route/linear-scan");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    let limits = Limits::DEFAULT;
    for &n in &SIZES {
        let patterns: Vec<(AddressPattern, u32)> = spaces(n)
            .iter()
            .map(|(_, p, cost)| {
                let pat = AddressPattern::parse(&AddressType::Smtp, p, &limits).unwrap();
                (pat, *cost)
            })
            .collect();
        // Fewer addresses per iteration: a scan of 100,000 entries is slow.
        let addrs: Vec<String> = addresses(n).into_iter().take(16).collect();
        group.throughput(Throughput::Elements(addrs.len() as u64));
        group.bench_with_input(BenchmarkId::new("scan", n), &addrs, |b, addrs| {
            b.iter(|| {
                let mut found = 0usize;
                for a in addrs {
                    if linear_best(&patterns, black_box(a), &limits).is_some() {
                        found += 1;
                    }
                }
                black_box(found)
            })
        });
    }
    group.finish();
}

fn building(c: &mut Criterion) {
    let mut group = c.benchmark_group("route/build");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let s = spaces(100_000);
    group.bench_function("100000", |b| b.iter(|| black_box(build(&s))));
    group.finish();
}

criterion_group!(benches, lookups, lookups_cpu, building);
criterion_main!(benches);
