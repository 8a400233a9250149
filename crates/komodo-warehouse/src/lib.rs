//! The embedded warehouse of the Komodo platform: Apache DataFusion over
//! each account's Parquet files, spoken to in Snowflake's dialect.
//!
//! - [`Engine`]: one catalog per account (`DATABASE.SCHEMA.TABLE`, Snowflake's
//!   identifier case rules), read-only subscription data, sessions with a
//!   current database and schema and their own temporary tables, bind
//!   parameters, a statement time limit, a per-session memory limit and
//!   cancellation; SQL cannot reach the file system or the network
//!   (SECURITY.md T04) and one account never sees another's tables or
//!   sessions (T05).
//! - [`encode`]: Snowflake's `rowtype` and JSON `rowset` encodings, and Arrow
//!   IPC, for the gateway.
//! - [`connector_arrow`]: Snowflake's own Arrow encoding (field metadata,
//!   physical types), what the official connectors decode.
//! - [`demo`]: the deterministic synthetic healthcare data set
//!   (`DEMO.HEALTHCARE`).
//! - [`parse_check`]: the SQL front end alone (token pass, parser, rewrites),
//!   for the fuzz target and property tests of SECURITY.md I01.
//!
//! ```no_run
//! # async fn example() -> Result<(), komodo_warehouse::WarehouseError> {
//! use komodo_warehouse::{Engine, EngineConfig, Param, demo};
//! use tokio_util::sync::CancellationToken;
//!
//! let engine = Engine::new("/var/lib/komodo/warehouse", EngineConfig::default())?;
//! let account = "0b6f7a4e-1d2c-4f11-9e0a-3c4d5e6f7a8b";
//! demo::generate(&engine.account_dir(account)?, &demo::DemoOptions::default(), |_| {})?;
//! engine.reload_account(account).await?;
//!
//! let session = engine.open_session(account, Some("DEMO"), Some("HEALTHCARE")).await?;
//! let result = engine
//!     .execute(account, session, "SELECT COUNT(*) FROM claims WHERE claim_amount > ?", vec![Param::real(100.0)], CancellationToken::new())
//!     .await?;
//! let rowset = komodo_warehouse::encode::json_rowset(&result.batches)?;
//! # let _ = rowset;
//! engine.close_session(account, session)?;
//! # Ok(()) }
//! ```

mod backend;
mod catalog;
pub mod connector_arrow;
pub mod demo;
mod dialect;
pub mod encode;
mod engine;
mod error;
mod functions;
mod information_schema;
mod memory;
mod params;
mod parser;
mod plan;
mod storage;
mod timestamp_tz;

pub use backend::WarehouseEngine;
pub use engine::{
    Access, Engine, EngineConfig, FrontEndSizes, HeldMemory, LoadFormat, LoadOptions, LoadSummary, QueryResult,
    QueryStream, SessionId, SessionParams, StageFile, StatementKind, StatementTimes, parse_check,
};
pub use error::WarehouseError;
pub use functions::{Family, SupportedFunction, supported_functions};
pub use params::Param;
pub use tokio_util::sync::CancellationToken;
