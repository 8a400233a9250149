//! Sequences and identity columns.
//!
//! - `CREATE [OR REPLACE] SEQUENCE [IF NOT EXISTS] s [WITH] [START [WITH]
//!   [=] n] [INCREMENT [BY] [=] n] [ORDER | NOORDER] [COMMENT = '...']`,
//!   `DROP SEQUENCE`, `SHOW SEQUENCES`: named sequences of the account's
//!   own schemas, kept by [`Storage`] (see `crate::storage`'s sequences for
//!   how replicas share one without handing a value out twice).
//! - `s.NEXTVAL` (also `db.schema.s.NEXTVAL`) is a new value for each row
//!   and each mention; a column `DEFAULT s.NEXTVAL` keeps the sequence's
//!   whole name.
//! - `AUTOINCREMENT` / `IDENTITY` [`(start, step)` | `START n INCREMENT n`]
//!   columns: a sequence of their own (no name, kept with the column's
//!   metadata, `crate::plan::COLUMN_IDENTITY`) that fills the column when an `INSERT`
//!   leaves it out.
//!
//! Both become a call of [`NextVal`] with the sequence's id, start and
//! step as literals. An engine takes a sequence's values in blocks
//! ([`SequenceBlocks`]): one session's values go up one step at a time; two
//! replicas' values interleave by block; values left in a block when the
//! process stops are never used (as in Snowflake, a sequence may have
//! gaps, never a repeated value).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::Int64Array;
use arrow_schema::DataType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self, ColumnOption, Expr, Ident, IdentityPropertyFormatKind, IdentityPropertyKind, ObjectName, Query, SelectItem,
    SetExpr, Statement, VisitMut, VisitorMut,
};
use parking_lot::Mutex;

use super::result::{QueryStream, StatementKind, status_result};
use super::session::SessionEntry;
use super::statements::table_key;
use crate::WarehouseError;
use crate::catalog::TableKey;
use crate::dialect::call;
use crate::storage::{SequenceDefinition, Storage};

/// The function a sequence's next value is computed by (lower case: only
/// the engine's own rewrites name it; [`refuse_internal_calls`] keeps it
/// out of what users write).
pub(crate) const NEXTVAL: &str = "__komodo_nextval";

/// How many values an engine claims at a time (more when one batch of rows
/// needs more).
const BLOCK: u64 = 1000;

/// A sequence as a call of [`NextVal`] computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    pub(crate) id: String,
    pub(crate) start: i64,
    pub(crate) increment: i64,
}

impl Sequence {
    /// A new sequence (a new id): its values start again.
    fn new(start: i64, increment: i64) -> Result<Self, WarehouseError> {
        if increment == 0 {
            return Err(WarehouseError::Compilation("a sequence's INCREMENT cannot be 0".into()));
        }
        Ok(Self { id: uuid::Uuid::new_v4().to_string(), start, increment })
    }

    /// The call that gives this sequence's next value.
    pub(crate) fn next_value(&self) -> Expr {
        let number = |n: i64| Expr::value(ast::Value::Number(n.to_string(), false));
        call(
            NEXTVAL,
            vec![
                Expr::value(ast::Value::SingleQuotedString(self.id.clone())),
                number(self.start),
                number(self.increment),
            ],
        )
    }

    /// As kept in an identity column's metadata.
    pub(crate) fn to_metadata(&self) -> String {
        format!("{} {} {}", self.id, self.start, self.increment)
    }

    /// From an identity column's metadata.
    pub(crate) fn from_metadata(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let id = parts.next()?.to_owned();
        let start = parts.next()?.parse().ok()?;
        let increment = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self { id, start, increment })
    }
}

/// The ordinals an engine holds for each sequence it has used: the rest of
/// its last claimed block.
#[derive(Debug, Default)]
pub(crate) struct SequenceBlocks {
    held: Mutex<HashMap<String, Held>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Held {
    next: u64,
    end: u64,
}

impl SequenceBlocks {
    /// `count` ordinals of sequence `id`, in increasing order, as runs of
    /// `(first, length)`.
    fn take(&self, storage: &dyn Storage, id: &str, count: u64) -> Result<Vec<(u64, u64)>, WarehouseError> {
        let mut held = self.held.lock();
        let h = held.entry(id.to_owned()).or_default();
        let mut runs = Vec::with_capacity(2);
        let from_held = (h.end - h.next).min(count);
        if from_held > 0 {
            runs.push((h.next, from_held));
            h.next += from_held;
        }
        let rest = count - from_held;
        if rest > 0 {
            let size = rest.max(BLOCK);
            let first = storage.claim(id, size, h.end)?;
            runs.push((first, rest));
            *h = Held { next: first + rest, end: first + size };
        }
        Ok(runs)
    }
}

/// `__komodo_nextval(id, start, step)`: a new value of the sequence for
/// each row.
#[derive(Debug)]
pub(crate) struct NextVal {
    signature: Signature,
    storage: Arc<dyn Storage>,
    blocks: Arc<SequenceBlocks>,
}

impl NextVal {
    pub(crate) fn new(storage: Arc<dyn Storage>, blocks: Arc<SequenceBlocks>) -> Self {
        let signature = Signature::exact(vec![DataType::Utf8, DataType::Int64, DataType::Int64], Volatility::Volatile);
        Self { signature, storage, blocks }
    }
}

impl PartialEq for NextVal {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.blocks, &other.blocks) && Arc::ptr_eq(&self.storage, &other.storage)
    }
}

impl Eq for NextVal {}

impl std::hash::Hash for NextVal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        NEXTVAL.hash(state);
    }
}

impl ScalarUDFImpl for NextVal {
    fn name(&self) -> &str {
        NEXTVAL
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let wrong = || DataFusionError::Internal(format!("{NEXTVAL} takes a sequence's id, start and step"));
        let (id, start, increment) = match args.args.as_slice() {
            [
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(id))),
                ColumnarValue::Scalar(ScalarValue::Int64(Some(start))),
                ColumnarValue::Scalar(ScalarValue::Int64(Some(increment))),
            ] => (id, *start, *increment),
            _ => return Err(wrong()),
        };
        let count = args.number_rows as u64;
        let runs = self
            .blocks
            .take(self.storage.as_ref(), id, count)
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        let out_of_range = || DataFusionError::Execution("the sequence has no values left in NUMBER's range".into());
        let mut values = Vec::with_capacity(args.number_rows);
        for (first, length) in runs {
            for ordinal in first..first + length {
                let value = i128::from(start) + i128::from(ordinal) * i128::from(increment);
                values.push(i64::try_from(value).map_err(|_| out_of_range())?);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(values))))
    }
}

/// Fails when `statement` (as a user wrote it) calls one of the engine's
/// internal functions (`__komodo_...`, quoted to keep its case).
pub(crate) fn refuse_internal_calls(statement: &Statement) -> Result<(), WarehouseError> {
    let found = ast::visit_expressions(statement, |e| match e {
        Expr::Function(f) if f.name.to_string().trim_matches('"').to_ascii_lowercase().starts_with("__komodo") => {
            ControlFlow::Break(f.name.to_string())
        }
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break(name) => Err(WarehouseError::Compilation(format!("unknown function {name}"))),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The sequence `parts` (a name followed by `NEXTVAL`) names, if it is one.
fn nextval_name(expr: &Expr) -> Option<&[Ident]> {
    let Expr::CompoundIdentifier(parts) = expr else { return None };
    let (last, name) = parts.split_last()?;
    (last.quote_style.is_none() && last.value.eq_ignore_ascii_case("NEXTVAL") && (1..=3).contains(&name.len()))
        .then_some(name)
}

/// Replaces each `s.NEXTVAL` of `statement` naming one of the account's
/// sequences by its [`NextVal`] call (a select item keeps the name
/// `NEXTVAL`); other `x.NEXTVAL` (a column of that name) stay.
pub(crate) fn resolve_sequences(
    s: &SessionEntry,
    statement: &mut Statement,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<(), WarehouseError> {
    let mut resolver = Resolver { s, database, schema, error: None };
    let _ = statement.visit(&mut resolver);
    resolver.error.map_or(Ok(()), Err)
}

struct Resolver<'a> {
    s: &'a SessionEntry,
    database: &'a Option<String>,
    schema: &'a Option<String>,
    error: Option<WarehouseError>,
}

impl Resolver<'_> {
    fn sequence(&mut self, name: &[Ident]) -> Option<Sequence> {
        let name = ObjectName::from(name.to_vec());
        let key = table_key(&name, self.database, self.schema).ok()?;
        match self.s.tables.own.sequence(&key.0, &key.1, &key.2) {
            Ok(found) => found.map(|d| Sequence { id: d.id, start: d.start, increment: d.increment }),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl VisitorMut for Resolver<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(e) = item
                    && nextval_name(e).is_some()
                {
                    let expr = std::mem::replace(e, Expr::value(ast::Value::Null));
                    *item = SelectItem::ExprWithAlias { expr, alias: Ident::new("NEXTVAL") };
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Some(name) = nextval_name(expr) else { return ControlFlow::Continue(()) };
        if let Some(sequence) = self.sequence(name) {
            *expr = sequence.next_value();
        }
        if self.error.is_some() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }
}

/// Each `s.NEXTVAL` in `expr` (a column's default) with the sequence's
/// whole name, so that the default means the same from any schema.
pub(crate) fn qualify_nextvals(expr: &mut Expr, database: &Option<String>, schema: &Option<String>) {
    let _ = ast::visit_expressions_mut(expr, |e| {
        if let Some(name) = nextval_name(e)
            && let Ok(key) = table_key(&ObjectName::from(name.to_vec()), database, schema)
        {
            let quoted = |part: &str| Ident::with_quote('"', part);
            *e = Expr::CompoundIdentifier(vec![quoted(&key.0), quoted(&key.1), quoted(&key.2), Ident::new("NEXTVAL")]);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The identity columns a `CREATE TABLE` declares, each with a new
/// sequence; their `AUTOINCREMENT`/`IDENTITY` options are taken out (the
/// column's metadata keeps them). Each `DEFAULT s.NEXTVAL` gets the
/// sequence's whole name.
pub(crate) fn declare_identities(
    statement: &mut Statement,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<Vec<(String, Sequence)>, WarehouseError> {
    let Statement::CreateTable(ct) = statement else { return Ok(Vec::new()) };
    let mut identities = Vec::new();
    for column in &mut ct.columns {
        let mut identity = None;
        for option in &mut column.options {
            match &mut option.option {
                ColumnOption::Identity(kind) => identity = Some(parameters(kind)?),
                ColumnOption::Default(e) => qualify_nextvals(e, database, schema),
                _ => {}
            }
        }
        column.options.retain(|o| !matches!(o.option, ColumnOption::Identity(_)));
        if let Some((start, increment)) = identity {
            identities.push((column.name.value.clone(), Sequence::new(start, increment)?));
        }
    }
    Ok(identities)
}

/// The start and step of an identity property (1 and 1 unless given).
fn parameters(kind: &IdentityPropertyKind) -> Result<(i64, i64), WarehouseError> {
    let (IdentityPropertyKind::Autoincrement(property) | IdentityPropertyKind::Identity(property)) = kind;
    let (seed, increment) = match &property.parameters {
        None => return Ok((1, 1)),
        Some(IdentityPropertyFormatKind::FunctionCall(p) | IdentityPropertyFormatKind::StartAndIncrement(p)) => {
            (&p.seed, &p.increment)
        }
    };
    Ok((integer(seed, "START")?, integer(increment, "INCREMENT")?))
}

/// An integer literal (possibly negative).
fn integer(expr: &Expr, what: &str) -> Result<i64, WarehouseError> {
    let invalid = || WarehouseError::Compilation(format!("{what} takes an integer, not {expr}"));
    match expr {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse().map_err(|_| invalid()),
            _ => Err(invalid()),
        },
        Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr } => integer(expr, what)?.checked_neg().ok_or_else(invalid),
        Expr::UnaryOp { op: ast::UnaryOperator::Plus, expr } => integer(expr, what),
        _ => Err(invalid()),
    }
}

/// A `CREATE SEQUENCE` statement as read by [`parse_create_sequence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateSequence {
    pub(crate) name: ObjectName,
    pub(crate) or_replace: bool,
    pub(crate) if_not_exists: bool,
    pub(crate) start: i64,
    pub(crate) increment: i64,
    pub(crate) comment: Option<String>,
}

/// Reads the rest of `CREATE [OR REPLACE] SEQUENCE` from `parser` (placed
/// after `SEQUENCE`).
pub(crate) fn parse_create_sequence(
    parser: &mut datafusion::sql::sqlparser::parser::Parser<'_>,
    or_replace: bool,
) -> Result<CreateSequence, WarehouseError> {
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::Token;
    let compilation = |e: &dyn std::fmt::Display| WarehouseError::Compilation(e.to_string());
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false).map_err(|e| compilation(&e))?;
    let mut create = CreateSequence { name, or_replace, if_not_exists, start: 1, increment: 1, comment: None };
    let _ = parser.parse_keyword(Keyword::WITH);
    fn number(parser: &mut datafusion::sql::sqlparser::parser::Parser<'_>, what: &str) -> Result<i64, WarehouseError> {
        let _ = parser.consume_token(&Token::Eq);
        let expr = parser.parse_prefix().map_err(|e| WarehouseError::Compilation(e.to_string()))?;
        integer(&expr, what)
    }
    loop {
        if parser.parse_keyword(Keyword::START) {
            let _ = parser.parse_keyword(Keyword::WITH);
            create.start = number(parser, "START")?;
        } else if parser.parse_keyword(Keyword::INCREMENT) {
            let _ = parser.parse_keyword(Keyword::BY);
            create.increment = number(parser, "INCREMENT")?;
        } else if parser.parse_keyword(Keyword::ORDER) || parser.parse_keyword(Keyword::NOORDER) {
            // Values of one engine are in order; replicas interleave by block.
        } else if parser.parse_keyword(Keyword::COMMENT) {
            let _ = parser.consume_token(&Token::Eq);
            create.comment = Some(parser.parse_literal_string().map_err(|e| compilation(&e))?);
        } else {
            break;
        }
    }
    while parser.consume_token(&Token::SemiColon) {}
    if parser.peek_token().token != Token::EOF {
        return Err(compilation(&format!("unexpected {} in CREATE SEQUENCE", parser.peek_token().token)));
    }
    if create.or_replace && create.if_not_exists {
        return Err(compilation(&"CREATE OR REPLACE SEQUENCE cannot also say IF NOT EXISTS"));
    }
    Ok(create)
}

/// Runs `CREATE SEQUENCE` in session `s`.
pub(crate) fn create_sequence(
    s: &SessionEntry,
    create: &CreateSequence,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<QueryStream, WarehouseError> {
    let key = own_key(s, &create.name, database, schema)?;
    let sequence = Sequence::new(create.start, create.increment)?;
    let definition = SequenceDefinition {
        id: sequence.id,
        start: sequence.start,
        increment: sequence.increment,
        created_ms: chrono::Utc::now().timestamp_millis(),
        comment: create.comment.clone(),
    };
    let created = s.tables.own.put_sequence(&key.0, &key.1, &key.2, &definition, create.or_replace)?;
    let message = match (created, create.if_not_exists) {
        (true, _) => format!("Sequence {} successfully created.", key.2),
        (false, true) => format!("{} already exists, statement succeeded.", key.2),
        (false, false) => return Err(WarehouseError::AlreadyExists(format!("Object '{}' already exists.", key.2))),
    };
    Ok(status_result(StatementKind::Ddl, message))
}

/// Runs `DROP SEQUENCE [IF EXISTS]` in session `s`.
pub(crate) fn drop_sequences(
    s: &SessionEntry,
    names: &[ObjectName],
    if_exists: bool,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<QueryStream, WarehouseError> {
    let mut dropped = Vec::new();
    for name in names {
        let key = own_key(s, name, database, schema)?;
        if s.tables.own.drop_sequence(&key.0, &key.1, &key.2)? {
            dropped.push(key.2);
        } else if !if_exists {
            return Err(WarehouseError::ObjectNotFound(key.2));
        }
    }
    let message = match dropped.as_slice() {
        [] => "Drop statement executed successfully (sequence already dropped).".to_owned(),
        names => format!("{} successfully dropped.", names.join(", ")),
    };
    Ok(status_result(StatementKind::Ddl, message))
}

/// The whole name of sequence `name`, in one of the account's own schemas.
fn own_key(
    s: &SessionEntry,
    name: &ObjectName,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<TableKey, WarehouseError> {
    let key = table_key(name, database, schema)?;
    if s.tables.data().tables.contains_key(&key.0) {
        return Err(super::statements::subscription_refused(&format!("schema '{}.{}'", key.0, key.1)));
    }
    if !s.tables.own.schemas(&key.0)?.contains(&key.1) {
        return Err(WarehouseError::ObjectNotFound(format!("{}.{}", key.0, key.1)));
    }
    Ok(key)
}
