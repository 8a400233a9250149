//! From statement text to what runs: parsing, the statements the engine
//! allows, rewriting and planning.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

use datafusion::common::TableReference;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, WriteOp};
use datafusion::sql::sqlparser::ast::{self, ObjectName, ObjectType, Set, ShowStatementFilter, Statement};

use super::alter;
use super::commands::Commands;
use super::config::PLANNING_STACK;
use super::copy;
use super::ddl;
use super::file_format;
use super::guard::guard;
use super::insert_columns;
use super::plan::{Planned, evaluate, parse_one, plan_statement, select_star_from};
use super::privileges;
use super::result::{StatementKind, status_result};
use super::sequences;
use super::session::SessionEntry;
use super::show::{Show, Shown};
use super::stages;
use super::statements::{not_allowed, quoted_name};
use super::stop::Stop;
use super::tables::OwnTables;
use super::transaction;
use super::workers::Compiled;
use crate::catalog::{ObjectKind, TableKey};
use crate::dialect::{self, SessionValues};
use crate::parser::unset_names;
use crate::storage::DefinitionKind;
use crate::{Param, WarehouseError};

/// A statement the SQL parser does not know, recognised by its first
/// words (comments allowed anywhere), its object name read by the parser.
enum Unparsed {
    /// `UNDROP TABLE <name>`.
    UndropTable(ObjectName),
    /// `DESC[RIBE] VIEW <name>`.
    DescribeView(ObjectName),
    /// `DESC[RIBE] TABLE <name> [TYPE = COLUMNS]` (a table or a view).
    DescribeTable(ObjectName),
    /// `CREATE [OR REPLACE] SEQUENCE ...` in Snowflake's syntax.
    CreateSequence(sequences::CreateSequence),
    /// `SHOW SEQUENCES [LIKE ...] [IN ...]` (read as `SHOW TABLES` reads them).
    ShowSequences(Box<ast::ShowStatementOptions>),
    /// `SHOW STAGES` or `SHOW FILE FORMATS [LIKE ...] [IN ...]`.
    ShowDefinitions(DefinitionKind, Box<ast::ShowStatementOptions>),
    /// `CREATE [OR REPLACE] [TEMPORARY] FILE FORMAT [IF NOT EXISTS] f <options>`.
    CreateFileFormat {
        name: ObjectName,
        or_replace: bool,
        temporary: bool,
        if_not_exists: bool,
        options: file_format::Options,
    },
    /// `DROP FILE FORMAT [IF EXISTS] f`.
    DropFileFormat { name: ObjectName, if_exists: bool },
    /// A statement DataFusion's parser does not hand to Snowflake's
    /// (`CREATE [OR REPLACE] [TEMPORARY] STAGE ...`, `CREATE OR REPLACE
    /// DATABASE`), parsed by sqlparser.
    Parsed(Box<Statement>),
}

fn unparsed_statement(sql: &str) -> Result<Option<Unparsed>, WarehouseError> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = datafusion::sql::sqlparser::dialect::SnowflakeDialect {};
    let compilation = |e: &dyn std::fmt::Display| WarehouseError::Compilation(e.to_string());
    // Only a statement starting with one of these words (or a comment) is
    // tokenized again.
    let start = sql.trim_start();
    let starts = |word: &str| start.get(..word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word));
    if !["UNDROP", "DESC", "CREATE", "SHOW", "DROP", "/*", "--", "//"].into_iter().any(starts) {
        return Ok(None);
    }
    let tokens = Tokenizer::new(&dialect, sql).tokenize().map_err(|e| compilation(&e))?;
    let mut words = tokens.iter().enumerate().filter(|(_, t)| !matches!(t, Token::Whitespace(_)));
    let word = |t: Option<(usize, &Token)>| match t {
        Some((i, Token::Word(w))) if w.quote_style.is_none() => Some((i, w.value.to_ascii_uppercase())),
        _ => None,
    };
    let (Some((_, verb)), Some((mut at, mut object))) = (word(words.next()), word(words.next())) else {
        return Ok(None);
    };
    let parser_after =
        |at: usize| datafusion::sql::sqlparser::parser::Parser::new(&dialect).with_tokens(tokens[at + 1..].to_vec());
    let mut or_replace = false;
    if verb == "CREATE" && object == "OR" {
        match (word(words.next()), word(words.next())) {
            (Some((_, replace)), Some((i, o))) if replace == "REPLACE" => (or_replace, at, object) = (true, i, o),
            _ => return Ok(None),
        }
    }
    let mut temporary = false;
    if verb == "CREATE" && matches!(object.as_str(), "TEMP" | "TEMPORARY") {
        temporary = true;
        match word(words.next()) {
            Some((i, o)) if o == "FILE" || o == "STAGE" => (at, object) = (i, o),
            _ => return Ok(None),
        }
    }
    // DataFusion's parser reads CREATE itself and knows neither of these.
    if verb == "CREATE" && (object == "STAGE" || (or_replace && object == "DATABASE")) {
        let statement = datafusion::sql::sqlparser::parser::Parser::new(&dialect)
            .with_tokens(tokens.clone())
            .parse_statement()
            .map_err(|e| compilation(&e))?;
        return Ok(Some(Unparsed::Parsed(Box::new(statement))));
    }
    if matches!(verb.as_str(), "CREATE" | "DROP") && object == "FILE" {
        match word(words.next()) {
            Some((i, o)) if o == "FORMAT" => at = i,
            _ => return Ok(None),
        }
        let mut parser = parser_after(at);
        use datafusion::sql::sqlparser::keywords::Keyword;
        if verb == "DROP" {
            let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = parser.parse_object_name(false).map_err(|e| compilation(&e))?;
            end_of_statement(&mut parser)?;
            return Ok(Some(Unparsed::DropFileFormat { name, if_exists }));
        }
        let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = parser.parse_object_name(false).map_err(|e| compilation(&e))?;
        let options = file_format::parse_options(&mut parser)?;
        return Ok(Some(Unparsed::CreateFileFormat { name, or_replace, temporary, if_not_exists, options }));
    }
    match (verb.as_str(), object.as_str()) {
        ("CREATE", "SEQUENCE") => {
            let create = sequences::parse_create_sequence(&mut parser_after(at), or_replace)?;
            return Ok(Some(Unparsed::CreateSequence(create)));
        }
        ("SHOW", "SEQUENCES" | "STAGES" | "FILE") => {
            // The same options as SHOW TABLES.
            let end = match object.as_str() {
                "FILE" => match word(words.next()) {
                    Some((i, o)) if o == "FORMATS" => i,
                    _ => return Ok(None),
                },
                _ => at,
            };
            let mut tables = tokens[..at].to_vec();
            tables.push(Token::make_keyword("TABLES"));
            tables.extend_from_slice(&tokens[end + 1..]);
            let statement = datafusion::sql::sqlparser::parser::Parser::new(&dialect)
                .with_tokens(tables)
                .parse_statement()
                .map_err(|e| compilation(&e))?;
            let Statement::ShowTables { show_options, .. } = statement else {
                return Err(compilation(&format!("invalid SHOW {object}")));
            };
            let options = Box::new(show_options);
            return Ok(Some(match object.as_str() {
                "SEQUENCES" => Unparsed::ShowSequences(options),
                "STAGES" => Unparsed::ShowDefinitions(DefinitionKind::Stage, options),
                _ => Unparsed::ShowDefinitions(DefinitionKind::FileFormat, options),
            }));
        }
        _ => {}
    }
    let make: fn(ObjectName) -> Unparsed = match (verb.as_str(), object.as_str()) {
        ("UNDROP", "TABLE") => Unparsed::UndropTable,
        ("UNDROP", other) => return Err(not_allowed(&format!("UNDROP {other} (only UNDROP TABLE)"))),
        ("DESC" | "DESCRIBE", "VIEW") => Unparsed::DescribeView,
        ("DESC" | "DESCRIBE", "TABLE") => Unparsed::DescribeTable,
        _ => return Ok(None),
    };
    let mut parser = parser_after(at);
    let name = parser.parse_object_name(false).map_err(|e| compilation(&e))?;
    // `TYPE = COLUMNS` (what snowflake-sqlalchemy sends) is the default.
    if object == "TABLE" && parser.parse_keyword(datafusion::sql::sqlparser::keywords::Keyword::TYPE) {
        parser.expect_token(&Token::Eq).map_err(|e| compilation(&e))?;
        let kind = parser.parse_identifier().map_err(|e| compilation(&e))?;
        if !kind.value.eq_ignore_ascii_case("COLUMNS") {
            return Err(not_allowed(&format!("DESCRIBE TABLE ... TYPE = {kind} (only TYPE = COLUMNS)")));
        }
    }
    end_of_statement(&mut parser)?;
    Ok(Some(make(name)))
}

/// Fails unless only semicolons are left.
fn end_of_statement(parser: &mut datafusion::sql::sqlparser::parser::Parser<'_>) -> Result<(), WarehouseError> {
    use datafusion::sql::sqlparser::tokenizer::Token;
    while parser.consume_token(&Token::SemiColon) {}
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        other => Err(WarehouseError::Compilation(format!("unexpected {other} at the end of the statement"))),
    }
}

/// Whether `statement` is DDL, which commits an open transaction before it
/// runs.
fn commits_first(statement: &Statement) -> bool {
    match statement {
        Statement::CreateTable(ct) => !ct.temporary,
        Statement::CreateDatabase { .. }
        | Statement::CreateSchema { .. }
        | Statement::CreateView(_)
        | Statement::CreateStage { .. }
        | Statement::AlterTable(_)
        | Statement::Drop { .. } => true,
        _ => false,
    }
}

/// Whether `SHOW <variable>` is `SHOW PRIMARY KEYS` or `UNIQUE KEYS`
/// (`Some(false)`) or `SHOW IMPORTED KEYS` (`Some(true)`).
fn show_keys(variable: &[datafusion::sql::sqlparser::ast::Ident]) -> Option<bool> {
    let word = |i: usize| variable.get(i).map(|w| w.value.to_ascii_uppercase());
    if word(1).as_deref() != Some("KEYS") {
        return None;
    }
    match word(0).as_deref() {
        Some("PRIMARY" | "UNIQUE") => Some(false),
        Some("IMPORTED") => Some(true),
        _ => None,
    }
}

/// The size of a statement as [`parse_check`] saw it: expression nodes as
/// parsed and once Snowflake's functions are rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontEndSizes {
    /// Expression nodes of the parsed statement.
    pub parsed_expressions: usize,
    /// Expression nodes once rewritten.
    pub rewritten_expressions: usize,
}

/// Runs the engine's SQL front end on `sql` without an account or a
/// session: the token pass (identifier case, placeholders, the operator
/// budget), the parser and the rewrite of Snowflake functions, on a thread
/// with the planning thread's stack, as [`Engine::execute`] does before it
/// plans. Nothing is planned or run, so table names need not exist, and
/// which statements may run (SECURITY.md T04) is decided at execution.
///
/// This is the entry point of the SQL fuzz target and property tests
/// (SECURITY.md I01): for any text it returns `Ok` or an error, and never
/// panics. A panic inside it is resumed on the caller's thread, so a
/// fuzzer sees it as a crash.
///
/// It reports the statement's size before and after the rewrite, for the
/// fuzz target's size budget (SECURITY.md F02: no rewrite copies a
/// subtree, so the rewritten statement is at most a constant factor
/// larger).
///
/// ```
/// use komodo_warehouse::{WarehouseError, parse_check};
///
/// let sizes = parse_check("select iff(a > 1, 'x', 'y') from t where b = ?").unwrap();
/// assert!(sizes.rewritten_expressions >= sizes.parsed_expressions);
/// assert!(matches!(parse_check("SELEC 1"), Err(WarehouseError::Compilation(_))));
/// ```
pub fn parse_check(sql: &str) -> Result<FrontEndSizes, WarehouseError> {
    let prepared = dialect::prepare(sql)?;
    std::thread::scope(|scope| {
        let front_end = std::thread::Builder::new()
            .name("warehouse-parse".into())
            .stack_size(PLANNING_STACK)
            .spawn_scoped(scope, || {
                let mut statement = parse_one(&prepared)?;
                let parsed_expressions = dialect::expression_count(&statement);
                let values = SessionValues {
                    account: "ACCOUNT".into(),
                    database: Some("DATABASE".into()),
                    schema: Some("SCHEMA".into()),
                };
                dialect::rewrite(&mut statement, &values)?;
                Ok(FrontEndSizes { parsed_expressions, rewritten_expressions: dialect::expression_count(&statement) })
            })
            .map_err(|e| WarehouseError::Internal(format!("cannot start the parsing thread: {e}")))?;
        front_end.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// What a statement would return, without running it (`describeOnly`,
/// what a connector's `cursor.describe()` sends): a query's result columns
/// from its plan; a command's status column. Nothing is changed: an
/// `INSERT` is planned but not run, `USE` and `ALTER SESSION` change no
/// session state.
pub(crate) async fn describe(s: &SessionEntry, sql: &str, params: Vec<Param>) -> Result<SchemaRef, WarehouseError> {
    let (sql, params) = dialect::inline_binds(sql, params)?;
    let sql = sql.as_ref();
    let prepared = dialect::prepare(sql)?;
    let statement = parse_one(&prepared)?;
    let (database, schema) = s.current.lock().clone();
    let status = || Arc::new(Schema::new(vec![Field::new("status", DataType::Utf8, false)]));
    match &statement {
        Statement::Query(_) | Statement::Insert(_) => {}
        Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowObjects(_)
        | Statement::ShowColumns { .. }
        | Statement::ExplainTable { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowVariables { .. } => {
            // Read-only: its columns are what it returns.
            return match Box::pin(compile(s, sql, params, &Stop::after(s.max_timeout, Default::default()))).await? {
                Compiled::Ready(stream) => Ok(stream.schema),
                _ => Ok(status()),
            };
        }
        _ => return Ok(status()),
    }
    let inserts = matches!(statement, Statement::Insert(_));
    let mut statement = statement;
    let own = OwnTables { s, database: database.clone(), schema: schema.clone() };
    prepare_insert(s, &own, &mut statement).await?;
    ddl::expand_get_ddl(s, &mut statement, &database, &schema).await?;
    let Planned { plan, names, .. } = plan_statement(s, statement, params, &database, &schema).await?;
    if inserts {
        return Ok(Arc::new(Schema::new(vec![Field::new("number of rows inserted", DataType::UInt64, false)])));
    }
    let fields: Vec<Field> =
        plan.schema().fields().iter().map(|f| f.as_ref().clone().with_name(names.wanted(f.name()))).collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// The name a `SET` gives a variable: one identifier, upper-cased unless
/// quoted (as the token pass left it).
fn variable_name(name: &ObjectName) -> Result<String, WarehouseError> {
    match name.0.as_slice() {
        [part] => match part.as_ident() {
            Some(id) if !id.value.is_empty() && id.value.len() <= 256 => Ok(id.value.to_ascii_uppercase()),
            _ => Err(WarehouseError::Compilation(format!("invalid variable name {name}"))),
        },
        _ => Err(WarehouseError::Compilation(format!(
            "invalid variable name {name}: a session variable's name is one identifier"
        ))),
    }
}

/// Prepares, parses, checks, rewrites and plans one statement of session
/// `s` with `params`, its plan guarded by `stop` (see [`guard`]).
pub(crate) async fn compile(
    s: &SessionEntry,
    sql: &str,
    params: Vec<Param>,
    stop: &Stop,
) -> Result<Compiled, WarehouseError> {
    let this = Commands(s);
    let (sql, params) = dialect::inline_binds(sql, params)?;
    let sql = super::copy::plain_transformation(&sql)?;
    let prepared = dialect::prepare(&sql)?;
    let (database, schema) = s.current.lock().clone();
    let own = OwnTables { s, database: database.clone(), schema: schema.clone() };
    let access = *s.access.lock();
    let unparsed = unparsed_statement(&prepared.sql)?;
    match &unparsed {
        Some(Unparsed::UndropTable(name)) => {
            privileges::check_undrop(access, name)?;
            if transaction::is_open(s) {
                transaction::commit(s).await?;
            }
            return own.undrop_table(name).map(Compiled::Ready);
        }
        Some(Unparsed::DescribeView(name) | Unparsed::DescribeTable(name)) => {
            let key = own.key(name)?;
            match s.tables.kind(&key) {
                Some(ObjectKind::View) => {}
                Some(_) if !matches!(unparsed, Some(Unparsed::DescribeView(_))) => {}
                _ => return Err(WarehouseError::ObjectNotFound(format!("{}.{}.{}", key.0, key.1, key.2))),
            }
            let query = select_star_from(quoted_name(&key))?;
            let Planned { plan, .. } =
                plan_statement(s, Statement::Query(Box::new(query)), vec![], &database, &schema).await?;
            return Ok(Compiled::Ready(this.describe_table(plan.schema().as_arrow())));
        }
        Some(Unparsed::CreateSequence(create)) => {
            if access == super::session::Access::ReadOnly {
                return Err(privileges::reader_refused(format!("schema of sequence '{}'", create.name)));
            }
            if transaction::is_open(s) {
                transaction::commit(s).await?;
            }
            return sequences::create_sequence(s, create, &database, &schema).map(Compiled::Ready);
        }
        Some(Unparsed::ShowSequences(options)) => {
            return Show::new(s).sequences(options).map(Compiled::Ready);
        }
        Some(Unparsed::ShowDefinitions(DefinitionKind::Stage, options)) => {
            return Show::new(s).stages(options).map(Compiled::Ready);
        }
        Some(Unparsed::ShowDefinitions(_, options)) => {
            return Show::new(s).file_formats(options).map(Compiled::Ready);
        }
        Some(Unparsed::CreateFileFormat { name, or_replace, temporary, if_not_exists, options }) => {
            if access == super::session::Access::ReadOnly {
                return Err(privileges::reader_refused(format!("schema of file format '{name}'")));
            }
            let current = (&database, &schema);
            let flags = (*or_replace, *temporary, *if_not_exists);
            return stages::create_file_format(s, name, flags, options.clone(), current).map(Compiled::Ready);
        }
        Some(Unparsed::DropFileFormat { name, if_exists }) => {
            if access == super::session::Access::ReadOnly {
                return Err(privileges::reader_refused(format!("file format '{name}'")));
            }
            let names = std::slice::from_ref(name);
            return stages::drop_definitions(s, DefinitionKind::FileFormat, names, *if_exists, (&database, &schema))
                .map(Compiled::Ready);
        }
        Some(Unparsed::Parsed(_)) | None => {}
    }
    let mut statement = match unparsed {
        Some(Unparsed::Parsed(statement)) => *statement,
        _ => parse_one(&prepared)?,
    };
    sequences::refuse_internal_calls(&statement)?;
    privileges::check(access, &statement, &own)?;
    // A DDL statement commits the open transaction first, as in Snowflake.
    if transaction::is_open(s) && commits_first(&statement) {
        transaction::commit(s).await?;
    }
    // The first write of a table in a transaction copies it (outside one,
    // no look at the table is needed).
    let transactional = transaction::is_open(s) || s.params.lock().autocommit_off;
    if transactional
        && let Statement::Insert(insert) = &statement
        && let ast::TableObject::TableName(name) = &insert.table
        && let Ok(key) = own.key(name)
        && s.tables.kind(&key) == Some(ObjectKind::Table)
    {
        transaction::write_location(s, &key).await?;
    }
    prepare_insert(s, &own, &mut statement).await?;
    match &statement {
        Statement::Query(_) | Statement::Insert(_) => {}
        Statement::CreateTable(ct) => {
            if ct.external || ct.location.is_some() {
                return Err(not_allowed("CREATE TABLE ... LOCATION"));
            }
            if let Some(ast::CreateTableLikeKind::Plain(like) | ast::CreateTableLikeKind::Parenthesized(like)) =
                &ct.like
            {
                if ct.temporary {
                    return Err(not_allowed("CREATE TEMPORARY TABLE ... LIKE"));
                }
                let key = own.key(&ct.name)?;
                return alter::create_like(&own, &key, &like.name, ct.if_not_exists, ct.or_replace)
                    .await
                    .map(Compiled::Ready);
            }
        }
        Statement::AlterTable(a) => return alter::alter_table(&own, a).await.map(Compiled::Ready),
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            or_replace,
            clone: None,
            location: None,
            managed_location: None,
            external_volume: None,
            catalog: None,
            ..
        } => {
            return own.create_database(db_name, *if_not_exists, *or_replace).map(Compiled::Ready);
        }
        Statement::CreateSchema { schema_name, if_not_exists, clone: None, .. } => {
            return own.create_schema(schema_name, *if_not_exists).map(Compiled::Ready);
        }
        Statement::Drop {
            object_type: object_type @ (ObjectType::Database | ObjectType::Schema),
            if_exists,
            names,
            ..
        } => {
            return own.drop_container(*object_type, names, *if_exists).map(Compiled::Ready);
        }
        Statement::Truncate(t) => {
            let [target] = t.table_names.as_slice() else {
                return Err(WarehouseError::Compilation("TRUNCATE names one table".into()));
            };
            let key = own.key(&target.name)?;
            if let Some(temp) = s.tables.temp(&key) {
                temp.clear().await;
                return Ok(Compiled::Ready(status_result(
                    StatementKind::Ddl,
                    "Statement executed successfully.".into(),
                )));
            }
            return own.truncate(&target.name, t.if_exists).await.map(Compiled::Ready);
        }
        Statement::CreateView(v) => return own.create_view(v, &sql).map(Compiled::Ready),
        Statement::Drop { object_type: ObjectType::View, if_exists, names, .. } => {
            return own.drop_views(names, *if_exists).map(Compiled::Ready);
        }
        Statement::Drop { object_type: ObjectType::Sequence, if_exists, names, .. } => {
            return sequences::drop_sequences(s, names, *if_exists, &database, &schema).map(Compiled::Ready);
        }
        Statement::Drop { object_type: ObjectType::Stage, if_exists, names, .. } => {
            let current = (&database, &schema);
            return stages::drop_definitions(s, DefinitionKind::Stage, names, *if_exists, current).map(Compiled::Ready);
        }
        Statement::CreateStage { .. } => {
            return stages::create_stage(s, &statement, (&database, &schema)).map(Compiled::Ready);
        }
        Statement::List(command) | Statement::Remove(command) => {
            let stage = stages::stage_ref(s, &command.stage.to_string(), &database, &schema)?;
            let listed = match &statement {
                Statement::List(_) => stages::list(s, &stage, command.pattern.as_deref()),
                _ => stages::remove(s, &stage, command.pattern.as_deref()),
            };
            return listed.map(Compiled::Ready);
        }
        Statement::CopyIntoSnowflake { .. } => {
            return copy::copy_into(s, &statement, stop).await.map(Compiled::Ready);
        }
        Statement::Update(u) => return own.update(u, params).await.map(Compiled::Ready),
        Statement::Delete(d) => return own.delete(d, params).await.map(Compiled::Ready),
        Statement::Merge(m) => return own.merge(m, params).await.map(Compiled::Ready),

        Statement::Use(u) => return this.use_statement(u).map(Compiled::Ready),
        Statement::Drop { object_type: ObjectType::Table, if_exists, names, .. } => {
            return this.drop_tables(names, *if_exists, &own).map(Compiled::Ready);
        }
        Statement::ShowTables { terse, show_options, history: false, external: false, .. } => {
            return Show::new(s).objects_of(Shown::Tables, *terse, show_options).await.map(Compiled::Ready);
        }
        Statement::ShowViews { terse, materialized: false, show_options } => {
            return Show::new(s).objects_of(Shown::Views, *terse, show_options).await.map(Compiled::Ready);
        }
        Statement::ShowObjects(o) => {
            return Show::new(s).objects_of(Shown::Objects, o.terse, &o.show_options).await.map(Compiled::Ready);
        }
        Statement::ShowColumns { show_options, .. } => {
            let (database, schema) = (&database, &schema);
            let columns_of = |key: TableKey, kind: ObjectKind| async move {
                let columns: Option<SchemaRef> = match kind {
                    ObjectKind::Table => Some(s.tables.own_table(&key, None).await?.schema()),
                    ObjectKind::View => {
                        // A view's columns are its query's; one that no longer plans has none.
                        let query = select_star_from(quoted_name(&key))?;
                        let planned =
                            plan_statement(s, Statement::Query(Box::new(query)), vec![], database, schema).await;
                        planned.ok().map(|p| Arc::new(p.plan.schema().as_arrow().clone()))
                    }
                    ObjectKind::Temporary | ObjectKind::Subscription => s.tables.table_schema(&key),
                };
                Ok::<_, WarehouseError>(columns)
            };
            return Show::new(s).columns(show_options, columns_of).await.map(Compiled::Ready);
        }
        Statement::ShowVariable { variable } if show_keys(variable).is_some() => {
            return Ok(Compiled::Ready(this.show_keys(show_keys(variable) == Some(true))));
        }
        Statement::ExplainTable { table_name, .. } => {
            let query = select_star_from(table_name.clone())?;
            let Planned { plan, .. } =
                plan_statement(s, Statement::Query(Box::new(query)), vec![], &database, &schema).await?;
            return Ok(Compiled::Ready(this.describe_table(plan.schema().as_arrow())));
        }
        Statement::ShowDatabases { terse, history: false, show_options } => {
            return Show::new(s).databases(*terse, show_options).map(Compiled::Ready);
        }
        Statement::ShowSchemas { terse, history: false, show_options } => {
            return Show::new(s).schemas(*terse, show_options).map(Compiled::Ready);
        }
        Statement::StartTransaction { .. } => return Ok(Compiled::Ready(transaction::begin(s))),
        Statement::Commit { .. } => return transaction::commit(s).await.map(Compiled::Ready),
        Statement::Rollback { savepoint: None, .. } => return transaction::rollback(s).map(Compiled::Ready),
        Statement::AlterSession { set, session_params } => {
            return this.alter_session(*set, session_params).map(Compiled::Ready);
        }
        Statement::Set(set) => {
            if let Some(names) = unset_names(&statement) {
                return this.unset_variables(names).map(Compiled::Ready);
            }
            let (names, values) = match set {
                Set::SingleAssignment { variable, values, .. } => (vec![variable.clone()], values.clone()),
                Set::ParenthesizedAssignments { variables, values } => (variables.clone(), values.clone()),
                _ => return Err(not_allowed("this SET statement")),
            };
            if names.len() != values.len() {
                return Err(WarehouseError::Compilation(format!(
                    "SET assigns {} values to {} variables",
                    values.len(),
                    names.len()
                )));
            }
            let names = names.iter().map(variable_name).collect::<Result<Vec<_>, _>>()?;
            let scalars = Box::pin(evaluate(s, values, &database, &schema, stop)).await?;
            return this.set_variables(names, scalars).map(Compiled::Ready);
        }
        Statement::ShowVariables { filter, .. } => {
            let like = match filter {
                Some(ShowStatementFilter::Like(p) | ShowStatementFilter::ILike(p)) => Some(p.as_str()),
                _ => None,
            };
            return Ok(Compiled::Ready(this.show_variables(like)));
        }
        Statement::Copy { .. } => return Err(not_allowed("COPY (Snowflake's COPY INTO is)")),
        other => {
            let text = other.to_string();
            let verb: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            return Err(not_allowed(&verb));
        }
    }
    // DataFusion plans CREATE TABLE only without TEMPORARY; a temporary
    // table is kept in the session, a permanent one in the account's own
    // database.
    let creates_temp = matches!(&statement, Statement::CreateTable(ct) if ct.temporary);
    let declared = insert_columns::declared_columns(&mut statement, &database, &schema)?;
    if let Statement::CreateTable(ct) = &mut statement {
        ct.temporary = false;
        ct.transient = false;
    }
    ddl::expand_get_ddl(s, &mut statement, &database, &schema).await?;
    let Planned { plan, names, state } = plan_statement(s, statement, params, &database, &schema).await?;
    let resolve = |r: &TableReference| -> TableKey {
        let full = r.clone().resolve(&database.clone().unwrap_or_default(), &schema.clone().unwrap_or_default());
        (full.catalog.to_string(), full.schema.to_string(), full.table.to_string())
    };
    let physical = |plan: LogicalPlan| {
        let state = &state;
        async move {
            let plan = state.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion)?;
            guard(plan, stop).map_err(WarehouseError::from_datafusion)
        }
    };
    match plan {
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(cmt)) if !creates_temp => {
            let key = resolve(&cmt.name);
            if key.0.is_empty() || key.1.is_empty() {
                return Err(WarehouseError::NoCurrentDatabase("CREATE TABLE".into()));
            }
            let input = insert_columns::mark_defaults(Arc::unwrap_or_clone(cmt.input), &declared)?;
            own.create_table(&key, input, cmt.if_not_exists, cmt.or_replace, &state).await.map(Compiled::Ready)
        }
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(cmt)) => {
            let key = resolve(&cmt.name);
            if key.0.is_empty() || key.1.is_empty() {
                return Err(WarehouseError::NoCurrentDatabase("CREATE TABLE".into()));
            }
            let exists = s.tables.is_temp(&key);
            if exists && cmt.if_not_exists {
                return Ok(Compiled::Ready(status_result(
                    StatementKind::CreateTable,
                    format!("{} already exists, statement succeeded.", key.2),
                )));
            }
            if exists && !cmt.or_replace {
                return Err(WarehouseError::Compilation(format!("Object '{}' already exists.", key.2)));
            }
            let plan = physical(insert_columns::mark_defaults(Arc::unwrap_or_clone(cmt.input), &declared)?).await?;
            Ok(Compiled::CreateTemp { key, plan, task: s.task.clone() })
        }
        LogicalPlan::Ddl(_) => Err(not_allowed("DDL other than CREATE TEMPORARY TABLE")),
        LogicalPlan::Copy(_) => Err(not_allowed("COPY")),
        LogicalPlan::Statement(_) | LogicalPlan::Extension(_) => Err(not_allowed("this statement")),
        LogicalPlan::Dml(dml) => {
            let key = resolve(&dml.table_name);
            if !matches!(dml.op, WriteOp::Insert(_)) {
                return Err(not_allowed("this statement"));
            }
            let table = match s.tables.temp(&key) {
                Some(table) => table,
                None if s.tables.kind(&key) == Some(ObjectKind::Table) => {
                    let plan = physical(LogicalPlan::Dml(dml)).await?;
                    return Ok(Compiled::Write { plan, task: s.task.clone() });
                }
                None => return Err(super::statements::subscription_refused(&format!("table '{}'", key.2))),
            };
            let plan = physical(LogicalPlan::Dml(dml)).await?;
            Ok(Compiled::Insert { key, before: table.lengths().await, plan, task: s.task.clone() })
        }
        plan => {
            let plan = physical(plan).await?;
            Ok(Compiled::Query { plan, task: s.task.clone(), names })
        }
    }
}

/// An `INSERT` prepared against its target's columns (defaults,
/// `TIMESTAMP_TZ`: see [`insert_columns`]); other statements as they are.
async fn prepare_insert(
    s: &SessionEntry,
    own: &OwnTables<'_>,
    statement: &mut Statement,
) -> Result<(), WarehouseError> {
    if let Statement::Insert(insert) = statement
        && let ast::TableObject::TableName(name) = &insert.table
        && let Ok(key) = own.key(name)
    {
        insert_columns::prepare_insert(s, &key, insert).await?;
    }
    Ok(())
}
