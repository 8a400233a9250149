//! `<database>.INFORMATION_SCHEMA`: Snowflake's views of what a database
//! holds (`DATABASES`, `SCHEMATA`, `TABLES`, `COLUMNS`, `VIEWS`), built
//! from a [`Listing`] of the database when a statement reads them.
//!
//! The columns are Snowflake's, in its order, for what this warehouse
//! knows; what it does not keep (owners, comments, clustering, creation
//! times) is NULL, as Snowflake shows for objects that lack them.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use komodo_protocol::gateway::RowType;

use crate::encode::{ColumnOrigin, MAX_BINARY_LENGTH, MAX_TEXT_LENGTH, row_types};
use crate::plan::{column_default, column_identity};

/// The name of the schema every database has.
pub(crate) const SCHEMA: &str = "INFORMATION_SCHEMA";

/// The views of [`SCHEMA`].
pub(crate) const VIEWS: [&str; 5] = ["COLUMNS", "DATABASES", "SCHEMATA", "TABLES", "VIEWS"];

/// What kind of table an object is, as `TABLE_TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A permanent table (own or subscription).
    BaseTable,
    /// The session's temporary table.
    Temporary,
    /// A view.
    View,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::BaseTable => "BASE TABLE",
            Kind::Temporary => "LOCAL TEMPORARY",
            Kind::View => "VIEW",
        }
    }
}

/// One table or view of the database.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    /// Its schema.
    pub(crate) schema: String,
    /// Its name.
    pub(crate) name: String,
    /// What it is.
    pub(crate) kind: Kind,
    /// Its columns, when known (only `COLUMNS` needs them).
    pub(crate) columns: Option<SchemaRef>,
    /// A view's `CREATE VIEW` text.
    pub(crate) view_definition: Option<String>,
}

/// What the views of one database show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing {
    /// The database the `INFORMATION_SCHEMA` belongs to.
    pub(crate) database: String,
    /// Every database the session sees (for `DATABASES`).
    pub(crate) databases: Vec<String>,
    /// The database's schemas, [`SCHEMA`] left out.
    pub(crate) schemas: Vec<String>,
    /// Its tables and views, ordered by schema then name.
    pub(crate) objects: Vec<Object>,
}

/// Whether view `view` lists columns (so the listing must open tables).
pub(crate) fn needs_columns(view: &str) -> bool {
    view == "COLUMNS"
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}
fn number(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}

/// The columns of view `view`.
pub(crate) fn schema_of(view: &str) -> Option<SchemaRef> {
    let fields = match view {
        "DATABASES" => vec![
            text("DATABASE_NAME"),
            text("DATABASE_OWNER"),
            text("IS_TRANSIENT"),
            text("COMMENT"),
            text("CREATED"),
            text("LAST_ALTERED"),
            number("RETENTION_TIME"),
            text("TYPE"),
        ],
        "SCHEMATA" => vec![
            text("CATALOG_NAME"),
            text("SCHEMA_NAME"),
            text("SCHEMA_OWNER"),
            text("IS_TRANSIENT"),
            text("IS_MANAGED_ACCESS"),
            number("RETENTION_TIME"),
            text("CREATED"),
            text("LAST_ALTERED"),
            text("COMMENT"),
        ],
        "TABLES" => vec![
            text("TABLE_CATALOG"),
            text("TABLE_SCHEMA"),
            text("TABLE_NAME"),
            text("TABLE_OWNER"),
            text("TABLE_TYPE"),
            text("IS_TRANSIENT"),
            text("CLUSTERING_KEY"),
            number("ROW_COUNT"),
            number("BYTES"),
            number("RETENTION_TIME"),
            text("CREATED"),
            text("LAST_ALTERED"),
            text("COMMENT"),
            text("IS_TEMPORARY"),
        ],
        "COLUMNS" => vec![
            text("TABLE_CATALOG"),
            text("TABLE_SCHEMA"),
            text("TABLE_NAME"),
            text("COLUMN_NAME"),
            number("ORDINAL_POSITION"),
            text("COLUMN_DEFAULT"),
            text("IS_NULLABLE"),
            text("DATA_TYPE"),
            number("CHARACTER_MAXIMUM_LENGTH"),
            number("CHARACTER_OCTET_LENGTH"),
            number("NUMERIC_PRECISION"),
            number("NUMERIC_PRECISION_RADIX"),
            number("NUMERIC_SCALE"),
            number("DATETIME_PRECISION"),
            text("INTERVAL_TYPE"),
            number("INTERVAL_PRECISION"),
            text("CHARACTER_SET_CATALOG"),
            text("CHARACTER_SET_SCHEMA"),
            text("CHARACTER_SET_NAME"),
            text("COLLATION_CATALOG"),
            text("COLLATION_SCHEMA"),
            text("COLLATION_NAME"),
            text("DOMAIN_CATALOG"),
            text("DOMAIN_SCHEMA"),
            text("DOMAIN_NAME"),
            text("UDT_CATALOG"),
            text("UDT_SCHEMA"),
            text("UDT_NAME"),
            text("SCOPE_CATALOG"),
            text("SCOPE_SCHEMA"),
            text("SCOPE_NAME"),
            number("MAXIMUM_CARDINALITY"),
            text("DTD_IDENTIFIER"),
            text("IS_SELF_REFERENCING"),
            text("IS_IDENTITY"),
            text("IDENTITY_GENERATION"),
            text("IDENTITY_START"),
            text("IDENTITY_INCREMENT"),
            text("IDENTITY_MAXIMUM"),
            text("IDENTITY_MINIMUM"),
            text("IDENTITY_CYCLE"),
            text("IDENTITY_ORDERED"),
            text("SCHEMA_EVOLUTION_RECORD"),
            text("COMMENT"),
            text("DATA_TYPE_ALIAS"),
        ],
        "VIEWS" => vec![
            text("TABLE_CATALOG"),
            text("TABLE_SCHEMA"),
            text("TABLE_NAME"),
            text("TABLE_OWNER"),
            text("VIEW_DEFINITION"),
            text("CHECK_OPTION"),
            text("IS_UPDATABLE"),
            text("INSERTABLE_INTO"),
            text("IS_SECURE"),
            text("CREATED"),
            text("LAST_ALTERED"),
            text("COMMENT"),
        ],
        _ => return None,
    };
    Some(Arc::new(Schema::new(fields)))
}

/// The type of a column as `DESCRIBE TABLE` writes it: `NUMBER(38,0)`,
/// `VARCHAR(16777216)`, `FLOAT`, `TIMESTAMP_NTZ(9)`, `VARIANT`, ...
pub(crate) fn type_text(rt: &RowType) -> String {
    match rt.type_name.as_str() {
        "fixed" => format!("NUMBER({},{})", rt.precision.unwrap_or(38), rt.scale.unwrap_or(0)),
        "real" => "FLOAT".to_owned(),
        "text" => format!("VARCHAR({})", rt.length.unwrap_or(MAX_TEXT_LENGTH)),
        "binary" => format!("BINARY({})", rt.length.unwrap_or(MAX_BINARY_LENGTH)),
        name @ ("time" | "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz") => {
            format!("{}({})", name.to_ascii_uppercase(), rt.scale.unwrap_or(9))
        }
        other => other.to_ascii_uppercase(),
    }
}

/// Columns built row by row, in the order of the view's schema.
struct Columns(Vec<Column>);

enum Column {
    Text(Vec<Option<String>>),
    Number(Vec<Option<i64>>),
}

/// A value of one row.
enum V {
    T(Option<String>),
    N(Option<i64>),
}

fn t(s: &str) -> V {
    V::T(Some(s.to_owned()))
}
const NULL_T: V = V::T(None);
const NULL_N: V = V::N(None);

impl Columns {
    fn new(schema: &Schema) -> Self {
        Columns(
            schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Int64 => Column::Number(Vec::new()),
                    _ => Column::Text(Vec::new()),
                })
                .collect(),
        )
    }
    fn push(&mut self, row: Vec<V>) {
        debug_assert_eq!(row.len(), self.0.len());
        for (column, value) in self.0.iter_mut().zip(row) {
            match (column, value) {
                (Column::Text(c), V::T(v)) => c.push(v),
                (Column::Number(c), V::N(v)) => c.push(v),
                (Column::Text(c), V::N(v)) => c.push(v.map(|n| n.to_string())),
                (Column::Number(c), V::T(_)) => c.push(None),
            }
        }
    }
    fn finish(self, schema: SchemaRef) -> Option<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .0
            .into_iter()
            .map(|c| match c {
                Column::Text(v) => Arc::new(StringArray::from(v)) as ArrayRef,
                Column::Number(v) => Arc::new(Int64Array::from(v)) as ArrayRef,
            })
            .collect();
        RecordBatch::try_new(schema, arrays).ok()
    }
}

/// The rows of view `view` for `listing`; `None` for a name that is not one
/// of [`VIEWS`].
pub(crate) fn build(view: &str, listing: &Listing) -> Option<RecordBatch> {
    let schema = schema_of(view)?;
    let mut rows = Columns::new(&schema);
    let db = || t(&listing.database);
    let yes_no = |b: bool| t(if b { "YES" } else { "NO" });
    match view {
        "DATABASES" => {
            for name in &listing.databases {
                rows.push(vec![t(name), NULL_T, t("NO"), NULL_T, NULL_T, NULL_T, V::N(Some(1)), t("STANDARD")]);
            }
        }
        "SCHEMATA" => {
            let mut schemas: Vec<&str> = listing.schemas.iter().map(String::as_str).collect();
            schemas.push(SCHEMA);
            schemas.sort_unstable();
            for name in schemas {
                rows.push(vec![db(), t(name), NULL_T, t("NO"), t("NO"), V::N(Some(1)), NULL_T, NULL_T, NULL_T]);
            }
        }
        "TABLES" => {
            for o in &listing.objects {
                let retention = if o.kind == Kind::View { NULL_N } else { V::N(Some(1)) };
                rows.push(vec![
                    db(),
                    t(&o.schema),
                    t(&o.name),
                    NULL_T,
                    t(o.kind.name()),
                    yes_no(false),
                    NULL_T,
                    NULL_N,
                    NULL_N,
                    retention,
                    NULL_T,
                    NULL_T,
                    NULL_T,
                    yes_no(o.kind == Kind::Temporary),
                ]);
            }
        }
        "COLUMNS" => {
            for o in &listing.objects {
                let Some(columns) = &o.columns else { continue };
                for (i, (rt, field)) in
                    row_types(columns, &ColumnOrigin::default()).into_iter().zip(columns.fields()).enumerate()
                {
                    let data_type = match rt.type_name.as_str() {
                        "fixed" => "NUMBER".to_owned(),
                        "real" => "FLOAT".to_owned(),
                        other => other.to_ascii_uppercase(),
                    };
                    let textual = matches!(data_type.as_str(), "TEXT" | "BINARY");
                    let numeric = matches!(data_type.as_str(), "NUMBER" | "FLOAT");
                    let datetime = data_type.starts_with("TIME");
                    let mut row = vec![
                        db(),
                        t(&o.schema),
                        t(&o.name),
                        t(&rt.name),
                        V::N(Some(i as i64 + 1)),
                        V::T(column_default(field)),
                        yes_no(rt.nullable),
                        t(&data_type),
                        V::N(if textual { rt.length } else { None }),
                        V::N(if textual { rt.byte_length } else { None }),
                        V::N(match data_type.as_str() {
                            "NUMBER" => rt.precision,
                            "FLOAT" => Some(53),
                            _ => None,
                        }),
                        V::N(numeric.then_some(if data_type == "NUMBER" { 10 } else { 2 })),
                        V::N(if data_type == "NUMBER" { rt.scale } else { None }),
                        V::N(if datetime { rt.scale } else { None }),
                    ];
                    // INTERVAL_TYPE to DTD_IDENTIFIER: what Snowflake leaves NULL.
                    row.extend([NULL_T, NULL_N]);
                    row.extend((0..15).map(|_| NULL_T));
                    row.extend([NULL_N, NULL_T]);
                    // IS_SELF_REFERENCING, the identity (what snowflake-sqlalchemy
                    // reflects as autoincrement), then no evolution or comment.
                    row.push(t("NO"));
                    match column_identity(field) {
                        Some((start, step)) => row.extend([
                            t("YES"),
                            NULL_T,
                            t(&start.to_string()),
                            t(&step.to_string()),
                            NULL_T,
                            NULL_T,
                            t("NO"),
                            t("YES"),
                        ]),
                        None => row.extend([t("NO")].into_iter().chain((0..7).map(|_| NULL_T))),
                    }
                    row.extend((0..3).map(|_| NULL_T));
                    rows.push(row);
                }
            }
        }
        "VIEWS" => {
            for o in listing.objects.iter().filter(|o| o.kind == Kind::View) {
                rows.push(vec![
                    db(),
                    t(&o.schema),
                    t(&o.name),
                    NULL_T,
                    V::T(o.view_definition.clone()),
                    t("NONE"),
                    t("NO"),
                    t("NO"),
                    t("false"),
                    NULL_T,
                    NULL_T,
                    NULL_T,
                ]);
            }
        }
        _ => return None,
    }
    rows.finish(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    fn listing() -> Listing {
        let columns = Arc::new(Schema::new(vec![
            Field::new("ID", DataType::Int64, false),
            Field::new("NAME", DataType::Utf8, true),
            Field::new("PRICE", DataType::Decimal128(10, 2), true),
        ]));
        Listing {
            database: "SHOP".into(),
            databases: vec!["DEMO".into(), "SHOP".into()],
            schemas: vec!["PUBLIC".into()],
            objects: vec![
                Object {
                    schema: "PUBLIC".into(),
                    name: "ITEMS".into(),
                    kind: Kind::BaseTable,
                    columns: Some(columns),
                    view_definition: None,
                },
                Object {
                    schema: "PUBLIC".into(),
                    name: "CHEAP".into(),
                    kind: Kind::View,
                    columns: None,
                    view_definition: Some("CREATE VIEW CHEAP AS SELECT 1".into()),
                },
            ],
        }
    }

    fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
        batch.column_by_name(column).unwrap().as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn every_view_builds_to_its_schema() {
        for view in VIEWS {
            let batch = build(view, &listing()).unwrap();
            assert_eq!(batch.schema(), schema_of(view).unwrap(), "{view}");
        }
        assert!(build("ROUTINES", &listing()).is_none());
    }

    #[test]
    fn columns_show_snowflake_types_in_order() {
        let batch = build("COLUMNS", &listing()).unwrap();
        assert_eq!(strings(&batch, "COLUMN_NAME"), [Some("ID".into()), Some("NAME".into()), Some("PRICE".into())]);
        assert_eq!(strings(&batch, "DATA_TYPE"), [Some("NUMBER".into()), Some("TEXT".into()), Some("NUMBER".into())]);
        assert_eq!(strings(&batch, "IS_NULLABLE"), [Some("NO".into()), Some("YES".into()), Some("YES".into())]);
        let scale = batch.column_by_name("NUMERIC_SCALE").unwrap().as_primitive::<Int64Type>();
        assert_eq!(scale.iter().collect::<Vec<_>>(), [Some(0), None, Some(2)]);
        let position = batch.column_by_name("ORDINAL_POSITION").unwrap().as_primitive::<Int64Type>();
        assert_eq!(position.iter().collect::<Vec<_>>(), [Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn describe_writes_types_with_their_sizes() {
        let schema = Schema::new(vec![
            Field::new("A", DataType::Int64, false),
            Field::new("B", DataType::Decimal128(10, 2), true),
            Field::new("C", DataType::Utf8, true),
            Field::new("D", DataType::Float64, true),
            Field::new("E", DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None), true),
            Field::new("F", DataType::Date32, true),
        ]);
        let types: Vec<String> = row_types(&schema, &ColumnOrigin::default()).iter().map(type_text).collect();
        assert_eq!(types, ["NUMBER(38,0)", "NUMBER(10,2)", "VARCHAR(16777216)", "FLOAT", "TIMESTAMP_NTZ(6)", "DATE"]);
    }

    #[test]
    fn tables_list_views_too_and_schemata_list_the_information_schema() {
        let tables = build("TABLES", &listing()).unwrap();
        assert_eq!(strings(&tables, "TABLE_TYPE"), [Some("BASE TABLE".into()), Some("VIEW".into())]);
        let views = build("VIEWS", &listing()).unwrap();
        assert_eq!(strings(&views, "TABLE_NAME"), [Some("CHEAP".into())]);
        let schemata = build("SCHEMATA", &listing()).unwrap();
        assert_eq!(strings(&schemata, "SCHEMA_NAME"), [Some("INFORMATION_SCHEMA".into()), Some("PUBLIC".into())]);
    }
}
