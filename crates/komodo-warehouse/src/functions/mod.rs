//! Snowflake's functions that DataFusion lacks, as user-defined functions
//! registered in every session. A function of its own evaluates each
//! argument once, where a rewrite into DataFusion expressions would have to
//! repeat an argument (`DIV0(a, b)` as `CASE WHEN b = 0 ...  a / b END`)
//! and so double the statement with each level of nesting (SECURITY.md
//! F02).

use std::sync::Arc;

use datafusion::execution::FunctionRegistry;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

mod aggregates;
mod args;
mod arithmetic;
mod calendar;
mod conditional;
mod datetime;
mod datetime_text;
mod hashing;
mod instants;
mod numbers;
mod random;
mod regex;
mod sample;
mod strings;
mod supported;
mod text;
mod timezone;
mod to_temporal;
pub(crate) mod variant;
mod zoned;

pub(crate) use arithmetic::fixed_digits;
pub(crate) use datetime::DatePart;
pub(crate) use random::RANDOM_FRACTION;
pub use supported::{Family, SupportedFunction, supported_functions};
pub(crate) use zoned::{Reading, zoned_reading};

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

/// DataFusion's `DATE_PART`, taking `TIMESTAMP_TZ` values as the session
/// registers it (planned for `EXTRACT` by `crate::plan`).
pub(crate) fn date_part() -> ScalarUDF {
    let inner = datafusion::functions::datetime::date_part();
    zoned::taking_zoned(inner, zoned::Takes::Local)
}

/// `TO_TIMESTAMP_TZ` (or `TRY_TO_TIMESTAMP_TZ`): what a cast to
/// `TIMESTAMP_TZ` runs (planned by `crate::plan`).
pub(crate) fn to_timestamp_tz(try_: bool) -> ScalarUDF {
    ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(to_temporal::Target::Tz, try_))
}

/// The scalar functions, each replacing DataFusion's of the same name.
fn scalar_functions(limits: Limits) -> Vec<ScalarUDF> {
    use calendar::Parts;
    use hashing::Algorithm;
    use regex::Kind;
    use to_temporal::Target;
    vec![
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
        // Regular expressions.
        ScalarUDF::new_from_impl(regex::Regexp::new(Kind::Like, limits)),
        ScalarUDF::new_from_impl(regex::Regexp::new(Kind::Replace, limits)),
        ScalarUDF::new_from_impl(regex::Regexp::new(Kind::Substr, limits)),
        ScalarUDF::new_from_impl(regex::Regexp::new(Kind::Instr, limits)),
        ScalarUDF::new_from_impl(regex::Regexp::new(Kind::Count, limits)),
        // Conversions.
        ScalarUDF::new_from_impl(numbers::ToDecimal::new(false)),
        ScalarUDF::new_from_impl(numbers::ToDecimal::new(true)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Date, false)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Date, true)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Ntz, false)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Ntz, true)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Ltz, false)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Ltz, true)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Tz, false)),
        ScalarUDF::new_from_impl(to_temporal::ToTemporal::new(Target::Tz, true)),
        // Dates and times.
        ScalarUDF::new_from_impl(calendar::LastDay::new()),
        ScalarUDF::new_from_impl(calendar::AddMonths::new()),
        ScalarUDF::new_from_impl(calendar::NameOf::new(false)),
        ScalarUDF::new_from_impl(calendar::NameOf::new(true)),
        ScalarUDF::new_from_impl(calendar::FromParts::new(Parts::Date)),
        ScalarUDF::new_from_impl(calendar::FromParts::new(Parts::Time)),
        ScalarUDF::new_from_impl(calendar::FromParts::new(Parts::Ntz)),
        ScalarUDF::new_from_impl(calendar::FromParts::new(Parts::Ltz)),
        ScalarUDF::new_from_impl(calendar::FromParts::new(Parts::Tz)),
        ScalarUDF::new_from_impl(calendar::TimeSlice::new()),
        ScalarUDF::new_from_impl(timezone::ConvertTimezone::new()),
        // Conditionals.
        ScalarUDF::new_from_impl(conditional::Decode::new()),
        ScalarUDF::new_from_impl(conditional::Extreme::new(true)),
        ScalarUDF::new_from_impl(conditional::Extreme::new(false)),
        // Strings.
        ScalarUDF::new_from_impl(text::Strtok::new()),
        ScalarUDF::new_from_impl(text::Initcap::new(limits)),
        ScalarUDF::new_from_impl(text::Charindex::new()),
        // Hashes, identifiers, random numbers.
        ScalarUDF::new_from_impl(hashing::Digester::new(Algorithm::Sha2, false)),
        ScalarUDF::new_from_impl(hashing::Digester::new(Algorithm::Sha2, true)),
        ScalarUDF::new_from_impl(hashing::Digester::new(Algorithm::Sha1, false)),
        ScalarUDF::new_from_impl(hashing::Digester::new(Algorithm::Sha1, true)),
        ScalarUDF::new_from_impl(hashing::Digester::new(Algorithm::Md5, false)),
        ScalarUDF::new_from_impl(hashing::Digester::new(Algorithm::Md5, true)),
        ScalarUDF::new_from_impl(hashing::HashValues::new()),
        ScalarUDF::new_from_impl(hashing::UuidString::new()),
        ScalarUDF::new_from_impl(random::Random::new()),
        ScalarUDF::new_from_impl(random::RandomFraction::new()),
        ScalarUDF::new_from_impl(random::Uniform::new()),
    ]
    .into_iter()
    .chain(variant::scalar_functions())
    .collect()
}

/// The aggregate functions, each replacing DataFusion's of the same name.
fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(aggregates::Mode::new()),
        AggregateUDF::new_from_impl(aggregates::Median::new()),
        AggregateUDF::new_from_impl(aggregates::Variance::new(false)),
        AggregateUDF::new_from_impl(aggregates::Variance::new(true)),
    ]
}

/// Registers the functions in `state` under their lower-case names (how
/// DataFusion looks up an unquoted function name), replacing DataFusion's
/// own of the same name.
pub(crate) fn register(state: &mut SessionState, limits: Limits) {
    // Replacing a function of the same name is what registering means
    // here; there is nothing to fail.
    for function in scalar_functions(limits) {
        let _ = state.register_udf(Arc::new(function));
    }
    for function in aggregate_functions() {
        let _ = state.register_udaf(Arc::new(function));
    }
    // The date and time functions (DataFusion's and the ones above) take
    // TIMESTAMP_TZ values too.
    for (name, takes) in zoned::TAKING_ZONED {
        if let Some(inner) = state.scalar_functions().get(*name).cloned() {
            let _ = state.register_udf(Arc::new(zoned::taking_zoned(inner, *takes)));
        }
    }
}

/// Every name (and synonym) [`register`] registers, lower case.
#[cfg(test)]
pub(crate) fn registered_names() -> Vec<String> {
    let limits = Limits { max_value_bytes: MAX_VALUE_BYTES, max_batch_bytes: MAX_VALUE_BYTES };
    let mut names = Vec::new();
    for f in scalar_functions(limits) {
        names.push(f.name().to_owned());
        names.extend(f.aliases().iter().cloned());
    }
    for f in aggregate_functions() {
        names.push(f.name().to_owned());
        names.extend(f.aliases().iter().cloned());
    }
    names
}
