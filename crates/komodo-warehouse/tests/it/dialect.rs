//! The Snowflake dialect that analysts use daily: each line of the README's
//! support list is checked here.

use crate::support::{A, fixture};

/// `(sql, expected first value as Snowflake JSON text)`.
const WORKS: &[(&str, &str)] = &[
    ("SELECT IFF(1 > 2, 'a', 'b')", "b"),
    ("SELECT NVL(NULL, 'x')", "x"),
    ("SELECT NVL2(NULL, 'x', 'y')", "y"),
    ("SELECT COALESCE(NULL, 2)", "2"),
    ("SELECT ZEROIFNULL(NULL::INT)", "0"),
    ("SELECT NULLIFZERO(0) IS NULL", "1"),
    ("SELECT DIV0(1, 0)", "0"),
    ("SELECT DIV0(10, 4)", "2.5"),
    ("SELECT DATEADD(day, 7, '2024-01-30'::DATE)", "19759"),
    ("SELECT DATEADD('month', 1, TO_DATE('2024-01-15'))", "19768"),
    ("SELECT DATEADD(year, -1, '2024-02-29'::DATE)", "19416"),
    ("SELECT DATEADD(quarter, 1, '2024-01-31'::DATE)", "19843"),
    ("SELECT DATEADD(hour, 3, '2024-01-01 00:00:00'::TIMESTAMP)", "1704078000.000000000"),
    ("SELECT COUNT_IF(status = 'PAID') > 0 FROM claims", "1"),
    ("SELECT DAYOFWEEK('2024-01-01'::DATE)", "1"),
    ("SELECT DATEDIFF(day, '2024-01-01'::DATE, '2024-03-01'::DATE)", "60"),
    ("SELECT DATEDIFF(month, '2023-12-31'::DATE, '2024-01-01'::DATE)", "1"),
    ("SELECT DATEDIFF(year, '2020-06-01'::DATE, '2024-01-01'::DATE)", "4"),
    ("SELECT DATEDIFF(hour, '2024-01-01 10:59:00'::TIMESTAMP, '2024-01-01 12:00:00'::TIMESTAMP)", "2"),
    ("SELECT TO_DATE('2024-01-02')", "19724"),
    ("SELECT TO_DATE('02/01/2024', 'DD/MM/YYYY')", "19724"),
    ("SELECT TO_CHAR('2024-01-02'::DATE, 'YYYY-MM')", "2024-01"),
    ("SELECT TO_VARCHAR(42)", "42"),
    ("SELECT '42'::INT + 1", "43"),
    ("SELECT CAST('1.5' AS DOUBLE)", "1.5"),
    ("SELECT 'Hello' ILIKE 'hel%'", "1"),
    ("SELECT 'Hello' NOT ILIKE 'x%'", "1"),
    ("SELECT DATE_TRUNC('month', '2024-01-15'::DATE)::DATE", "19723"),
    ("SELECT YEAR('2024-01-15'::DATE)", "2024"),
    ("SELECT EXTRACT(year FROM '2024-01-15'::DATE)", "2024"),
    ("SELECT UPPER('a') || LOWER('B')", "Ab"),
    ("SELECT SPLIT_PART('a-b-c', '-', 2)", "b"),
    ("SELECT REGEXP_LIKE('abc', 'a.*')", "1"),
    ("SELECT ROUND(2.567, 2)", "2.57"),
    ("SELECT CURRENT_DATE()", ""),
    ("SELECT CURRENT_DATE > '2024-01-01'::DATE", "1"),
    ("SELECT CURRENT_TIMESTAMP() IS NOT NULL", "1"),
    ("SELECT CURRENT_TIMESTAMP()", ""),
    ("SELECT SYSDATE() > '2024-01-01'::TIMESTAMP", "1"),
    ("SELECT TOP 1 claim_id FROM claims ORDER BY claim_id", "1"),
    ("SELECT claim_id FROM claims ORDER BY claim_id LIMIT 1 OFFSET 2", "3"),
    ("SELECT claim_id FROM claims QUALIFY ROW_NUMBER() OVER (ORDER BY claim_id DESC) = 1", "2000"),
    (
        "SELECT COUNT(*) FROM (SELECT patient_id, claim_id FROM claims QUALIFY ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY claim_id) = 1)",
        "200",
    ),
    ("SELECT LISTAGG(x, '|') WITHIN GROUP (ORDER BY x) FROM (VALUES ('b'), ('a')) AS t(x)", "a|b"),
    ("SELECT COUNT(DISTINCT status) FROM claims", "4"),
    ("SELECT APPROX_COUNT_DISTINCT(status) FROM claims", "4"),
    ("WITH c AS (SELECT status FROM claims) SELECT COUNT(*) FROM c WHERE status = 'PAID' HAVING COUNT(*) > 0", ""),
    ("SELECT CASE WHEN 1 = 1 THEN 'y' END", "y"),
    ("SELECT '2024-01-01 10:00:00'::TIMESTAMP_NTZ", "1704103200.000000000"),
    ("SELECT '12.345'::NUMBER(10, 2)", "12.35"),
    ("SELECT 42::STRING", "42"),
    ("SELECT '1.5'::FLOAT", "1.5"),
    ("SELECT 'abc'::VARCHAR(10)", "abc"),
    ("SELECT '2024-01-01 10:00:00'::TIMESTAMP_LTZ IS NOT NULL", "1"),
    ("SELECT CAST('7' AS NUMBER)", "7"),
    ("SELECT CAST('7.5' AS DECIMAL)", "8"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snowflake_functions_and_clauses() {
    let f = fixture().await;
    let s = f.session(A).await;
    let mut failures = Vec::new();
    for (sql, expected) in WORKS {
        if sql.contains("$1") {
            continue;
        }
        match f.try_run(A, s, sql, vec![]).await {
            Ok(r) => {
                let rows = komodo_warehouse::encode::json_rowset(&r.batches).unwrap();
                let got = rows.first().and_then(|r| r[0].clone()).unwrap_or_default();
                if !expected.is_empty() && got != *expected {
                    failures.push(format!("{sql}: got {got:?}, want {expected:?}"));
                }
            }
            Err(e) => failures.push(format!("{sql}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Documented as not supported in the README: each fails with a clear error.
const DOES_NOT_WORK: &[&str] = &[
    "SELECT * FROM TABLE(FLATTEN(INPUT => ARRAY_CONSTRUCT(1, 2), RECURSIVE => TRUE))",
    "SELECT TOP 10 PERCENT claim_id FROM claims",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_syntax_fails_cleanly() {
    let f = fixture().await;
    let s = f.session(A).await;
    for sql in DOES_NOT_WORK {
        let e = f.try_run(A, s, sql, vec![]).await.expect_err(sql);
        assert_eq!(e.code(), "001003", "{sql}: {e}");
    }
}
