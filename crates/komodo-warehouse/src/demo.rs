//! The demo data set: deterministic synthetic healthcare data
//! (`DEMO.HEALTHCARE.PATIENTS`, `PROVIDERS`, `CLAIMS`, `PRESCRIPTIONS`)
//! written as Parquet into an account's directory.
//!
//! The same seed and size always give the same rows (a SplitMix64 stream
//! per table, no dependence on thread count or batch size). Nothing here
//! describes a real person: names, codes and amounts are drawn from small
//! fixed lists and uniform distributions.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{Date32Builder, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::WarehouseError;

/// The demo database's name.
pub const DATABASE: &str = "DEMO";
/// The demo schema's name.
pub const SCHEMA: &str = "HEALTHCARE";
/// The demo tables, in generation order.
pub const TABLES: [&str; 4] = ["PROVIDERS", "PATIENTS", "CLAIMS", "PRESCRIPTIONS"];

/// How much demo data to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Number of claims (default 100 000). The other tables scale with it:
    /// patients = claims / 10, providers = claims / 200, prescriptions =
    /// claims / 2 (each at least 10).
    pub claims: u64,
    /// The PRNG seed (default 42).
    pub seed: u64,
    /// Rows per generated Arrow batch (default 65 536); does not change the data.
    pub batch_rows: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { claims: 100_000, seed: 42, batch_rows: 65_536 }
    }
}

impl DemoOptions {
    /// Rows of each table, in [`TABLES`] order.
    pub fn table_rows(&self) -> [u64; 4] {
        let c = self.claims;
        [(c / 200).max(10), (c / 10).max(10), c, (c / 2).max(10)]
    }
}

/// Generation progress, reported after every batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The table being written.
    pub table: &'static str,
    /// Rows of this table written so far.
    pub table_rows_done: u64,
    /// Rows this table will have.
    pub table_rows_total: u64,
    /// Rows of all tables written so far.
    pub rows_done: u64,
    /// Rows of all tables together.
    pub rows_total: u64,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// `(table, rows)` in [`TABLES`] order.
    pub tables: Vec<(&'static str, u64)>,
    /// All rows.
    pub rows: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl DemoSummary {
    /// Rows per second.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// SplitMix64: tiny, fast, and fixed forever (the data set must not change
/// when a dependency does).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn digits(&mut self, buf: &mut String, n: usize) {
        for _ in 0..n {
            buf.push(char::from(b'0' + self.below(10) as u8));
        }
    }
}

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Maria",
    "Wei",
    "Aisha",
    "Omar",
    "Yuki",
    "Priya",
    "Olga",
    "Kwame",
    "Lucia",
    "Noah",
    "Emma",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Nguyen",
    "Patel",
    "Kim",
    "Chen",
    "Okafor",
    "Silva",
    "Novak",
    "Cohen",
    "Rossi",
];
const STATES: &[&str] = &[
    "CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ", "MA", "TN", "IN", "MO", "MD",
    "CO",
];
const SPECIALTIES: &[&str] = &[
    "Family Medicine",
    "Internal Medicine",
    "Cardiology",
    "Endocrinology",
    "Pediatrics",
    "Orthopedic Surgery",
    "Psychiatry",
    "Dermatology",
    "Pulmonology",
    "Emergency Medicine",
    "Radiology",
    "Oncology",
];
/// ICD-10-CM-like diagnosis codes.
const DIAGNOSES: &[&str] = &[
    "E11.9", "I10", "E78.5", "J45.909", "M54.50", "F32.9", "F41.1", "K21.9", "N39.0", "J06.9", "E66.9", "I25.10",
    "J44.9", "M17.11", "G43.909", "R51.9", "Z00.00", "Z23", "E03.9", "I48.91", "N18.3", "R10.9", "L40.0", "C50.919",
];
/// CPT-like procedure codes.
const PROCEDURES: &[&str] = &[
    "99213", "99214", "99215", "99203", "99204", "80053", "85025", "83036", "80061", "93000", "71046", "36415",
    "90471", "90686", "97110", "20610", "45378", "73721", "99284", "11102",
];
/// `(NDC-like code prefix, drug name)`.
const DRUGS: &[(&str, &str)] = &[
    ("00071-0155", "Atorvastatin 10 MG"),
    ("00093-7180", "Lisinopril 20 MG"),
    ("00378-0234", "Metformin 500 MG"),
    ("00069-1530", "Amlodipine 5 MG"),
    ("00186-5020", "Omeprazole 20 MG"),
    ("00781-5184", "Levothyroxine 50 MCG"),
    ("00093-0058", "Albuterol 90 MCG Inhaler"),
    ("00172-4363", "Sertraline 50 MG"),
    ("00591-0405", "Gabapentin 300 MG"),
    ("00054-4297", "Hydrochlorothiazide 25 MG"),
    ("00603-5166", "Losartan 50 MG"),
    ("00002-7510", "Insulin Glargine 100 UNIT/ML"),
    ("00378-1800", "Simvastatin 20 MG"),
    ("00093-3147", "Amoxicillin 500 MG"),
    ("00078-0357", "Montelukast 10 MG"),
];
const CLAIM_STATUS: &[&str] =
    &["PAID", "PAID", "PAID", "PAID", "PAID", "PAID", "PAID", "DENIED", "PENDING", "ADJUSTED"];
const PRESCRIPTION_SUPPLY: &[i32] = &[7, 10, 14, 30, 30, 30, 60, 90, 90];

/// 2015-01-01 and 2025-01-01 as days since the epoch.
const SERVICE_START: i32 = 16_436;
const SERVICE_DAYS: u64 = 3_653;
/// 1935-01-01 as days since the epoch; births span 85 years.
const BIRTH_START: i32 = -12_784;
const BIRTH_DAYS: u64 = 31_046;

fn schema_of(table: &str) -> SchemaRef {
    let f = |n: &str, t: DataType, nullable: bool| Field::new(n, t, nullable);
    let money = || DataType::Decimal128(12, 2);
    Arc::new(Schema::new(match table {
        "PROVIDERS" => vec![
            f("PROVIDER_ID", DataType::Int64, false),
            f("NPI", DataType::Utf8, false),
            f("PROVIDER_NAME", DataType::Utf8, false),
            f("SPECIALTY", DataType::Utf8, false),
            f("STATE", DataType::Utf8, false),
        ],
        "PATIENTS" => vec![
            f("PATIENT_ID", DataType::Int64, false),
            f("FIRST_NAME", DataType::Utf8, false),
            f("LAST_NAME", DataType::Utf8, false),
            f("GENDER", DataType::Utf8, false),
            f("BIRTH_DATE", DataType::Date32, false),
            f("STATE", DataType::Utf8, false),
            f("ZIP", DataType::Utf8, false),
        ],
        "CLAIMS" => vec![
            f("CLAIM_ID", DataType::Int64, false),
            f("PATIENT_ID", DataType::Int64, false),
            f("PROVIDER_ID", DataType::Int64, false),
            f("SERVICE_DATE", DataType::Date32, false),
            f("DIAGNOSIS_CODE", DataType::Utf8, false),
            f("PROCEDURE_CODE", DataType::Utf8, false),
            f("CLAIM_AMOUNT", money(), false),
            f("PAID_AMOUNT", money(), true),
            f("STATUS", DataType::Utf8, false),
        ],
        _ => vec![
            f("PRESCRIPTION_ID", DataType::Int64, false),
            f("PATIENT_ID", DataType::Int64, false),
            f("PROVIDER_ID", DataType::Int64, false),
            f("FILL_DATE", DataType::Date32, false),
            f("NDC", DataType::Utf8, false),
            f("DRUG_NAME", DataType::Utf8, false),
            f("DAYS_SUPPLY", DataType::Int32, false),
            f("QUANTITY", DataType::Int32, false),
            f("COST", money(), false),
        ],
    }))
}

struct Gen {
    rng: Rng,
    patients: u64,
    providers: u64,
}

impl Gen {
    /// Rows `start..start + n` of `table` (ids are 1-based row numbers).
    fn batch(&mut self, table: &str, schema: &SchemaRef, start: u64, n: usize) -> Result<RecordBatch, WarehouseError> {
        let r = &mut self.rng;
        let ids = Int64Builder::with_capacity(n);
        let mut ids = ids;
        for i in 0..n as u64 {
            ids.append_value((start + i + 1) as i64);
        }
        let mut buf = String::new();
        let columns: Vec<ArrayRef> = match table {
            "PROVIDERS" => {
                let (mut npi, mut name, mut spec, mut state) =
                    (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
                for _ in 0..n {
                    buf.clear();
                    buf.push('1');
                    r.digits(&mut buf, 9);
                    npi.append_value(&buf);
                    name.append_value(format!("Dr. {} {}", r.pick(FIRST_NAMES), r.pick(LAST_NAMES)));
                    spec.append_value(r.pick(SPECIALTIES));
                    state.append_value(r.pick(STATES));
                }
                vec![
                    Arc::new(ids.finish()),
                    Arc::new(npi.finish()),
                    Arc::new(name.finish()),
                    Arc::new(spec.finish()),
                    Arc::new(state.finish()),
                ]
            }
            "PATIENTS" => {
                let (mut first, mut last, mut gender, mut state, mut zip) = (
                    StringBuilder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                );
                let mut birth = Date32Builder::with_capacity(n);
                for _ in 0..n {
                    first.append_value(r.pick(FIRST_NAMES));
                    last.append_value(r.pick(LAST_NAMES));
                    gender.append_value(if r.below(2) == 0 { "F" } else { "M" });
                    birth.append_value(BIRTH_START + r.below(BIRTH_DAYS) as i32);
                    state.append_value(r.pick(STATES));
                    buf.clear();
                    r.digits(&mut buf, 5);
                    zip.append_value(&buf);
                }
                vec![
                    Arc::new(ids.finish()),
                    Arc::new(first.finish()),
                    Arc::new(last.finish()),
                    Arc::new(gender.finish()),
                    Arc::new(birth.finish()),
                    Arc::new(state.finish()),
                    Arc::new(zip.finish()),
                ]
            }
            "CLAIMS" => {
                let (mut patient, mut provider) = (Int64Builder::with_capacity(n), Int64Builder::with_capacity(n));
                let mut date = Date32Builder::with_capacity(n);
                let (mut dx, mut px, mut status) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
                let mut amount = Decimal128Builder::with_capacity(n);
                let mut paid = Decimal128Builder::with_capacity(n);
                for _ in 0..n {
                    patient.append_value(1 + r.below(self.patients) as i64);
                    provider.append_value(1 + r.below(self.providers) as i64);
                    date.append_value(SERVICE_START + r.below(SERVICE_DAYS) as i32);
                    dx.append_value(r.pick(DIAGNOSES));
                    px.append_value(r.pick(PROCEDURES));
                    // $25.00 .. $5 025.00, skewed towards small claims.
                    let cents = 2_500 + (r.below(500_000) * r.below(1_000) / 1_000) as i128;
                    amount.append_value(cents);
                    let st = r.pick(CLAIM_STATUS);
                    status.append_value(st);
                    match st {
                        "PAID" | "ADJUSTED" => paid.append_value(cents * (60 + r.below(41) as i128) / 100),
                        "DENIED" => paid.append_value(0),
                        _ => paid.append_null(),
                    }
                }
                let dec = |b: &mut Decimal128Builder| -> Result<ArrayRef, WarehouseError> {
                    Ok(Arc::new(
                        b.finish()
                            .with_precision_and_scale(12, 2)
                            .map_err(|e| WarehouseError::Internal(e.to_string()))?,
                    ))
                };
                vec![
                    Arc::new(ids.finish()),
                    Arc::new(patient.finish()),
                    Arc::new(provider.finish()),
                    Arc::new(date.finish()),
                    Arc::new(dx.finish()),
                    Arc::new(px.finish()),
                    dec(&mut amount)?,
                    dec(&mut paid)?,
                    Arc::new(status.finish()),
                ]
            }
            _ => {
                let (mut patient, mut provider) = (Int64Builder::with_capacity(n), Int64Builder::with_capacity(n));
                let mut date = Date32Builder::with_capacity(n);
                let (mut ndc, mut drug) = (StringBuilder::new(), StringBuilder::new());
                let (mut supply, mut quantity) = (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
                let mut cost = Decimal128Builder::with_capacity(n);
                for _ in 0..n {
                    patient.append_value(1 + r.below(self.patients) as i64);
                    provider.append_value(1 + r.below(self.providers) as i64);
                    date.append_value(SERVICE_START + r.below(SERVICE_DAYS) as i32);
                    let (code, name) = DRUGS[r.below(DRUGS.len() as u64) as usize];
                    buf.clear();
                    buf.push_str(code);
                    buf.push('-');
                    r.digits(&mut buf, 2);
                    ndc.append_value(&buf);
                    drug.append_value(name);
                    let days = PRESCRIPTION_SUPPLY[r.below(PRESCRIPTION_SUPPLY.len() as u64) as usize];
                    supply.append_value(days);
                    quantity.append_value(days * (1 + r.below(2) as i32));
                    cost.append_value(i128::from(days) * (20 + r.below(480) as i128));
                }
                vec![
                    Arc::new(ids.finish()),
                    Arc::new(patient.finish()),
                    Arc::new(provider.finish()),
                    Arc::new(date.finish()),
                    Arc::new(ndc.finish()),
                    Arc::new(drug.finish()),
                    Arc::new(supply.finish()),
                    Arc::new(quantity.finish()),
                    Arc::new(
                        cost.finish()
                            .with_precision_and_scale(12, 2)
                            .map_err(|e| WarehouseError::Internal(e.to_string()))?,
                    ),
                ]
            }
        };
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| WarehouseError::Internal(e.to_string()))
    }
}

/// Generates the demo data set into `account_dir`
/// (`<account_dir>/DEMO/HEALTHCARE/<TABLE>/part-0.parquet`), replacing any
/// previous demo tables. CPU-bound and synchronous: call it from
/// `spawn_blocking`. `progress` is called after every batch.
pub fn generate(
    account_dir: &Path,
    options: &DemoOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<DemoSummary, WarehouseError> {
    let started = Instant::now();
    let schema_dir = account_dir.join(DATABASE).join(SCHEMA);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WarehouseError::Io { path, source }
    };
    std::fs::create_dir_all(&schema_dir).map_err(io(&schema_dir))?;
    let rows = options.table_rows();
    let rows_total: u64 = rows.iter().sum();
    let mut rows_done = 0;
    let batch_rows = options.batch_rows.max(1) as u64;
    let mut tables = Vec::new();
    for (t, (table, table_rows)) in TABLES.iter().zip(rows).enumerate() {
        let schema = schema_of(table);
        let tmp: PathBuf = schema_dir.join(format!("_{table}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let file_path = tmp.join("part-0.parquet");
        let file = File::create(&file_path).map_err(io(&file_path))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| WarehouseError::Internal(e.to_string()))?;
        let mut generator = Gen { rng: Rng::new(options.seed, t as u64 + 1), patients: rows[1], providers: rows[0] };
        let mut done = 0u64;
        while done < table_rows {
            let n = batch_rows.min(table_rows - done);
            let batch = generator.batch(table, &schema, done, n as usize)?;
            writer.write(&batch).map_err(|e| WarehouseError::Internal(e.to_string()))?;
            done += n;
            rows_done += n;
            progress(&Progress { table, table_rows_done: done, table_rows_total: table_rows, rows_done, rows_total });
        }
        writer.close().map_err(|e| WarehouseError::Internal(e.to_string()))?;
        let final_dir = schema_dir.join(table);
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        tables.push((*table, table_rows));
    }
    Ok(DemoSummary { tables, rows: rows_total, elapsed: started.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_fixed() {
        let mut r = Rng::new(42, 1);
        let a: Vec<u64> = (0..3).map(|_| r.below(1000)).collect();
        let mut r = Rng::new(42, 1);
        let b: Vec<u64> = (0..3).map(|_| r.below(1000)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|x| *x < 1000));
    }

    #[test]
    fn batches_do_not_change_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let small = DemoOptions { claims: 1_000, seed: 7, batch_rows: 333 };
        let large = DemoOptions { batch_rows: 100_000, ..small.clone() };
        generate(&dir.path().join("a"), &small, |_| {}).unwrap();
        generate(&dir.path().join("b"), &large, |_| {}).unwrap();
        for t in TABLES {
            let rows = |d: &str| -> Vec<RecordBatch> {
                let path = dir.path().join(d).join(DATABASE).join(SCHEMA).join(t).join("part-0.parquet");
                parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(File::open(path).unwrap(), 1 << 20)
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            let (a, b) = ("a", "b");
            assert_eq!(rows(a), rows(b), "{t}");
        }
    }
}
