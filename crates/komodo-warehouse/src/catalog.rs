//! Each account's catalog: `<root>/<account>/<DATABASE>/<SCHEMA>/<TABLE>/*.parquet`
//! as read-only DataFusion tables, overlaid per session with the session's
//! temporary tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, SchemaProvider, Session, TableProvider};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::WarehouseError;
use crate::information_schema::{self, Kind, Listing, Object};
use crate::memory::HeldMemory;
use crate::storage::{Storage, delta, is_safe_segment};

/// `database -> schema -> table -> provider`.
pub(crate) type Tables = BTreeMap<String, BTreeMap<String, BTreeMap<String, Arc<dyn TableProvider>>>>;

/// An account's subscription data, loaded from its directory.
#[derive(Debug, Default)]
pub(crate) struct AccountData {
    pub(crate) tables: Tables,
}

fn subdirs(path: &Path) -> Result<Vec<(String, PathBuf)>, WarehouseError> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(WarehouseError::Io { path: path.to_owned(), source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| WarehouseError::Io { path: path.to_owned(), source })?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if !is_safe_segment(&name) || name.starts_with('_') {
            continue;
        }
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn has_parquet(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".parquet")))
        .unwrap_or(false)
}

/// Loads an account's tables from `account_dir`.
pub(crate) async fn load_account(account_dir: &Path) -> Result<AccountData, WarehouseError> {
    let ctx = SessionContext::new();
    let state = ctx.state();
    let mut tables: Tables = BTreeMap::new();
    for (db, db_path) in subdirs(account_dir)? {
        for (schema, schema_path) in subdirs(&db_path)? {
            for (table, table_path) in subdirs(&schema_path)? {
                if !has_parquet(&table_path) {
                    continue;
                }
                let provider = listing_table(&state, &table_path).await?;
                tables
                    .entry(db.clone())
                    .or_default()
                    .entry(schema.clone())
                    .or_default()
                    .insert(table, Arc::new(ReadOnlyTable(provider)));
            }
        }
    }
    Ok(AccountData { tables })
}

async fn listing_table(state: &dyn Session, dir: &Path) -> Result<Arc<dyn TableProvider>, WarehouseError> {
    let err = |e: DataFusionError| WarehouseError::Internal(format!("table at {}: {e}", dir.display()));
    let mut text = dir.to_string_lossy().into_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    let url = ListingTableUrl::parse(&text).map_err(err)?;
    // Strings are read as plain Utf8, not views: the wire carries plain
    // strings (every result would otherwise be cast, value by value), and
    // the data's short codes and names gain nothing from views.
    let format = ParquetFormat::default().with_force_view_types(false);
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let schema = options.infer_schema(state, &url).await.map_err(err)?;
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config).map_err(err)?))
}

/// A subscription table: scans delegate to the Parquet listing, every write
/// is refused (SECURITY.md T04: SQL cannot change subscription data).
#[derive(Debug)]
pub(crate) struct ReadOnlyTable(pub(crate) Arc<dyn TableProvider>);

fn read_only() -> DataFusionError {
    DataFusionError::Plan("subscription data is read-only; only temporary tables can be changed".into())
}

#[async_trait]
impl TableProvider for ReadOnlyTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
    fn constraints(&self) -> Option<&Constraints> {
        self.0.constraints()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }
    fn statistics(&self) -> Option<Statistics> {
        self.0.statistics()
    }
    async fn insert_into(
        &self,
        _state: &dyn Session,
        _input: Arc<dyn ExecutionPlan>,
        _insert_op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(read_only())
    }
    async fn delete_from(&self, _state: &dyn Session, _filters: Vec<Expr>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(read_only())
    }
    async fn update(
        &self,
        _state: &dyn Session,
        _assignments: Vec<(String, Expr)>,
        _filters: Vec<Expr>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(read_only())
    }
    async fn truncate(&self, _state: &dyn Session) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(read_only())
    }
}

/// A fully qualified, case-exact table name.
pub(crate) type TableKey = (String, String, String);

/// A session's temporary table: its data in memory, counted against the
/// session's and the server's memory limits (SECURITY.md F05).
#[derive(Debug)]
pub(crate) struct TempTable {
    pub(crate) table: Arc<MemTable>,
    held: Mutex<HeldMemory>,
}

impl TempTable {
    /// A table of `table`'s data, whose memory `held` counts.
    pub(crate) fn new(table: Arc<MemTable>, held: HeldMemory) -> Self {
        Self { table, held: Mutex::new(held) }
    }

    /// The number of batches in each partition.
    pub(crate) async fn lengths(&self) -> Vec<usize> {
        let mut lengths = Vec::with_capacity(self.table.batches.len());
        for partition in &self.table.batches {
            lengths.push(partition.read().await.len());
        }
        lengths
    }

    /// Its rows and the bytes they take in memory.
    pub(crate) async fn size(&self) -> (usize, usize) {
        let (mut rows, mut bytes) = (0, 0);
        for partition in &self.table.batches {
            for batch in partition.read().await.iter() {
                rows += batch.num_rows();
                bytes += batch.get_array_memory_size();
            }
        }
        (rows, bytes)
    }

    /// Counts the table's present size against the memory limits; fails
    /// (counting nothing new) when it does not fit.
    pub(crate) async fn account(&self) -> Result<(), WarehouseError> {
        let mut bytes = 0;
        for partition in &self.table.batches {
            bytes += partition.read().await.iter().map(|b| b.get_array_memory_size()).sum::<usize>();
        }
        self.held.lock().resize(bytes)
    }

    /// Removes every row (`TRUNCATE`).
    pub(crate) async fn clear(&self) {
        for partition in &self.table.batches {
            partition.write().await.clear();
        }
        let _ = self.held.lock().resize(0);
    }

    /// Replaces every row by `batches` (already of the table's schema),
    /// counted against the memory limits; on failure the table keeps its
    /// rows.
    pub(crate) async fn replace(&self, batches: Vec<RecordBatch>) -> Result<(), WarehouseError> {
        let bytes = batches.iter().map(RecordBatch::get_array_memory_size).sum::<usize>();
        let mut old = 0;
        for partition in &self.table.batches {
            old += partition.read().await.iter().map(RecordBatch::get_array_memory_size).sum::<usize>();
        }
        // Both copies are held while the rows are swapped.
        self.held.lock().resize(old + bytes)?;
        let mut partitions = self.table.batches.iter();
        if let Some(first) = partitions.next() {
            *first.write().await = batches;
        }
        for partition in partitions {
            partition.write().await.clear();
        }
        let _ = self.held.lock().resize(bytes);
        Ok(())
    }

    /// Drops the batches past `lengths` (what an insert that failed added).
    pub(crate) async fn truncate(&self, lengths: &[usize]) {
        for (partition, keep) in self.table.batches.iter().zip(lengths) {
            partition.write().await.truncate(*keep);
        }
    }
}

/// What kind of object a name in a schema is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    /// A subscription table (read-only).
    Subscription,
    /// A table of the account's own databases.
    Table,
    /// A view of the account's own databases.
    View,
    /// The session's temporary table.
    Temporary,
}

/// An open transaction: the private copies of the own tables it wrote,
/// which the session reads instead of the tables until `COMMIT` writes
/// them back (or `ROLLBACK` drops them).
#[derive(Debug)]
pub(crate) struct Transaction {
    /// Names the transaction's scratch space in storage.
    pub(crate) id: String,
    /// The copies, by table.
    pub(crate) copies: BTreeMap<TableKey, TableCopy>,
}

/// A transaction's copy of one table.
#[derive(Debug, Clone)]
pub(crate) struct TableCopy {
    /// Where the copy is.
    pub(crate) location: url::Url,
    /// The table's version the copy was made from: `COMMIT` fails when the
    /// table has changed since.
    pub(crate) base_version: u64,
}

/// What a session sees: the account's subscription data (shared,
/// reloadable), its own databases (read anew at each look, so that what
/// another replica wrote is seen) and the session's temporary tables.
#[derive(Debug)]
pub(crate) struct SessionTables {
    pub(crate) account: Arc<RwLock<Arc<AccountData>>>,
    pub(crate) own: Arc<dyn Storage>,
    pub(crate) temps: Mutex<BTreeMap<TableKey, Arc<TempTable>>>,
    /// The session's open transaction, if any.
    pub(crate) transaction: Mutex<Option<Transaction>>,
    /// What Delta tables are scanned with (the session's settings and
    /// runtime, no catalog).
    pub(crate) scan_session: Arc<datafusion::execution::session_state::SessionState>,
}

impl SessionTables {
    pub(crate) fn data(&self) -> Arc<AccountData> {
        self.account.read().clone()
    }
    pub(crate) fn temp(&self, key: &TableKey) -> Option<Arc<TempTable>> {
        self.temps.lock().get(key).cloned()
    }
    /// The kind of object `key` names, if any (a temporary table first).
    pub(crate) fn kind(&self, key: &TableKey) -> Option<ObjectKind> {
        self.table_names(&key.0, &key.1).get(&key.2).copied()
    }
    /// The schema of table `key` (a temporary table first).
    pub(crate) fn table_schema(&self, key: &TableKey) -> Option<SchemaRef> {
        if let Some(t) = self.temp(key) {
            return Some(t.table.schema());
        }
        let data = self.data();
        data.tables.get(&key.0)?.get(&key.1)?.get(&key.2).map(|t| t.schema())
    }

    pub(crate) fn is_temp(&self, key: &TableKey) -> bool {
        self.temp(key).is_some()
    }
    pub(crate) fn subscription_has(&self, key: &TableKey) -> bool {
        self.data().tables.get(&key.0).and_then(|s| s.get(&key.1)).is_some_and(|t| t.contains_key(&key.2))
    }
    pub(crate) fn database_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.data().tables.keys().cloned().collect();
        names.extend(self.own.databases().unwrap_or_default());
        names.extend(self.temps.lock().keys().map(|k| k.0.clone()));
        names
    }
    pub(crate) fn schema_names(&self, db: &str) -> BTreeSet<String> {
        let data = self.data();
        let mut names: BTreeSet<String> = match data.tables.get(db) {
            Some(s) => s.keys().cloned().collect(),
            None => self.own.schemas(db).unwrap_or_default().into_iter().collect(),
        };
        names.extend(self.temps.lock().keys().filter(|k| k.0 == db).map(|k| k.1.clone()));
        names
    }
    /// The objects in `db.schema` and their kinds (a temporary table
    /// hides a permanent one of the same name, as in Snowflake).
    pub(crate) fn table_names(&self, db: &str, schema: &str) -> BTreeMap<String, ObjectKind> {
        let data = self.data();
        let mut names: BTreeMap<String, ObjectKind> = match data.tables.get(db) {
            Some(schemas) => schemas
                .get(schema)
                .map(|t| t.keys().map(|k| (k.clone(), ObjectKind::Subscription)).collect())
                .unwrap_or_default(),
            None => {
                let mut own: BTreeMap<String, ObjectKind> = self
                    .own
                    .tables(db, schema)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| (t, ObjectKind::Table))
                    .collect();
                for v in self.own.views(db, schema).unwrap_or_default() {
                    own.entry(v).or_insert(ObjectKind::View);
                }
                own
            }
        };
        for k in self.temps.lock().keys() {
            if k.0 == db && k.1 == schema {
                names.insert(k.2.clone(), ObjectKind::Temporary);
            }
        }
        names
    }

    /// A provider for own table `key` at its latest version (or
    /// `version`).
    pub(crate) async fn own_table(
        &self,
        key: &TableKey,
        version: Option<u64>,
    ) -> Result<Arc<dyn TableProvider>, WarehouseError> {
        let location = match version {
            None => self.own_location(key)?,
            Some(_) => self.own.table_location(&key.0, &key.1, &key.2)?,
        };
        let table = delta::open(&location, version).await?;
        delta::provider(&table, self.scan_session.as_ref()).await
    }

    /// Where the session reads own table `key`: the open transaction's
    /// copy of it, else the table.
    pub(crate) fn own_location(&self, key: &TableKey) -> Result<url::Url, WarehouseError> {
        let copy = self.transaction.lock().as_ref().and_then(|t| t.copies.get(key)).map(|c| c.location.clone());
        match copy {
            Some(location) => Ok(location),
            None => self.own.table_location(&key.0, &key.1, &key.2),
        }
    }
}

impl Drop for SessionTables {
    fn drop(&mut self) {
        // A session that ends within a transaction rolls it back.
        if let Some(t) = self.transaction.get_mut().take() {
            let _ = self.own.remove_scratch(&t.id);
        }
    }
}

/// The session's catalog list: one catalog per database.
#[derive(Debug)]
pub(crate) struct SessionCatalogList(pub(crate) Arc<SessionTables>);

impl CatalogProviderList for SessionCatalogList {
    fn register_catalog(&self, _name: String, _catalog: Arc<dyn CatalogProvider>) -> Option<Arc<dyn CatalogProvider>> {
        None
    }
    fn catalog_names(&self) -> Vec<String> {
        self.0.database_names().into_iter().collect()
    }
    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        self.0
            .database_names()
            .contains(name)
            .then(|| Arc::new(SessionCatalog { db: name.to_owned(), tables: self.0.clone() }) as _)
    }
}

#[derive(Debug)]
struct SessionCatalog {
    db: String,
    tables: Arc<SessionTables>,
}

impl CatalogProvider for SessionCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.schema_names(&self.db).into_iter().collect();
        names.push(information_schema::SCHEMA.to_owned());
        names
    }
    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == information_schema::SCHEMA {
            return Some(Arc::new(InformationSchema { db: self.db.clone(), tables: self.tables.clone() }));
        }
        self.tables.schema_names(&self.db).contains(name).then(|| {
            Arc::new(SessionSchema { db: self.db.clone(), schema: name.to_owned(), tables: self.tables.clone() }) as _
        })
    }
}

#[derive(Debug)]
struct SessionSchema {
    db: String,
    schema: String,
    tables: Arc<SessionTables>,
}

#[async_trait]
impl SchemaProvider for SessionSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.table_names(&self.db, &self.schema).into_keys().collect()
    }
    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let key = (self.db.clone(), self.schema.clone(), name.to_owned());
        if let Some(t) = self.tables.temp(&key) {
            return Ok(Some(t.table.clone()));
        }
        let data = self.tables.data();
        if let Some(schemas) = data.tables.get(&self.db) {
            return Ok(schemas.get(&self.schema).and_then(|t| t.get(name)).cloned());
        }
        // A table read at an earlier version (time travel).
        let (key, version) = match crate::dialect::split_versioned(name) {
            Some((table, version)) => ((self.db.clone(), self.schema.clone(), table.to_owned()), Some(version)),
            None => (key, None),
        };
        match self.tables.kind(&key) {
            Some(ObjectKind::Table) => {
                let provider =
                    self.tables.own_table(&key, version).await.map_err(|e| DataFusionError::External(e.into()))?;
                Ok(Some(provider))
            }
            _ => Ok(None),
        }
    }
    fn table_exist(&self, name: &str) -> bool {
        let name = crate::dialect::split_versioned(name).map_or(name, |(table, _)| table);
        self.tables.table_names(&self.db, &self.schema).contains_key(name)
    }
}

/// `<db>.INFORMATION_SCHEMA`: its views built from what the session sees
/// when a statement reads them.
#[derive(Debug)]
struct InformationSchema {
    db: String,
    tables: Arc<SessionTables>,
}

impl InformationSchema {
    /// What the views show of the database; with each table's columns when
    /// `columns` (own tables are opened for theirs).
    async fn listing(&self, columns: bool) -> Result<Listing, WarehouseError> {
        let t = &self.tables;
        let schemas: Vec<String> = t.schema_names(&self.db).into_iter().collect();
        let mut objects = Vec::new();
        for schema in &schemas {
            for (name, kind) in t.table_names(&self.db, schema) {
                let key = (self.db.clone(), schema.clone(), name.clone());
                let info_kind = match kind {
                    ObjectKind::Temporary => Kind::Temporary,
                    ObjectKind::View => Kind::View,
                    ObjectKind::Table | ObjectKind::Subscription => Kind::BaseTable,
                };
                let view_definition = match kind {
                    ObjectKind::View => t.own.view(&self.db, schema, &name)?.map(|v| v.ddl),
                    _ => None,
                };
                let columns = match kind {
                    _ if !columns => None,
                    ObjectKind::Table => Some(t.own_table(&key, None).await?.schema()),
                    ObjectKind::View => None,
                    ObjectKind::Temporary | ObjectKind::Subscription => t.table_schema(&key),
                };
                objects.push(Object { schema: schema.clone(), name, kind: info_kind, columns, view_definition });
            }
        }
        Ok(Listing { database: self.db.clone(), databases: t.database_names().into_iter().collect(), schemas, objects })
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        information_schema::VIEWS.iter().map(|v| (*v).to_owned()).collect()
    }
    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Some(schema) = information_schema::schema_of(name) else { return Ok(None) };
        let listing = self
            .listing(information_schema::needs_columns(name))
            .await
            .map_err(|e| DataFusionError::External(e.into()))?;
        let batch = information_schema::build(name, &listing)
            .ok_or_else(|| DataFusionError::Internal(format!("INFORMATION_SCHEMA.{name} did not build")))?;
        Ok(Some(Arc::new(ReadOnlyTable(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?)))))
    }
    fn table_exist(&self, name: &str) -> bool {
        information_schema::VIEWS.contains(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_segments_are_refused() {
        for bad in ["", "..", ".", "a/b", "a\\b", ".hidden", "x y", "ä"] {
            assert!(!is_safe_segment(bad), "{bad}");
        }
        for good in ["DEMO", "HEALTHCARE", "0b6f7a4e-1d2c-4f11-9e0a-3c4d5e6f7a8b", "my_table$1"] {
            assert!(is_safe_segment(good), "{good}");
        }
    }
}
