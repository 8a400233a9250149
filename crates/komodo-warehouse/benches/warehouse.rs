//! Warehouse benchmarks: demo data generation (rows/s) and a full scan of a
//! 6-column table through the engine as Arrow batches (rows/s).
//!
//! `KOMODO_BENCH_CLAIMS` (default 100 000) sizes the demo generation;
//! `KOMODO_BENCH_SCAN_ROWS` (default 10 000 000) sizes the scanned table.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use komodo_warehouse::{CancellationToken, Engine, EngineConfig, demo};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn demo_generation(c: &mut Criterion) {
    let claims = env_u64("KOMODO_BENCH_CLAIMS", 100_000);
    let options = demo::DemoOptions { claims, ..Default::default() };
    let rows: u64 = options.table_rows().iter().sum();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("demo");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows));
    group.bench_function(format!("generate_{claims}_claims"), |b| {
        b.iter(|| demo::generate(dir.path(), &options, |_| {}).unwrap())
    });
    group.finish();
}

/// Writes `<root>/bench/BENCH/PUBLIC/WIDE/part-0.parquet`: 6 columns.
fn write_wide(root: &std::path::Path, rows: u64) {
    let dir = root.join("bench").join("BENCH").join("PUBLIC").join("WIDE");
    std::fs::create_dir_all(&dir).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ID", DataType::Int64, false),
        Field::new("QTY", DataType::Int64, false),
        Field::new("PRICE", DataType::Float64, false),
        Field::new("CODE", DataType::Utf8, false),
        Field::new("DAY", DataType::Date32, false),
        Field::new("FLAG", DataType::Boolean, false),
    ]));
    let file = std::fs::File::create(dir.join("part-0.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    let codes = ["A10", "B20", "C30", "D40", "E50", "F60", "G70", "H80"];
    let mut start = 0u64;
    while start < rows {
        let n = (rows - start).min(1 << 16) as usize;
        let ids: Vec<i64> = (0..n as i64).map(|i| start as i64 + i).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 97))),
            Arc::new(Float64Array::from_iter_values(ids.iter().map(|i| (i % 1000) as f64 * 0.25))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|i| codes[(*i % 8) as usize]))),
            Arc::new(Date32Array::from_iter_values(ids.iter().map(|i| 19_000 + (i % 365) as i32))),
            Arc::new(BooleanArray::from_iter(ids.iter().map(|i| Some(i % 3 == 0)))),
        ];
        writer.write(&RecordBatch::try_new(schema.clone(), columns).unwrap()).unwrap();
        start += n as u64;
    }
    writer.close().unwrap();
}

fn engine_scan(c: &mut Criterion) {
    let rows = env_u64("KOMODO_BENCH_SCAN_ROWS", 10_000_000);
    let dir = tempfile::tempdir().unwrap();
    write_wide(dir.path(), rows);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let engine = Engine::new(dir.path(), EngineConfig::default()).unwrap();
    let session = runtime.block_on(engine.open_session("bench", Some("BENCH"), Some("PUBLIC"))).unwrap();
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows));
    group.bench_function(format!("scan_{rows}_rows_6_columns"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut stream = engine
                    .execute_stream("bench", session, "SELECT * FROM wide", vec![], CancellationToken::new())
                    .await
                    .unwrap();
                let mut n = 0;
                while let Some(batch) = stream.next().await {
                    n += black_box(batch.unwrap()).num_rows();
                }
                assert_eq!(n as u64, rows);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, demo_generation, engine_scan);
criterion_main!(benches);
