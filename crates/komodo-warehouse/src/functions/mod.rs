//! Snowflake's functions that DataFusion lacks, as user-defined functions
//! registered in every session. A function of its own evaluates each
//! argument once, where a rewrite into DataFusion expressions would have to
//! repeat an argument (`DIV0(a, b)` as `CASE WHEN b = 0 ...  a / b END`)
//! and so double the statement with each level of nesting (SECURITY.md
//! F02).

use std::sync::Arc;

use datafusion::execution::FunctionRegistry;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::ScalarUDF;

mod arithmetic;
mod datetime;
mod sample;
mod strings;

pub(crate) use arithmetic::fixed_digits;
pub(crate) use datetime::DatePart;

use crate::WarehouseError;

/// The largest value a function builds: Snowflake's largest `VARCHAR`,
/// 16 MiB.
pub(crate) const MAX_VALUE_BYTES: usize = 16 << 20;

/// How large the results of the functions that can grow a value may be
/// (SECURITY.md F05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Limits {
    /// One value.
    pub(crate) max_value_bytes: usize,
    /// All the values of one call (one batch of rows): the session's
    /// memory limit.
    pub(crate) max_batch_bytes: usize,
}

impl Limits {
    /// Adds a value of `len` bytes to a batch of `total` so far: the new
    /// total, or the error of the limit it breaks.
    pub(crate) fn check(&self, len: usize, total: usize) -> datafusion::error::Result<usize> {
        if len > self.max_value_bytes {
            return Err(datafusion::error::DataFusionError::External(Box::new(WarehouseError::ValueTooLong {
                bytes: len,
                max: self.max_value_bytes,
            })));
        }
        let total = total.saturating_add(len);
        if total > self.max_batch_bytes {
            return Err(datafusion::error::DataFusionError::External(Box::new(WarehouseError::MemoryLimit(format!(
                "a function's results would take {total} bytes, more than the session's limit of {} bytes",
                self.max_batch_bytes
            )))));
        }
        Ok(total)
    }
}

/// Snowflake's division (planned for `/` by `crate::plan`).
pub(crate) fn divide() -> ScalarUDF {
    ScalarUDF::new_from_impl(arithmetic::Divide::new())
}

/// Registers the functions in `state` under their lower-case names (how
/// DataFusion looks up an unquoted function name), replacing DataFusion's
/// own of the same name.
pub(crate) fn register(state: &mut SessionState, limits: Limits) {
    let functions = [
        ScalarUDF::new_from_impl(arithmetic::Div0::new(false)),
        ScalarUDF::new_from_impl(arithmetic::Div0::new(true)),
        divide(),
        ScalarUDF::new_from_impl(sample::SampleHash::new()),
        ScalarUDF::new_from_impl(datetime::DateDiff::new()),
        ScalarUDF::new_from_impl(datetime::DateAdd::new()),
        ScalarUDF::new_from_impl(strings::Repeat::new(limits)),
        ScalarUDF::new_from_impl(strings::Pad::new(true, limits)),
        ScalarUDF::new_from_impl(strings::Pad::new(false, limits)),
        ScalarUDF::new_from_impl(strings::Concat::new(limits)),
        ScalarUDF::new_from_impl(strings::Replace::new(limits)),
    ];
    for function in functions {
        // Replacing a function of the same name is what registering means
        // here; there is nothing to fail.
        let _ = state.register_udf(Arc::new(function));
    }
}
