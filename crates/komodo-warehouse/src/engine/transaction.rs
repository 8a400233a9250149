//! Explicit transactions on the account's own tables, as Snowflake has
//! them: `BEGIN` (or `START TRANSACTION`, or the first write of a session
//! with `AUTOCOMMIT = FALSE`) opens one; each table it writes is copied on
//! its first write, and the session reads and writes the copy, so that its
//! statements see their own writes and no one else does; `COMMIT` writes
//! every copy back (one commit per table, refused when another statement
//! changed the table since it was copied) and `ROLLBACK` drops them. A DDL
//! statement commits the open transaction first, as in Snowflake.
//!
//! Temporary tables are not part of transactions.

use super::result::{QueryStream, StatementKind, status_result};
use super::session::SessionEntry;
use crate::WarehouseError;
use crate::catalog::{TableCopy, TableKey, Transaction};
use crate::storage::delta;

fn done() -> QueryStream {
    status_result(StatementKind::NoOp, "Statement executed successfully.".into())
}

/// Whether session `s` has an open transaction.
pub(crate) fn is_open(s: &SessionEntry) -> bool {
    s.tables.transaction.lock().is_some()
}

/// `BEGIN` / `START TRANSACTION`: opens a transaction (within one, does
/// nothing).
pub(crate) fn begin(s: &SessionEntry) -> QueryStream {
    let mut open = s.tables.transaction.lock();
    if open.is_none() {
        *open = Some(Transaction { id: uuid::Uuid::new_v4().to_string(), copies: Default::default() });
    }
    done()
}

/// `ROLLBACK`: drops what the open transaction wrote (without one, does
/// nothing).
pub(crate) fn rollback(s: &SessionEntry) -> Result<QueryStream, WarehouseError> {
    let taken = s.tables.transaction.lock().take();
    if let Some(t) = taken {
        s.tables.own.remove_scratch(&t.id)?;
    }
    Ok(done())
}

/// `COMMIT`: writes each table the open transaction changed back, after
/// checking that none has changed since the transaction copied it (if one
/// has, nothing is written, the transaction is rolled back and the error
/// says so). Without a transaction, does nothing.
pub(crate) async fn commit(s: &SessionEntry) -> Result<QueryStream, WarehouseError> {
    let Some(t) = s.tables.transaction.lock().take() else { return Ok(done()) };
    let result = write_back(s, &t).await;
    s.tables.own.remove_scratch(&t.id)?;
    result.map(|()| done())
}

async fn write_back(s: &SessionEntry, t: &Transaction) -> Result<(), WarehouseError> {
    let mut targets = Vec::with_capacity(t.copies.len());
    for (key, copy) in &t.copies {
        let target = delta::open(&s.tables.own.table_location(&key.0, &key.1, &key.2)?, None).await?;
        if target.version() != Some(copy.base_version) {
            return Err(WarehouseError::Conflict(format!(
                "table {} changed after this transaction first wrote it; the transaction was rolled back",
                key.2
            )));
        }
        targets.push((key, copy, target));
    }
    for (key, copy, target) in targets {
        let source = delta::open(&copy.location, None).await?;
        delta::write_all(&source, target, &key.2, true, &s.base).await?;
    }
    Ok(())
}

/// Where a write of own table `key` goes: the open transaction's copy of it
/// (made now, on its first write), or the table itself outside a
/// transaction. With `AUTOCOMMIT = FALSE` a write opens a transaction.
pub(crate) async fn write_location(s: &SessionEntry, key: &TableKey) -> Result<url::Url, WarehouseError> {
    let table_location = s.tables.own.table_location(&key.0, &key.1, &key.2)?;
    if !is_open(s) && s.params.lock().autocommit_off {
        begin(s);
    }
    let id = {
        let open = s.tables.transaction.lock();
        let Some(t) = open.as_ref() else { return Ok(table_location) };
        if let Some(copy) = t.copies.get(key) {
            return Ok(copy.location.clone());
        }
        t.id.clone()
    };
    let base = delta::open(&table_location, None).await?;
    let base_version =
        base.version().ok_or_else(|| WarehouseError::Internal(format!("table {} has no version", key.2)))?;
    let location = s.tables.own.scratch_location(&id, &uuid::Uuid::new_v4().to_string())?;
    delta::write_all(&base, delta::handle(&location)?, &key.2, false, &s.base).await?;
    let mut open = s.tables.transaction.lock();
    match open.as_mut() {
        Some(t) if t.id == id => {
            Ok(t.copies.entry(key.clone()).or_insert(TableCopy { location, base_version }).location.clone())
        }
        _ => Err(WarehouseError::Conflict("the transaction ended while this statement ran".into())),
    }
}
