//! Time travel: `FROM t AT(OFFSET => -60)`, `AT(TIMESTAMP => ...)` and
//! `BEFORE(TIMESTAMP => ...)` on the account's own tables.
//!
//! A statement is read twice: [`time_travels`] lists each clause (the
//! table named and the moment asked for), the caller finds the version of
//! each table at that moment, and [`apply_time_travels`] renames each
//! table to [`versioned_name`] (which the catalog opens at that version),
//! keeping the name the query uses for its columns as the alias.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, TableAlias,
    TableFactor, TableVersion, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::WarehouseError;

/// What separates a table's name from the version it is read at in the
/// names [`apply_time_travels`] writes (a character no unquoted name has).
pub(crate) const VERSION_MARK: char = '\u{1}';

/// The name under which the catalog opens `table` at `version`.
pub(crate) fn versioned_name(table: &str, version: u64) -> String {
    format!("{table}{VERSION_MARK}{version}")
}

/// A table name and the version it asks for, when `name` is one that
/// [`versioned_name`] wrote.
pub(crate) fn split_versioned(name: &str) -> Option<(&str, u64)> {
    let (table, version) = name.split_once(VERSION_MARK)?;
    Some((table, version.parse().ok()?))
}

/// The moment a time-travel clause reads a table at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Moment {
    /// `AT(OFFSET => <seconds, negative>)`.
    Offset(Expr),
    /// `AT(TIMESTAMP => <timestamp>)`.
    At(Expr),
    /// `BEFORE(TIMESTAMP => <timestamp>)`: the last version before it.
    Before(Expr),
    /// `AT(STATEMENT => '<query id>')`: the version the statement left.
    AtStatement(Expr),
    /// `BEFORE(STATEMENT => '<query id>')`: the version before it started.
    BeforeStatement(Expr),
}

/// One time-travel clause of a statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimeTravel {
    /// The table, as the statement names it.
    pub(crate) name: ObjectName,
    /// When to read it.
    pub(crate) moment: Moment,
}

/// The time-travel clauses of `statement`, in the order
/// [`apply_time_travels`] visits them.
pub(crate) fn time_travels(statement: &Statement) -> Result<Vec<TimeTravel>, WarehouseError> {
    let mut finder = Finder { found: Vec::new(), error: None };
    let _ = statement.visit(&mut finder);
    match finder.error {
        Some(e) => Err(e),
        None => Ok(finder.found),
    }
}

struct Finder {
    found: Vec<TimeTravel>,
    error: Option<WarehouseError>,
}

impl Visitor for Finder {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, version: Some(version), .. } = factor else {
            return ControlFlow::Continue(());
        };
        match moment(version) {
            Ok(moment) => {
                self.found.push(TimeTravel { name: name.clone(), moment });
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// The moment of `AT(...)` / `BEFORE(...)`.
fn moment(version: &TableVersion) -> Result<Moment, WarehouseError> {
    let unsupported = || {
        WarehouseError::Compilation(format!(
            "unsupported time travel clause {version}: use AT(OFFSET => -<seconds>), AT(TIMESTAMP => <timestamp>) \
             or BEFORE(TIMESTAMP => <timestamp>)"
        ))
    };
    let TableVersion::Function(Expr::Function(function)) = version else {
        return Err(unsupported());
    };
    let clause = function.name.to_string().to_ascii_uppercase();
    let FunctionArguments::List(list) = &function.args else {
        return Err(unsupported());
    };
    let [FunctionArg::Named { name, arg: FunctionArgExpr::Expr(value), .. }] = list.args.as_slice() else {
        return Err(unsupported());
    };
    match (clause.as_str(), name.value.to_ascii_uppercase().as_str()) {
        ("AT", "OFFSET") => Ok(Moment::Offset(value.clone())),
        ("AT", "TIMESTAMP") => Ok(Moment::At(value.clone())),
        ("BEFORE", "TIMESTAMP") => Ok(Moment::Before(value.clone())),
        ("AT", "STATEMENT") => Ok(Moment::AtStatement(value.clone())),
        ("BEFORE", "STATEMENT") => Ok(Moment::BeforeStatement(value.clone())),
        _ => Err(unsupported()),
    }
}

/// Renames the table of each time-travel clause of `statement` to its
/// versioned name (`names[i]` for the i-th clause [`time_travels`] found),
/// removing the clause and keeping the table's own name as its alias.
pub(crate) fn apply_time_travels(statement: &mut Statement, names: Vec<ObjectName>) {
    let mut applier = Applier { names: names.into_iter() };
    let _ = statement.visit(&mut applier);
}

struct Applier {
    names: std::vec::IntoIter<ObjectName>,
}

impl VisitorMut for Applier {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, version: version @ Some(_), .. } = factor else {
            return ControlFlow::Continue(());
        };
        let Some(versioned) = self.names.next() else { return ControlFlow::Break(()) };
        if alias.is_none() {
            let own = name.0.last().and_then(ObjectNamePart::as_ident).cloned().unwrap_or_else(|| Ident::new("T"));
            *alias = Some(TableAlias { explicit: true, name: own, columns: vec![], at: None });
        }
        *name = versioned;
        *version = None;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&SnowflakeDialect {}, sql).unwrap().remove(0)
    }

    #[test]
    fn clauses_are_found_in_order_and_replaced() {
        let mut s = parse(
            "SELECT * FROM db.s.t AT(OFFSET => -60) JOIN u BEFORE(TIMESTAMP => '2024-01-01'::TIMESTAMP) AS x ON t.a = x.a",
        );
        let found = time_travels(&s).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].name.to_string(), "db.s.t");
        assert!(matches!(found[0].moment, Moment::Offset(_)));
        assert_eq!(found[1].name.to_string(), "u");
        assert!(matches!(found[1].moment, Moment::Before(_)));
        let names = vec![
            ObjectName::from(vec![Ident::new("DB"), Ident::new("S"), Ident::new(versioned_name("T", 3))]),
            ObjectName::from(vec![Ident::new("DB"), Ident::new("S"), Ident::new(versioned_name("U", 0))]),
        ];
        apply_time_travels(&mut s, names);
        assert!(time_travels(&s).unwrap().is_empty());
        let text = s.to_string();
        assert!(text.contains("AS t JOIN"), "{text}");
        assert!(text.contains("AS x ON"), "{text}");
    }

    #[test]
    fn statements_are_read_and_other_clauses_refused_with_what_works() {
        let clauses = time_travels(&parse("SELECT * FROM t BEFORE(STATEMENT => '8e5d0ca9')")).unwrap();
        assert!(matches!(clauses[0].moment, Moment::BeforeStatement(_)));
        let clauses = time_travels(&parse("SELECT * FROM t AT(STATEMENT => '8e5d0ca9')")).unwrap();
        assert!(matches!(clauses[0].moment, Moment::AtStatement(_)));
        let e = time_travels(&parse("SELECT * FROM t AT(STREAM => 's')")).unwrap_err();
        assert!(e.to_string().contains("OFFSET"), "{e}");
    }

    #[test]
    fn versioned_names_round_trip() {
        assert_eq!(split_versioned(&versioned_name("ORDERS", 12)), Some(("ORDERS", 12)));
        assert_eq!(split_versioned("ORDERS"), None);
        assert_eq!(split_versioned("A\u{1}x"), None);
    }
}
