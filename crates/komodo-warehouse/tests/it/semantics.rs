//! Snowflake's semantics where DataFusion's differ (issue 16, "no silent
//! wrong answers"): each case is Snowflake's documented result, and each
//! gave another answer, without an error, before.

use komodo_warehouse::WarehouseError;

use crate::support::{A, fixture};

/// `(statement, expected first value as Snowflake JSON text)`.
const CASES: &[(&str, &str)] = &[
    // Division follows Snowflake's scale rule, never integer division.
    ("SELECT 7 / 2", "3.500000"),
    ("SELECT 1 / 3", "0.333333"),
    ("SELECT 10.01 / 1.1", "9.10000000"),
    ("SELECT -7 / 2", "-3.500000"),
    ("SELECT 2 / 3", "0.666667"),
    ("SELECT 7.0 / 2.0", "3.5000000"),
    ("SELECT CAST(7 AS DOUBLE) / 2", "3.5"),
    ("SELECT COUNT(*) / 3 FROM (VALUES (1), (2)) AS t", "0.666667"),
    // Numeric strings in arithmetic are numbers.
    ("SELECT '1.5' + 1", "2.5"),
    ("SELECT 2 * '3'", "6"),
    // FLOAT, REAL and DOUBLE are 64-bit.
    ("SELECT CAST(1.23 AS FLOAT)", "1.23"),
    ("SELECT CAST(1.23 AS REAL)", "1.23"),
    ("SELECT 1.23::FLOAT4", "1.23"),
    // DATEADD of hours to a DATE keeps the hours (a TIMESTAMP_NTZ).
    ("SELECT DATEADD(hour, 3, '2024-01-01'::DATE)", "1704078000.000000000"),
    ("SELECT DATEADD(minute, 90, TO_DATE('2024-01-01'))", "1704072600.000000000"),
    ("SELECT DATEADD(day, x, '2024-01-01'::DATE) FROM (VALUES (2)) AS t(x)", "19725"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_snowflakes() {
    let f = fixture().await;
    let s = f.session(A).await;
    let mut wrong = Vec::new();
    for (sql, expected) in CASES {
        match f.try_run(A, s, sql, vec![]).await {
            Ok(r) => {
                let rows = komodo_warehouse::encode::json_rowset(&r.batches).unwrap();
                let got = rows.first().and_then(|r| r[0].clone()).unwrap_or_default();
                if got != *expected {
                    wrong.push(format!("{sql}: {got} (expected {expected})"));
                }
            }
            Err(e) => wrong.push(format!("{sql}: {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn division_by_zero_is_an_error() {
    let f = fixture().await;
    let s = f.session(A).await;
    for sql in
        ["SELECT 1 / 0", "SELECT 1.5 / 0", "SELECT 1e0 / 0", "SELECT claim_id / (claim_id - claim_id) FROM claims"]
    {
        let e = f.try_run(A, s, sql, vec![]).await.unwrap_err();
        assert!(matches!(e, WarehouseError::DivisionByZero), "{sql}: {e:?}");
        assert_eq!((e.code(), e.sql_state()), ("100051", "22012"));
    }
    assert_eq!(f.value(s, "SELECT DIV0(1, 0)").await.as_deref(), Some("0"));
}

/// Unaliased columns are named as Snowflake names them; names may repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_columns_are_named_as_snowflake_names_them() {
    let f = fixture().await;
    let no_database = f.engine.open_session(A, None, None).await.unwrap();
    let names =
        |r: &komodo_warehouse::QueryResult| r.schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
    let r = f.try_run(A, no_database, "select current_database(), current_schema()", vec![]).await.unwrap();
    assert_eq!(names(&r), ["CURRENT_DATABASE()", "CURRENT_SCHEMA()"]);
    assert_eq!(komodo_warehouse::encode::json_rowset(&r.batches).unwrap(), vec![vec![None, None]]);
    let s = f.session(A).await;
    let r = f.run(s, "select count(*), 1, 'x', claim_id, c.status, 1 as a, 2 as a from claims c group by claim_id, c.status limit 1").await;
    assert_eq!(names(&r), ["COUNT(*)", "1", "'X'", "CLAIM_ID", "STATUS", "A", "A"]);
    let r = f.run(s, "select * from (values (1, 'a'), (2, 'b'))").await;
    assert_eq!(names(&r), ["COLUMN1", "COLUMN2"]);
    let r = f.run(s, "values (1, 'a')").await;
    assert_eq!(names(&r), ["COLUMN1", "COLUMN2"]);
    let r = f.run(s, "select iff(true, 1, 2), current_database(), current_database()").await;
    assert_eq!(names(&r), ["IFF(TRUE, 1, 2)", "CURRENT_DATABASE()", "CURRENT_DATABASE()"]);
}

/// A describe-only request (what `cursor.describe()` sends) never runs
/// the statement: an `INSERT` inserts nothing, `USE` changes nothing; a
/// query's columns come from its plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_never_executes() {
    let f = fixture().await;
    let s = f.session(A).await;
    f.run(s, "create temporary table t (a int, b varchar)").await;
    let d = f.engine.describe(A, s, "insert into t values (1, 'x')", vec![]).await.unwrap();
    assert_eq!(d.schema.field(0).name(), "number of rows inserted");
    assert!(d.batches.is_empty());
    assert_eq!(f.value(s, "select count(*) from t").await.as_deref(), Some("0"));
    let d = f.engine.describe(A, s, "select claim_id, count(*) from claims group by claim_id", vec![]).await.unwrap();
    let names: Vec<_> = d.schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["CLAIM_ID", "COUNT(*)"]);
    f.engine.describe(A, s, "use schema demo.nothing_here", vec![]).await.unwrap();
    f.engine.describe(A, s, "drop table t", vec![]).await.unwrap();
    assert_eq!(f.value(s, "select count(*) from t").await.as_deref(), Some("0"));
    assert_eq!(f.engine.session_context(A, s).unwrap().1.as_deref(), Some("HEALTHCARE"));
    let e = f.engine.describe(A, s, "select nope from claims", vec![]).await.unwrap_err();
    assert!(matches!(e, WarehouseError::InvalidIdentifier(_) | WarehouseError::Compilation(_)), "{e:?}");
}

/// Session variables: `SET`, `$x` (bound, not spliced), `UNSET`, `SHOW
/// VARIABLES`, and `IDENTIFIER(...)` naming objects from strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_variables_and_identifier() {
    let f = fixture().await;
    let s = f.session(A).await;
    f.run(s, "SET min_id = 1990").await;
    f.run(s, "SET (tbl, label) = ('demo.healthcare.claims', 'it''s')").await;
    f.run(s, "SET total = (SELECT COUNT(*) FROM claims)").await;
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM claims WHERE claim_id > $min_id").await.as_deref(), Some("10"));
    assert_eq!(f.value(s, "SELECT $label || '!'").await.as_deref(), Some("it's!"));
    assert_eq!(f.value(s, "SELECT $TOTAL").await.as_deref(), Some("2000"));
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM IDENTIFIER($tbl)").await.as_deref(), Some("2000"));
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM IDENTIFIER('claims')").await.as_deref(), Some("2000"));
    assert_eq!(f.value(s, "SELECT MAX(IDENTIFIER('claim_id')) FROM claims").await.as_deref(), Some("2000"));
    let shown = f.rows(s, "SHOW VARIABLES LIKE 'MIN%'").await;
    assert_eq!(shown, vec![vec![Some("MIN_ID".into()), Some("1990".into()), Some("fixed".into())]]);
    f.run(s, "UNSET min_id").await;
    let e = f.try_run(A, s, "SELECT $min_id", vec![]).await.unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    // A string variable's value is bound, never spliced into the SQL.
    f.run(s, "SET evil = '1; DROP TABLE claims'").await;
    assert_eq!(f.value(s, "SELECT $evil").await.as_deref(), Some("1; DROP TABLE claims"));
    assert!(f.try_run(A, s, &format!("SET big = '{}'", "x".repeat(300)), vec![]).await.is_err());
    assert!(f.try_run(A, s, "SELECT * FROM IDENTIFIER('claims; drop table claims')", vec![]).await.is_err());
}

/// Lateral column aliases: an alias is usable later in the list, in
/// WHERE, GROUP BY, HAVING and QUALIFY; a column of the same name wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lateral_column_aliases() {
    let f = fixture().await;
    let s = f.session(A).await;
    let rows = f
        .rows(
            s,
            "SELECT claim_id * 2 AS doubled, doubled + 1 AS next FROM claims WHERE doubled > 3990 ORDER BY claim_id",
        )
        .await;
    assert_eq!(
        rows,
        vec![
            vec![Some("3992".into()), Some("3993".into())],
            vec![Some("3994".into()), Some("3995".into())],
            vec![Some("3996".into()), Some("3997".into())],
            vec![Some("3998".into()), Some("3999".into())],
            vec![Some("4000".into()), Some("4001".into())]
        ]
    );
    let n = f
        .value(
            s,
            "SELECT COUNT(*) FROM (SELECT YEAR(service_date) AS y, COUNT(*) AS n FROM claims GROUP BY y HAVING n > 0 QUALIFY ROW_NUMBER() OVER (ORDER BY y) = 1)",
        )
        .await;
    assert_eq!(n.as_deref(), Some("1"));
    // A column named like the alias wins in WHERE.
    assert_eq!(
        f.value(s, "SELECT COUNT(*) FROM (SELECT 0 AS claim_id FROM claims WHERE claim_id = 1)").await.as_deref(),
        Some("1")
    );
}

/// `SAMPLE` / `TABLESAMPLE`: a percentage or a number of rows, the same
/// rows again for the same seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_and_tablesample() {
    let f = fixture().await;
    let s = f.session(A).await;
    let count = |sql: &'static str| {
        let f = &f;
        async move { f.value(s, sql).await.unwrap().parse::<i64>().unwrap() }
    };
    assert_eq!(count("SELECT COUNT(*) FROM claims SAMPLE (10 ROWS)").await, 10);
    assert_eq!(count("SELECT COUNT(*) FROM claims TABLESAMPLE BERNOULLI (100)").await, 2000);
    assert_eq!(count("SELECT COUNT(*) FROM claims SAMPLE (0)").await, 0);
    let some = count("SELECT COUNT(*) FROM claims c SAMPLE (50) WHERE c.claim_id > 0").await;
    assert!((700..1300).contains(&some), "{some} of 2000 rows for 50%");
    let seeded = "SELECT LISTAGG(claim_id, ',') WITHIN GROUP (ORDER BY claim_id) FROM claims SAMPLE (1) SEED (42)";
    let first = f.value(s, seeded).await;
    assert!(first.as_deref().is_some_and(|v| !v.is_empty()));
    assert_eq!(f.value(s, seeded).await, first);
    let other = f
        .value(s, "SELECT LISTAGG(claim_id, ',') WITHIN GROUP (ORDER BY claim_id) FROM claims SAMPLE (1) SEED (7)")
        .await;
    assert_ne!(other, first);
    let rows =
        "SELECT LISTAGG(claim_id, ',') WITHIN GROUP (ORDER BY claim_id) FROM claims SAMPLE (5 ROWS) REPEATABLE (3)";
    assert_eq!(f.value(s, rows).await, f.value(s, rows).await);
}
