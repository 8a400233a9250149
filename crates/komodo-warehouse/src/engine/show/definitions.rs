//! `SHOW STAGES` and `SHOW [FILE] FORMATS`: the named stages and file
//! formats of the account's own schemas, with Snowflake's columns.

use datafusion::sql::sqlparser::ast::ShowStatementOptions;

use super::super::file_format::{OptionValue, Options};
use super::super::stages::{FileFormatDefinition, StageDefinition};
use super::{Cell, Show, Ty, result, t};
use crate::WarehouseError;
use crate::engine::result::QueryStream;
use crate::storage::DefinitionKind;

/// Options as Snowflake shows them: a JSON object of upper-case names.
fn shown_options(options: &Options) -> String {
    let map: serde_json::Map<String, serde_json::Value> = options
        .iter()
        .map(|(name, value)| {
            let value = match value {
                OptionValue::Text(text) => serde_json::Value::from(text.clone()),
                OptionValue::List(items) => serde_json::Value::from(items.clone()),
            };
            (name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

impl Show<'_> {
    /// The `(database, schema, name)` of each object of the account's own
    /// schemas that `list` names (per database and schema) and the options
    /// select, in order.
    pub(super) fn own_objects(
        &self,
        options: &ShowStatementOptions,
        list: impl Fn(&str, &str) -> Result<Vec<String>, WarehouseError>,
    ) -> Result<Vec<(String, String, String)>, WarehouseError> {
        let scope = self.scope(options)?;
        let filter = super::Filter::of(options)?;
        let tables = &self.s.tables;
        let mut listed = Vec::new();
        for db in tables.database_names().into_iter().filter(|d| scope.covers_database(d)) {
            if tables.data().tables.contains_key(&db) {
                continue;
            }
            for sc in tables.own.schemas(&db)?.into_iter().filter(|sc| scope.covers_schema(&db, sc)) {
                listed.extend(
                    list(&db, &sc)?.into_iter().filter(|n| filter.shows(n)).map(|n| (db.clone(), sc.clone(), n)),
                );
            }
        }
        Ok(filter.limited(listed))
    }

    fn definitions(
        &self,
        kind: DefinitionKind,
        options: &ShowStatementOptions,
    ) -> Result<Vec<(String, String, String)>, WarehouseError> {
        self.own_objects(options, |db, sc| self.s.tables.own.definitions(kind, db, sc))
    }

    /// `SHOW STAGES [LIKE ...] [IN ...]`.
    pub(crate) fn stages(&self, options: &ShowStatementOptions) -> Result<QueryStream, WarehouseError> {
        let mut rows = Vec::new();
        for (db, sc, name) in self.definitions(DefinitionKind::Stage, options)? {
            let Some(json) = self.s.tables.own.definition(DefinitionKind::Stage, &db, &sc, &name)? else { continue };
            let d: StageDefinition = serde_json::from_str(&json)
                .map_err(|e| WarehouseError::Internal(format!("stage {name}'s definition cannot be read: {e}")))?;
            rows.push(vec![
                Cell::Time(Some(d.created_ms)),
                t(&name),
                t(&db),
                t(&sc),
                t(""),
                t("N"),
                t("N"),
                t(""),
                Cell::Text(Some(d.comment.unwrap_or_default())),
                Cell::Text(None),
                t("INTERNAL"),
                Cell::Text(None),
                Cell::Text(None),
                Cell::Text(None),
                Cell::Text(None),
                t(""),
                t("N"),
            ]);
        }
        use Ty::{Text as T, Time as At};
        let columns: &[(&str, Ty)] = &[
            ("created_on", At),
            ("name", T),
            ("database_name", T),
            ("schema_name", T),
            ("url", T),
            ("has_credentials", T),
            ("has_encryption_key", T),
            ("owner", T),
            ("comment", T),
            ("region", T),
            ("type", T),
            ("cloud", T),
            ("notification_channel", T),
            ("storage_integration", T),
            ("endpoint", T),
            ("owner_role_type", T),
            ("directory_enabled", T),
        ];
        result(columns, rows)
    }

    /// `SHOW FILE FORMATS [LIKE ...] [IN ...]`.
    pub(crate) fn file_formats(&self, options: &ShowStatementOptions) -> Result<QueryStream, WarehouseError> {
        let mut rows = Vec::new();
        for (db, sc, name) in self.definitions(DefinitionKind::FileFormat, options)? {
            let Some(json) = self.s.tables.own.definition(DefinitionKind::FileFormat, &db, &sc, &name)? else {
                continue;
            };
            let d: FileFormatDefinition = serde_json::from_str(&json).map_err(|e| {
                WarehouseError::Internal(format!("file format {name}'s definition cannot be read: {e}"))
            })?;
            let kind = d.options.get("TYPE").and_then(OptionValue::text).unwrap_or("CSV").to_ascii_uppercase();
            rows.push(vec![
                Cell::Time(Some(d.created_ms)),
                t(&name),
                t(&db),
                t(&sc),
                t(kind),
                t(""),
                t(""),
                t(shown_options(&d.options)),
                t(""),
            ]);
        }
        use Ty::{Text as T, Time as At};
        let columns: &[(&str, Ty)] = &[
            ("created_on", At),
            ("name", T),
            ("database_name", T),
            ("schema_name", T),
            ("type", T),
            ("owner", T),
            ("comment", T),
            ("format_options", T),
            ("owner_role_type", T),
        ];
        result(columns, rows)
    }
}
