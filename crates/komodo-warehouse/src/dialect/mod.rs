//! Snowflake dialect on DataFusion: identifier case rules, positional
//! parameters, and rewrites of Snowflake functions and clauses that
//! DataFusion lacks (`IFF`, `DATEADD`, `DATEDIFF`, `TOP`, `LISTAGG`, ...).
//!
//! Two passes:
//! 1. [`prepare`] works on tokens and edits the original text in place:
//!    unquoted identifiers become UPPERCASE (Snowflake stores them so; quoted
//!    identifiers keep their case), `?` and `:N` become DataFusion's `$N`.
//!    Everything else, string literals included, is copied byte for byte.
//! 2. [`rewrite`] works on the parsed statement (AST nodes, never text):
//!    Snowflake functions are replaced by equivalent DataFusion expressions,
//!    `TOP n` becomes `LIMIT n`, and `CURRENT_ACCOUNT()` and friends become
//!    literals of the session's values.

mod aliases;
pub(crate) mod ast;
mod binds;
mod flatten;
mod functions;
mod names;
mod placeholders;
mod prepare;
mod rewrite;
mod sample;
mod semi;
mod session;
mod time_travel;
mod types;
mod variables;
mod views;

pub(crate) use aliases::inline_alias;
pub(crate) use ast::call;
pub(crate) use binds::inline_binds;
pub(crate) use flatten::rewrite_flattens;
pub(crate) use names::OutputNames;
pub(crate) use placeholders::type_placeholders;
pub(crate) use prepare::{Offsets, Prepared, prepare};
pub(crate) use rewrite::{check_size, expression_count, rewrite};
pub(crate) use sample::{SAMPLE_HASH, rewrite_samples};
pub(crate) use session::SessionValues;
pub(crate) use time_travel::{Moment, apply_time_travels, split_versioned, time_travels, versioned_name};
pub(crate) use variables::{bind_variables, resolve_identifiers};
pub(crate) use views::{expand_views, qualify_names};
