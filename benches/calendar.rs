//! Calendar arithmetic and clock evaluation (criterion). Target: ≥ 10M calendar ops/s.
//!
//! `cargo bench --bench calendar`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use chrono::{Days, NaiveDate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use permits::domain::calendar::{Calendar, RegionFile, YearNotice};
use permits::domain::definition::Warning;
use permits::domain::definition::{DayUnit, Limit, SuspendReason};
use permits::domain::legal_time::{self, LedgerEntry, LedgerKind};

fn cn() -> Calendar {
    let text = include_str!("../seeds/calendars/CN.toml");
    let f = RegionFile::parse("CN.toml", text).unwrap();
    let notices: Vec<YearNotice> = f.years.iter().map(|y| y.to_notice().unwrap()).collect();
    Calendar::build("CN", &notices, &f.local().unwrap()).unwrap()
}

/// 1,024 pseudo-random (date, n) pairs across 2023–2027, fixed so runs compare.
fn inputs() -> Vec<(NaiveDate, u32)> {
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let day = start.checked_add_days(Days::new(x % (5 * 365))).unwrap();
            (day, (x >> 32) as u32 % 60)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cal = cn();
    let xs = inputs();
    let mut g = c.benchmark_group("calendar");
    g.throughput(Throughput::Elements(xs.len() as u64));
    g.bench_function("add_working_days", |b| {
        b.iter(|| {
            for (d, n) in &xs {
                black_box(cal.add_working_days(black_box(*d), black_box(*n)).unwrap());
            }
        })
    });
    g.bench_function("working_days_between", |b| {
        b.iter(|| {
            for (d, n) in &xs {
                let to = d.checked_add_days(Days::new(u64::from(*n))).unwrap();
                black_box(
                    cal.working_days_between(black_box(*d), black_box(to))
                        .unwrap(),
                );
            }
        })
    });
    g.bench_function("is_working", |b| {
        b.iter(|| {
            for (d, _) in &xs {
                black_box(cal.is_working(black_box(*d)).unwrap());
            }
        })
    });
    g.finish();

    // A whole clock from a ledger with a suspension, as a filing view computes it.
    let limit = Limit {
        days: 20,
        unit: DayUnit::Working,
    };
    let on = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let ledger = [
        LedgerEntry {
            kind: LedgerKind::Start,
            on: on("2025-09-26"),
        },
        LedgerEntry {
            kind: LedgerKind::Suspend(SuspendReason::PublicNotice),
            on: on("2025-09-26"),
        },
        LedgerEntry {
            kind: LedgerKind::Resume,
            on: on("2025-10-13"),
        },
    ];
    let mut g = c.benchmark_group("clock");
    g.throughput(Throughput::Elements(1));
    g.bench_function("evaluate", |b| {
        b.iter(|| {
            black_box(
                legal_time::evaluate(
                    &cal,
                    limit,
                    black_box(&ledger),
                    on("2025-10-20"),
                    Warning::DaysBefore(2),
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
