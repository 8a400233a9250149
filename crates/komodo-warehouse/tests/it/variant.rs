//! Semi-structured data: VARIANT, OBJECT and ARRAY values, stored as JSON
//! text marked with their type, and the functions over them.

use komodo_warehouse::WarehouseError;

use crate::support::{A, fixture};

/// `(statement, expected first value as Snowflake JSON text)`.
const CASES: &[(&str, &str)] = &[
    ("SELECT PARSE_JSON('{\"b\": 2, \"a\": [1, 2, {\"c\": \"x\"}]}')", r#"{"a":[1,2,{"c":"x"}],"b":2}"#),
    ("SELECT PARSE_JSON('{\"a\": {\"b\": [10, 20]}}'):a.b[1]", "20"),
    ("SELECT PARSE_JSON('{\"Name\": \"Ann\"}'):Name", "\"Ann\""),
    ("SELECT PARSE_JSON('{\"Name\": \"Ann\"}'):Name::STRING", "Ann"),
    ("SELECT PARSE_JSON('{\"Name\": \"Ann\"}'):name IS NULL", "1"),
    ("SELECT PARSE_JSON('{\"k k\": 1}')['k k']", "1"),
    ("SELECT PARSE_JSON('{\"n\": \"42\"}'):n::INT + 1", "43"),
    ("SELECT PARSE_JSON('{\"n\": 41.6}'):n::INT", "42"),
    ("SELECT PARSE_JSON('{\"d\": \"2024-01-02\"}'):d::DATE", "19724"),
    ("SELECT PARSE_JSON('{\"name\": \"Bob\"}'):name = 'Bob'", "1"),
    ("SELECT PARSE_JSON('{\"n\": 5}'):n > 4", "1"),
    ("SELECT TRY_CAST(PARSE_JSON('\"abc\"') AS INT) IS NULL", "1"),
    ("SELECT TRY_PARSE_JSON('{oops') IS NULL", "1"),
    ("SELECT TO_VARIANT('a\"b')", r#""a\"b""#),
    ("SELECT TO_VARIANT(1.50)", "1.5"),
    ("SELECT 'x'::VARIANT", "\"x\""),
    ("SELECT OBJECT_CONSTRUCT('b', 1, 'a', 'x', 'n', NULL)", r#"{"a":"x","b":1}"#),
    ("SELECT OBJECT_CONSTRUCT_KEEP_NULL('n', NULL)", r#"{"n":null}"#),
    ("SELECT OBJECT_CONSTRUCT('o', PARSE_JSON('[1]'))", r#"{"o":[1]}"#),
    ("SELECT ARRAY_CONSTRUCT(1, 'a', PARSE_JSON('{\"x\": true}'))", r#"[1,"a",{"x":true}]"#),
    ("SELECT ARRAY_SIZE(ARRAY_CONSTRUCT(1, 2, 3))", "3"),
    ("SELECT ARRAY_SIZE(PARSE_JSON('{}')) IS NULL", "1"),
    ("SELECT ARRAY_CONTAINS(2, ARRAY_CONSTRUCT(1, 2))", "1"),
    ("SELECT ARRAY_CONTAINS('z'::VARIANT, ARRAY_CONSTRUCT('a'))", "0"),
    ("SELECT GET(ARRAY_CONSTRUCT(5, 6), 1)", "6"),
    ("SELECT GET(PARSE_JSON('{\"a\": 1}'), 'a')", "1"),
    ("SELECT GET_PATH(PARSE_JSON('{\"a\": {\"b\": [7]}}'), 'a.b[0]')", "7"),
    ("SELECT TYPEOF(PARSE_JSON('1.5'))", "DECIMAL"),
    ("SELECT TYPEOF(PARSE_JSON('[1]'))", "ARRAY"),
    ("SELECT TYPEOF(PARSE_JSON('null'))", "NULL_VALUE"),
    ("SELECT IS_OBJECT(PARSE_JSON('{}'))", "1"),
    ("SELECT IS_ARRAY(PARSE_JSON('{}'))", "0"),
    ("SELECT SPLIT('a,b,,c', ',')", r#"["a","b","","c"]"#),
    ("SELECT ARRAY_TO_STRING(SPLIT('a,b', ','), '|')", "a|b"),
    ("SELECT ARRAY_AGG(x) WITHIN GROUP (ORDER BY x DESC) FROM (VALUES (1), (3), (NULL), (2)) AS t(x)", "[3,2,1]"),
    (
        "SELECT ARRAY_AGG(DISTINCT x) WITHIN GROUP (ORDER BY x) FROM (VALUES ('b'), ('a'), ('b')) AS t(x)",
        r#"["a","b"]"#,
    ),
    ("SELECT OBJECT_AGG(k, v) FROM (VALUES ('a', 1), ('b', NULL), (NULL, 3)) AS t(k, v)", r#"{"a":1}"#),
    ("SELECT COUNT(*) FROM TABLE(FLATTEN(input => PARSE_JSON('[1, 2, 3]')))", "3"),
    ("SELECT SUM(value::INT) FROM TABLE(FLATTEN(input => PARSE_JSON('[1, 2, 3]')))", "6"),
    (
        "SELECT LISTAGG(f.key || '=' || f.value::STRING, ',') WITHIN GROUP (ORDER BY f.key) FROM TABLE(FLATTEN(input => PARSE_JSON('{\"b\": 2, \"a\": \"x\"}'))) f",
        "a=x,b=2",
    ),
    (
        "SELECT f.index, f.path, f.value FROM TABLE(FLATTEN(input => PARSE_JSON('{\"a\": [5, 6]}'), path => 'a')) f ORDER BY f.index DESC",
        "1",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semi_structured_values_and_functions() {
    let f = fixture().await;
    let s = f.session(A).await;
    let mut wrong = Vec::new();
    for (sql, expected) in CASES {
        match f.try_run(A, s, sql, vec![]).await {
            Ok(r) => {
                let rows = komodo_warehouse::encode::json_rowset(&r.batches).unwrap();
                let got = rows.first().and_then(|r| r[0].clone()).unwrap_or_else(|| "NULL".into());
                if got != *expected {
                    wrong.push(format!("{sql}: {got} (expected {expected})"));
                }
            }
            Err(e) => wrong.push(format!("{sql}: {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// VARIANT columns: stored, flattened laterally, read by path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variant_columns_and_lateral_flatten() {
    let f = fixture().await;
    let s = f.session(A).await;
    f.run(
        s,
        "CREATE TEMPORARY TABLE orders AS SELECT column1 AS id, PARSE_JSON(column2) AS doc FROM (VALUES \
         (1, '{\"customer\": {\"name\": \"Ann\"}, \"items\": [{\"sku\": \"a\", \"qty\": 2}, {\"sku\": \"b\", \"qty\": 1}]}'), \
         (2, '{\"customer\": {\"name\": \"Bo\"}, \"items\": [{\"sku\": \"a\", \"qty\": 5}]}'))",
    )
    .await;
    let types = f.run(s, "SELECT doc FROM orders").await;
    assert_eq!(types.schema.field(0).metadata().get("logicalType").map(String::as_str), Some("VARIANT"));
    let rows = f
        .rows(
            s,
            "SELECT o.id, o.doc:customer.name::STRING AS name, i.value:sku::STRING AS sku, i.value:qty::INT AS qty \
             FROM orders o, LATERAL FLATTEN(input => o.doc:items) i ORDER BY o.id, sku",
        )
        .await;
    let rows: Vec<Vec<String>> =
        rows.into_iter().map(|r| r.into_iter().map(Option::unwrap_or_default).collect()).collect();
    assert_eq!(rows, vec![vec!["1", "Ann", "a", "2"], vec!["1", "Ann", "b", "1"], vec!["2", "Bo", "a", "5"]]);
    let total = f
        .value(s, "SELECT SUM(value:qty::INT) FROM orders, LATERAL FLATTEN(input => doc:items) WHERE value:sku = 'a'")
        .await;
    assert_eq!(total.as_deref(), Some("7"));
    let e = f.try_run(A, s, "SELECT PARSE_JSON('{nope')", vec![]).await.unwrap_err();
    assert!(matches!(e, WarehouseError::InvalidJson(_)), "{e:?}");
    assert_eq!(e.code(), "100069");
}
