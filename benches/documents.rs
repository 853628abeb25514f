//! Documents (criterion): rendering a sheet to PDF (the CJK font subset and embedded), sealing
//! it with SM2/SM3, and checking a sealed file, for a one-page notice and for the construction
//! permit. What an issuing action adds to its request is the render and seal of each document
//! it issues (after its commit, outside the filing's lock) plus a few inserts under the lock;
//! `cargo bench --bench load` measures that end to end (README).
//!
//! `cargo bench --bench documents`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use permits::documents::seal::{self, SealKey, SealRecord};
use permits::documents::{Layout, Sheet, pdf};

fn sheet(layout: Layout) -> Sheet {
    let rows: Vec<(String, String)> = [
        ("申请号", "SGXK-2026-000001"),
        ("工程名称", "示范小学教学楼"),
        ("建设单位", "示范建设集团有限公司"),
        ("建设地址", "示范区文昌路 88 号"),
        ("合同价格（元）", "11800000"),
        ("建筑面积（平方米）", "8650.5"),
        ("勘察单位", "示范勘察院有限公司"),
        ("设计单位", "示范建筑设计研究院有限公司"),
        ("施工单位", "示范建工有限公司"),
        ("监理单位", "示范工程监理有限公司"),
        ("项目经理", "王建国"),
        ("总监理工程师", "陈监理"),
        ("开工期限", "2027年3月3日"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    Sheet {
        layout,
        authority: "长沙市岳麓区住房和城乡建设局".into(),
        title: "建筑工程施工许可证".into(),
        number: "430104202612030101".into(),
        addressee: Some("示范建设集团有限公司".into()),
        mark: None,
        paragraphs: vec![
            "你（单位）于2026年12月3日提交的建筑工程施工许可证核发申请（申请号：SGXK-2026-000001），申请材料齐全、符合法定形式。根据《中华人民共和国行政许可法》第三十二条第一款第五项的规定，本机关决定予以受理。".into(),
        ],
        items: Vec::new(),
        rows,
        closing: Vec::new(),
        basis: Some("《中华人民共和国行政许可法》第三十二条".into()),
        date: "2026年12月3日".into(),
        seal_role: "行政审批专用章".into(),
        identifier: Some(
            "1.2.156.3005.2.11100000000013338W032.11430104MB1234567Y.2026120301.001.Q".into(),
        ),
        verify_url: Some("https://permits.example.gov.cn/verify?id=1.2.156.3005.2.11100000000013338W032.11430104MB1234567Y.2026120301.001.Q".into()),
    }
}

fn record() -> SealRecord {
    SealRecord {
        document: "00000000-0000-0000-0000-000000000000".into(),
        title: "建筑工程施工许可证".into(),
        number: "430104202612030101".into(),
        identifier: None,
        filing_number: Some("SGXK-2026-000001".into()),
        issued_at: "2026-12-03T02:00:00Z".into(),
        pdf_sm3: String::new(),
        data_sm3: String::new(),
        key: String::new(),
    }
}

fn bench(c: &mut Criterion) {
    // The font is parsed once per process: pay it before timing.
    pdf::render(&sheet(Layout::Notice)).unwrap();
    let key = SealKey::generate();
    let mut g = c.benchmark_group("documents");
    g.throughput(Throughput::Elements(1));
    for (name, layout) in [
        ("notice", Layout::Notice),
        ("certificate", Layout::Certificate),
    ] {
        let s = sheet(layout);
        g.bench_function(format!("render_{name}"), |b| {
            b.iter(|| black_box(pdf::render(black_box(&s)).unwrap()))
        });
        g.bench_function(format!("render_and_seal_{name}"), |b| {
            b.iter(|| {
                let body = pdf::render(black_box(&s)).unwrap();
                black_box(seal::seal(&body, record(), &key))
            })
        });
    }
    let body = pdf::render(&sheet(Layout::Certificate)).unwrap();
    let (file, _, _) = seal::seal(&body, record(), &key);
    let public = key.public();
    g.bench_function("verify_sealed_file", |b| {
        b.iter(|| black_box(seal::verify(black_box(&file), &public)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
