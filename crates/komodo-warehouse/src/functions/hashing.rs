//! Digests and identifiers: `SHA2`/`SHA2_HEX(x [, 224 | 256 | 384 | 512])`,
//! `SHA1`/`SHA1_HEX`, `MD5`/`MD5_HEX` (lower-case hex) and their `_BINARY`
//! forms, `HASH(x, ...)` and `UUID_STRING([namespace, name])`.
//!
//! `HASH` is a stable signed 64-bit hash (xxHash64 of each argument's
//! value with its kind, so `HASH(1) = HASH(1.0)` and `HASH('1')` differs):
//! the same arguments hash to the same value in every session and
//! release, but the values are not Snowflake's. NULL arguments are
//! hashed too (`HASH(NULL)` is not NULL).

use std::hash::Hasher as _;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use sha2::Digest;

use super::args::{arity, arrays, compilation, execution, i64_at, int64s, is_string, str_at, strings, upper};

/// Which digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Algorithm {
    /// SHA-2, 224 to 512 bits (the second argument, default 256).
    Sha2,
    /// SHA-1.
    Sha1,
    /// MD5.
    Md5,
}

/// A digest function, as hex text or as binary.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Digester {
    algorithm: Algorithm,
    binary: bool,
    signature: Signature,
    aliases: Vec<String>,
}

impl Digester {
    pub(crate) fn new(algorithm: Algorithm, binary: bool) -> Self {
        let aliases = match (algorithm, binary) {
            (Algorithm::Sha2, false) => vec!["sha2_hex".to_owned()],
            (Algorithm::Sha1, false) => vec!["sha1_hex".to_owned()],
            (Algorithm::Md5, false) => vec!["md5_hex".to_owned()],
            _ => vec![],
        };
        Self { algorithm, binary, signature: Signature::user_defined(Volatility::Immutable), aliases }
    }
}

fn digest(algorithm: Algorithm, bits: i64, bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(match (algorithm, bits) {
        (Algorithm::Md5, _) => md5::Md5::digest(bytes).to_vec(),
        (Algorithm::Sha1, _) => sha1::Sha1::digest(bytes).to_vec(),
        (Algorithm::Sha2, 224) => sha2::Sha224::digest(bytes).to_vec(),
        (Algorithm::Sha2, 256) => sha2::Sha256::digest(bytes).to_vec(),
        (Algorithm::Sha2, 384) => sha2::Sha384::digest(bytes).to_vec(),
        (Algorithm::Sha2, 512) => sha2::Sha512::digest(bytes).to_vec(),
        (Algorithm::Sha2, other) => {
            return Err(execution(format!(
                "Invalid digest size {other} for function SHA2: it must be one of 224, 256, 384 or 512"
            )));
        }
    })
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The type an argument to hash is read as: binary stays binary, the
/// rest is text.
fn bytes_operand(t: &DataType) -> DataType {
    match t {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        _ => DataType::Utf8,
    }
}

/// The bytes of row `i` of a `Utf8` or `Binary` array.
fn bytes_at(array: &ArrayRef, i: usize) -> Option<&[u8]> {
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(i)),
        _ => array.as_string_opt::<i32>().map(|a| a.value(i).as_bytes()),
    }
}

impl ScalarUDFImpl for Digester {
    fn name(&self) -> &str {
        match (self.algorithm, self.binary) {
            (Algorithm::Sha2, false) => "sha2",
            (Algorithm::Sha2, true) => "sha2_binary",
            (Algorithm::Sha1, false) => "sha1",
            (Algorithm::Sha1, true) => "sha1_binary",
            (Algorithm::Md5, false) => "md5",
            (Algorithm::Md5, true) => "md5_binary",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let max = if self.algorithm == Algorithm::Sha2 { 2 } else { 1 };
        arity(&upper(self.name()), arg_types.len(), 1, max)?;
        let mut types = vec![bytes_operand(&arg_types[0])];
        if arg_types.len() == 2 {
            types.push(DataType::Int64);
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.binary { DataType::Binary } else { DataType::Utf8 })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let sizes = arrays.get(1).map(int64s).transpose()?;
        let rows = args.number_rows;
        let mut text = StringBuilder::new();
        let mut binary = BinaryBuilder::new();
        for i in 0..rows {
            let bits = match sizes {
                Some(s) => i64_at(s, i),
                None => Some(256),
            };
            let value = match (bytes_at(&arrays[0], i), bits) {
                (Some(bytes), Some(bits)) => Some(digest(self.algorithm, bits, bytes)?),
                _ => None,
            };
            match (&value, self.binary) {
                (Some(v), true) => binary.append_value(v),
                (None, true) => binary.append_null(),
                (v, false) => text.append_option(v.as_deref().map(hex)),
            }
        }
        let out: ArrayRef = if self.binary { Arc::new(binary.finish()) } else { Arc::new(text.finish()) };
        Ok(ColumnarValue::Array(out))
    }
}

/// `HASH(x, ...)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct HashValues {
    signature: Signature,
}

impl HashValues {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// The kinds of value `HASH` tells apart.
mod kind {
    pub(super) const NULL: u8 = 0;
    pub(super) const NUMBER: u8 = 1;
    pub(super) const FLOAT: u8 = 2;
    pub(super) const TEXT: u8 = 3;
    pub(super) const BOOLEAN: u8 = 4;
    pub(super) const DATE: u8 = 5;
    pub(super) const TIMESTAMP: u8 = 6;
    pub(super) const BINARY: u8 = 7;
}

/// A number as its unscaled value and scale without trailing zeros, so
/// equal numbers of any type hash alike.
fn write_number(h: &mut twox_hash::XxHash64, mut value: i128, mut scale: i8) {
    while scale > 0 && value % 10 == 0 {
        value /= 10;
        scale -= 1;
    }
    h.write_u8(kind::NUMBER);
    h.write_i128(value);
    h.write_i8(scale);
}

fn write_value(h: &mut twox_hash::XxHash64, array: &ArrayRef, i: usize) {
    if array.is_null(i) {
        h.write_u8(kind::NULL);
        return;
    }
    match array.data_type() {
        DataType::Int64 => write_number(h, i128::from(array.as_primitive::<Int64Type>().value(i)), 0),
        DataType::Decimal128(_, s) => write_number(h, array.as_primitive::<Decimal128Type>().value(i), *s),
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(i);
            if v.fract() == 0.0 && v.abs() < 1e30 {
                write_number(h, v as i128, 0);
            } else {
                h.write_u8(kind::FLOAT);
                h.write_u64(if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() });
            }
        }
        DataType::Utf8 => {
            let s = array.as_string::<i32>().value(i);
            h.write_u8(kind::TEXT);
            h.write_usize(s.len());
            h.write(s.as_bytes());
        }
        DataType::Boolean => {
            h.write_u8(kind::BOOLEAN);
            h.write_u8(u8::from(array.as_boolean().value(i)));
        }
        DataType::Date32 => {
            h.write_u8(kind::DATE);
            h.write_i32(array.as_primitive::<Date32Type>().value(i));
        }
        DataType::Timestamp(..) => {
            h.write_u8(kind::TIMESTAMP);
            h.write_i64(array.as_primitive::<TimestampNanosecondType>().value(i));
        }
        _ => {
            let bytes = bytes_at(array, i).unwrap_or_default();
            h.write_u8(kind::BINARY);
            h.write_usize(bytes.len());
            h.write(bytes);
        }
    }
}

impl ScalarUDFImpl for HashValues {
    fn name(&self) -> &str {
        "hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("HASH", arg_types.len(), 1, usize::MAX)?;
        arg_types
            .iter()
            .map(|t| {
                Ok(match t {
                    DataType::Null | DataType::Boolean | DataType::Date32 => t.clone(),
                    DataType::Date64 => DataType::Date32,
                    DataType::Decimal128(..) => t.clone(),
                    DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
                    DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
                    t if t.is_integer() => DataType::Int64,
                    t if t.is_numeric() => DataType::Decimal128(38, 10),
                    t if is_string(t) => DataType::Utf8,
                    t if bytes_operand(t) == DataType::Binary => DataType::Binary,
                    other => return Err(compilation(format!("HASH cannot hash a value of type {other}"))),
                })
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let mut out = Int64Builder::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            let mut h = twox_hash::XxHash64::with_seed(0);
            for a in &arrays {
                write_value(&mut h, a, i);
            }
            out.append_value(i64::from_ne_bytes(h.finish().to_ne_bytes()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `UUID_STRING()`: a random (version 4) UUID; `UUID_STRING(namespace,
/// name)`: the name-based (version 5, SHA-1) UUID of `name` in the
/// namespace UUID.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct UuidString {
    signature: Signature,
}

impl UuidString {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Volatile) }
    }
}

impl ScalarUDFImpl for UuidString {
    fn name(&self) -> &str {
        "uuid_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !matches!(arg_types.len(), 0 | 2) {
            return Err(compilation(format!(
                "function UUID_STRING takes 0 or 2 arguments (namespace, name), {} given",
                arg_types.len()
            )));
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut out = StringBuilder::new();
        if args.args.is_empty() {
            for _ in 0..args.number_rows {
                out.append_value(uuid::Uuid::new_v4().to_string());
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let arrays = arrays(&args)?;
        let (namespaces, names) = (strings(&arrays[0])?, strings(&arrays[1])?);
        for i in 0..args.number_rows {
            let (Some(namespace), Some(name)) = (str_at(namespaces, i), str_at(names, i)) else {
                out.append_null();
                continue;
            };
            let namespace = uuid::Uuid::parse_str(namespace.trim())
                .map_err(|_| execution(format!("Invalid UUID string: '{namespace}'")))?;
            let mut sha = sha1::Sha1::new();
            sha.update(namespace.as_bytes());
            sha.update(name.as_bytes());
            let digest = sha.finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            out.append_value(uuid::Builder::from_sha1_bytes(bytes).into_uuid().to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_in_hex() {
        assert_eq!(hex(&digest(Algorithm::Md5, 0, b"").unwrap()), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(&digest(Algorithm::Sha2, 256, b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest(Algorithm::Sha2, 128, b"abc").is_err());
    }

    #[test]
    fn equal_numbers_hash_alike() {
        let hash = |value: i128, scale: i8| {
            let mut h = twox_hash::XxHash64::with_seed(0);
            write_number(&mut h, value, scale);
            h.finish()
        };
        assert_eq!(hash(1, 0), hash(100, 2));
        assert_ne!(hash(1, 0), hash(1, 1));
    }
}
