//! The scalar functions of semi-structured data.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arrow_array::builder::{BooleanBuilder, Int64Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, FieldRef, Fields};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::json::{Step, as_text, get_path, logical_type, parse_path, push_json_string, to_json, type_of};
use super::semi_field;
use crate::WarehouseError;

/// The internal function `col:path` becomes (the path as a string).
pub(crate) const VARIANT_GET: &str = "__komodo_variant_get";
/// The internal function a cast from a semi-structured value becomes.
pub(crate) const VARIANT_CAST: &str = "__komodo_variant_cast";
/// The internal function behind `FLATTEN`.
pub(crate) const FLATTEN: &str = "__komodo_flatten";
/// The internal function `ARRAY_AGG` ends with: a list as an ARRAY.
pub(crate) const LIST_TO_ARRAY: &str = "__komodo_list_to_array";
/// The internal function `OBJECT_AGG` ends with: keys and values as an OBJECT.
pub(crate) const LISTS_TO_OBJECT: &str = "__komodo_lists_to_object";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    ParseJson,
    TryParseJson,
    ToVariant,
    ObjectConstruct,
    ObjectConstructKeepNull,
    ArrayConstruct,
    ArraySize,
    ArrayContains,
    ArrayToString,
    Get,
    GetPath,
    VariantGet,
    TypeOf,
    IsObject,
    IsArray,
    IsNullValue,
    Split,
    VariantCast,
    Flatten,
    ListToArray,
    ListsToObject,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ParseJson => "parse_json",
            Op::TryParseJson => "try_parse_json",
            Op::ToVariant => "to_variant",
            Op::ObjectConstruct => "object_construct",
            Op::ObjectConstructKeepNull => "object_construct_keep_null",
            Op::ArrayConstruct => "array_construct",
            Op::ArraySize => "array_size",
            Op::ArrayContains => "array_contains",
            Op::ArrayToString => "array_to_string",
            Op::Get => "get",
            Op::GetPath => "get_path",
            Op::VariantGet => VARIANT_GET,
            Op::TypeOf => "typeof",
            Op::IsObject => "is_object",
            Op::IsArray => "is_array",
            Op::IsNullValue => "is_null_value",
            Op::Split => "split",
            Op::VariantCast => VARIANT_CAST,
            Op::Flatten => FLATTEN,
            Op::ListToArray => LIST_TO_ARRAY,
            Op::ListsToObject => LISTS_TO_OBJECT,
        }
    }
}

pub(super) fn all() -> Vec<ScalarUDF> {
    [
        Op::ParseJson,
        Op::TryParseJson,
        Op::ToVariant,
        Op::ObjectConstruct,
        Op::ObjectConstructKeepNull,
        Op::ArrayConstruct,
        Op::ArraySize,
        Op::ArrayContains,
        Op::ArrayToString,
        Op::Get,
        Op::GetPath,
        Op::VariantGet,
        Op::TypeOf,
        Op::IsObject,
        Op::IsArray,
        Op::IsNullValue,
        Op::Split,
        Op::VariantCast,
        Op::Flatten,
        Op::ListToArray,
        Op::ListsToObject,
    ]
    .into_iter()
    .map(|op| ScalarUDF::new_from_impl(Semi { op, signature: Signature::user_defined(Volatility::Immutable) }))
    .collect()
}

/// One semi-structured function (which one is `op`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Semi {
    op: Op,
    signature: Signature,
}

/// The struct of one `FLATTEN` output row.
fn flatten_fields() -> Fields {
    Fields::from(vec![
        Field::new("SEQ", DataType::Int64, true),
        Field::new("KEY", DataType::Utf8, true),
        Field::new("PATH", DataType::Utf8, true),
        Field::new("INDEX", DataType::Int64, true),
        semi_field("VALUE", "VARIANT").as_ref().clone(),
        semi_field("THIS", "VARIANT").as_ref().clone(),
    ])
}

fn external(e: WarehouseError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn arity(op: Op, n: usize, allowed: &[usize]) -> Result<()> {
    if allowed.contains(&n) {
        Ok(())
    } else {
        plan_err!("{} takes {allowed:?} arguments, {n} given", op.name().to_uppercase())
    }
}

impl ScalarUDFImpl for Semi {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        let utf8 = |n: usize| vec![DataType::Utf8; n];
        Ok(match self.op {
            Op::ParseJson
            | Op::TryParseJson
            | Op::ArraySize
            | Op::TypeOf
            | Op::IsObject
            | Op::IsArray
            | Op::IsNullValue => {
                arity(self.op, t.len(), &[1])?;
                utf8(1)
            }
            Op::GetPath | Op::VariantGet | Op::Split | Op::VariantCast | Op::ArrayToString => {
                arity(self.op, t.len(), &[2])?;
                utf8(2)
            }
            Op::Flatten => {
                arity(self.op, t.len(), &[1, 2])?;
                utf8(t.len())
            }
            Op::Get => {
                arity(self.op, t.len(), &[2])?;
                let key = if t[1].is_integer() { DataType::Int64 } else { DataType::Utf8 };
                vec![DataType::Utf8, key]
            }
            Op::ArrayContains => {
                arity(self.op, t.len(), &[2])?;
                vec![t[0].clone(), DataType::Utf8]
            }
            Op::ObjectConstruct | Op::ObjectConstructKeepNull => {
                if !t.len().is_multiple_of(2) {
                    return plan_err!("{} takes key-value pairs", self.op.name().to_uppercase());
                }
                t.iter().enumerate().map(|(i, t)| if i % 2 == 0 { DataType::Utf8 } else { t.clone() }).collect()
            }
            Op::ToVariant => {
                arity(self.op, t.len(), &[1])?;
                t.to_vec()
            }
            Op::ListToArray => {
                arity(self.op, t.len(), &[1, 2])?;
                let mut t = t.to_vec();
                if t.len() == 2 {
                    t[1] = DataType::Utf8;
                }
                t
            }
            Op::ListsToObject => {
                arity(self.op, t.len(), &[2])?;
                t.to_vec()
            }
            Op::ArrayConstruct => t.to_vec(),
        })
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{}: the type depends on the arguments", self.op.name())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let name = self.op.name();
        Ok(match self.op {
            Op::ParseJson | Op::TryParseJson | Op::ToVariant | Op::Get | Op::GetPath | Op::VariantGet => {
                semi_field(name, "VARIANT")
            }
            Op::ObjectConstruct | Op::ObjectConstructKeepNull => semi_field(name, "OBJECT"),
            Op::ArrayConstruct | Op::Split | Op::ListToArray => semi_field(name, "ARRAY"),
            Op::ListsToObject => semi_field(name, "OBJECT"),
            Op::ArraySize => Arc::new(Field::new(name, DataType::Int64, true)),
            Op::ArrayContains | Op::IsObject | Op::IsArray | Op::IsNullValue => {
                Arc::new(Field::new(name, DataType::Boolean, true))
            }
            Op::TypeOf | Op::ArrayToString => Arc::new(Field::new(name, DataType::Utf8, true)),
            Op::VariantCast => {
                let Some(Some(ScalarValue::Utf8(Some(target)))) = args.scalar_arguments.get(1).copied() else {
                    return plan_err!("a cast from VARIANT needs its target type");
                };
                let target = DataType::from_str(target.trim_start_matches("try:"))
                    .map_err(|e| DataFusionError::Plan(format!("cast from VARIANT to {target}: {e}")))?;
                Arc::new(Field::new(name, target, true))
            }
            Op::Flatten => Arc::new(Field::new(
                name,
                DataType::List(Arc::new(Field::new("item", DataType::Struct(flatten_fields()), true))),
                true,
            )),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let rows = args.number_rows;
        let strings = |i: usize| -> Result<&StringArray> {
            arrays[i].as_string_opt::<i32>().ok_or_else(|| DataFusionError::Internal("expected a string".into()))
        };
        let out: ArrayRef = match self.op {
            Op::ParseJson | Op::TryParseJson => {
                let input = strings(0)?;
                let mut out = StringBuilder::with_capacity(rows, input.value_data().len());
                for v in input.iter() {
                    match v.map(str::trim) {
                        None | Some("") => out.append_null(),
                        Some(text) => match super::json::normalize(text) {
                            Ok(value) => out.append_value(value),
                            Err(_) if self.op == Op::TryParseJson => out.append_null(),
                            Err(e) => return Err(external(WarehouseError::InvalidJson(e.to_string()))),
                        },
                    }
                }
                Arc::new(out.finish())
            }
            Op::ToVariant => {
                let field = &args.arg_fields[0];
                let mut out = StringBuilder::with_capacity(rows, rows * 8);
                for i in 0..rows {
                    out.append_option(to_json(&arrays[0], field, i));
                }
                Arc::new(out.finish())
            }
            Op::ObjectConstruct | Op::ObjectConstructKeepNull => {
                let mut out = StringBuilder::with_capacity(rows, rows * 16);
                for i in 0..rows {
                    let mut members = std::collections::BTreeMap::new();
                    for pair in arrays.chunks(2).zip(args.arg_fields.chunks(2)) {
                        let ([k, v], [_, vf]) = (pair.0, pair.1) else { continue };
                        let Some(key) = k.as_string_opt::<i32>().filter(|k| k.is_valid(i)).map(|k| k.value(i)) else {
                            continue;
                        };
                        match to_json(v, vf, i) {
                            Some(json) => {
                                members.insert(key.to_owned(), json);
                            }
                            None if self.op == Op::ObjectConstructKeepNull => {
                                members.insert(key.to_owned(), "null".to_owned());
                            }
                            None => {}
                        }
                    }
                    out.append_value(object_text(&members));
                }
                Arc::new(out.finish())
            }
            Op::ArrayConstruct => {
                let mut out = StringBuilder::with_capacity(rows, rows * 8);
                for i in 0..rows {
                    let mut text = String::from("[");
                    for (n, (a, f)) in arrays.iter().zip(args.arg_fields.iter()).enumerate() {
                        if n > 0 {
                            text.push(',');
                        }
                        text.push_str(to_json(a, f, i).as_deref().unwrap_or("null"));
                    }
                    text.push(']');
                    out.append_value(text);
                }
                Arc::new(out.finish())
            }
            Op::ArraySize => {
                let input = strings(0)?;
                let mut out = Int64Builder::with_capacity(rows);
                for v in input.iter() {
                    match v.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) {
                        Some(serde_json::Value::Array(a)) => out.append_value(a.len() as i64),
                        _ => out.append_null(),
                    }
                }
                Arc::new(out.finish())
            }
            Op::ArrayContains => {
                let (field, array) = (&args.arg_fields[0], strings(1)?);
                let mut out = BooleanBuilder::with_capacity(rows);
                for i in 0..rows {
                    let value = to_json(&arrays[0], field, i)
                        .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
                        .unwrap_or(serde_json::Value::Null);
                    let parsed = array.is_valid(i).then(|| serde_json::from_str::<serde_json::Value>(array.value(i)));
                    match parsed {
                        Some(Ok(serde_json::Value::Array(items))) => out.append_value(items.contains(&value)),
                        _ => out.append_null(),
                    }
                }
                Arc::new(out.finish())
            }
            Op::ArrayToString => {
                let (array, sep) = (strings(0)?, strings(1)?);
                let mut out = StringBuilder::with_capacity(rows, rows * 8);
                for i in 0..rows {
                    if array.is_null(i) || sep.is_null(i) {
                        out.append_null();
                        continue;
                    }
                    match serde_json::from_str::<serde_json::Value>(array.value(i)) {
                        Ok(serde_json::Value::Array(items)) => {
                            let texts: Vec<String> = items
                                .iter()
                                .map(|v| match v {
                                    serde_json::Value::String(s) => s.clone(),
                                    serde_json::Value::Null => String::new(),
                                    other => other.to_string(),
                                })
                                .collect();
                            out.append_value(texts.join(sep.value(i)));
                        }
                        _ => return exec_err!("ARRAY_TO_STRING needs an ARRAY"),
                    }
                }
                Arc::new(out.finish())
            }
            Op::Get => {
                let input = strings(0)?;
                let mut out = StringBuilder::with_capacity(rows, input.value_data().len() / 2);
                for i in 0..rows {
                    let step = match arrays[1].data_type() {
                        DataType::Int64 => {
                            let k = arrays[1].as_primitive::<Int64Type>();
                            k.is_valid(i).then(|| Step::Index(usize::try_from(k.value(i)).unwrap_or(usize::MAX)))
                        }
                        _ => {
                            let k = strings(1)?;
                            k.is_valid(i).then(|| Step::Key(k.value(i).to_owned()))
                        }
                    };
                    let got = match (input.is_valid(i), step) {
                        (true, Some(step)) => get_path(input.value(i), std::slice::from_ref(&step)),
                        _ => None,
                    };
                    out.append_option(got);
                }
                Arc::new(out.finish())
            }
            Op::GetPath | Op::VariantGet => {
                let (input, paths) = (strings(0)?, strings(1)?);
                let mut out = StringBuilder::with_capacity(rows, input.value_data().len() / 2);
                // The path is almost always a constant: parse it once.
                let constant = matches!(&args.args[1], ColumnarValue::Scalar(_));
                let mut parsed: Option<Vec<Step>> = None;
                for i in 0..rows {
                    if input.is_null(i) || paths.is_null(i) {
                        out.append_null();
                        continue;
                    }
                    if parsed.is_none() || !constant {
                        parsed =
                            Some(parse_path(paths.value(i)).map_err(|e| external(WarehouseError::InvalidJson(e)))?);
                    }
                    out.append_option(get_path(input.value(i), parsed.as_deref().unwrap_or_default()));
                }
                Arc::new(out.finish())
            }
            Op::TypeOf => {
                let input = strings(0)?;
                let out: StringArray = input.iter().map(|v| v.map(type_of)).collect();
                Arc::new(out)
            }
            Op::IsObject | Op::IsArray | Op::IsNullValue => {
                let input = strings(0)?;
                let want = match self.op {
                    Op::IsObject => "OBJECT",
                    Op::IsArray => "ARRAY",
                    _ => "NULL_VALUE",
                };
                let out: arrow_array::BooleanArray = input.iter().map(|v| v.map(|v| type_of(v) == want)).collect();
                Arc::new(out)
            }
            Op::Split => {
                let (input, sep) = (strings(0)?, strings(1)?);
                let mut out = StringBuilder::with_capacity(rows, input.value_data().len() + rows * 4);
                for i in 0..rows {
                    if input.is_null(i) || sep.is_null(i) {
                        out.append_null();
                        continue;
                    }
                    let (s, sep) = (input.value(i), sep.value(i));
                    let parts: Vec<&str> = if sep.is_empty() { vec![s] } else { s.split(sep).collect() };
                    let mut text = String::from("[");
                    for (n, p) in parts.iter().enumerate() {
                        if n > 0 {
                            text.push(',');
                        }
                        push_json_string(&mut text, p);
                    }
                    text.push(']');
                    out.append_value(text);
                }
                Arc::new(out.finish())
            }
            Op::VariantCast => {
                let input = strings(0)?;
                let target = args.return_field.data_type();
                let try_ =
                    matches!(&args.args[1], ColumnarValue::Scalar(ScalarValue::Utf8(Some(t))) if t.starts_with("try:"));
                variant_cast(input, target, try_)?
            }
            Op::Flatten => flatten(strings(0)?, if arrays.len() > 1 { Some(strings(1)?) } else { None })?,
            Op::ListToArray => {
                let mut out = StringBuilder::with_capacity(rows, rows * 16);
                for i in 0..rows {
                    let mut text = String::from("[");
                    if let Some((values, element)) = list_values(&arrays[0], i) {
                        // The elements are JSON text already (TO_VARIANT's),
                        // unless they come as they are (`DISTINCT`).
                        let field = if arrays.len() == 2 { Arc::new(element) } else { semi_field("", "VARIANT") };
                        for n in 0..values.len() {
                            if let Some(json) = to_json(&values, &field, n) {
                                if text.len() > 1 {
                                    text.push(',');
                                }
                                text.push_str(&json);
                            }
                        }
                    }
                    text.push(']');
                    out.append_value(text);
                }
                Arc::new(out.finish())
            }
            Op::ListsToObject => {
                let mut out = StringBuilder::with_capacity(rows, rows * 16);
                for i in 0..rows {
                    let mut members = std::collections::BTreeMap::new();
                    if let (Some((keys, kf)), Some((values, _))) =
                        (list_values(&arrays[0], i), list_values(&arrays[1], i))
                    {
                        // The values are JSON text already (TO_VARIANT's).
                        let vf = semi_field("", "VARIANT");
                        for n in 0..keys.len().min(values.len()) {
                            if let (Some(k), Some(v)) =
                                (to_json(&keys, &kf, n).and_then(|k| as_text(&k)), to_json(&values, &vf, n))
                            {
                                members.insert(k, v);
                            }
                        }
                    }
                    out.append_value(object_text(&members));
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Semi-structured values read as `target`: a JSON string as its text, a
/// number or boolean as itself; JSON `null` and a missing value are NULL.
/// Values that cannot be read as `target` fail the statement, or are NULL
/// for `TRY_CAST`.
fn variant_cast(input: &StringArray, target: &DataType, try_: bool) -> Result<ArrayRef> {
    let texts: StringArray = input.iter().map(|v| v.and_then(as_text)).collect();
    if matches!(target, DataType::Utf8) {
        return Ok(Arc::new(texts));
    }
    let texts: ArrayRef = Arc::new(texts);
    // Integers from a decimal text round half away from zero, as a cast
    // of a number to NUMBER(p, 0) does.
    let source = if target.is_integer() {
        let strict = datafusion::arrow::compute::CastOptions { safe: try_, ..Default::default() };
        let floats = datafusion::arrow::compute::cast_with_options(&texts, &DataType::Float64, &strict);
        match floats {
            Ok(f) => {
                let rounded: arrow_array::Float64Array =
                    f.as_primitive::<arrow_array::types::Float64Type>().iter().map(|v| v.map(f64::round)).collect();
                Arc::new(rounded) as ArrayRef
            }
            Err(_) if try_ => texts.clone(),
            Err(e) => return Err(e.into()),
        }
    } else {
        texts.clone()
    };
    let options = datafusion::arrow::compute::CastOptions { safe: try_, ..Default::default() };
    match datafusion::arrow::compute::cast_with_options(&source, target, &options) {
        Ok(out) => Ok(out),
        Err(_) if try_ => Ok(datafusion::arrow::array::new_null_array(target, input.len())),
        Err(e) => {
            let first_bad = input.iter().flatten().find(|v| {
                as_text(v).is_some_and(|t| {
                    datafusion::arrow::compute::cast(&(Arc::new(StringArray::from(vec![t])) as ArrayRef), target)
                        .is_err()
                })
            });
            match first_bad {
                Some(v) if target.is_numeric() => {
                    Err(external(WarehouseError::NumericValueNotRecognized(as_text(v).unwrap_or_default())))
                }
                _ => Err(e.into()),
            }
        }
    }
}

/// Next `SEQ` of `FLATTEN` (unique within the process).
static SEQ: AtomicI64 = AtomicI64::new(1);

/// `FLATTEN(input [, path])`: one struct per element of the array or member
/// of the object at `path` in `input`, as a list per row.
fn flatten(input: &StringArray, paths: Option<&StringArray>) -> Result<ArrayRef> {
    let fields = flatten_fields();
    let mut out = ListBuilder::new(StructBuilder::from_fields(fields.clone(), input.len()))
        .with_field(Arc::new(Field::new("item", DataType::Struct(fields), true)));
    for i in 0..input.len() {
        if input.is_null(i) {
            out.append(false);
            continue;
        }
        let (prefix, this) = match paths {
            Some(p) if p.is_valid(i) && !p.value(i).is_empty() => {
                let steps = parse_path(p.value(i)).map_err(|e| external(WarehouseError::InvalidJson(e)))?;
                (p.value(i).to_owned(), get_path(input.value(i), &steps).map(str::to_owned))
            }
            _ => (String::new(), Some(input.value(i).to_owned())),
        };
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let value = this.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
        let entries: Vec<(Option<String>, Option<i64>, serde_json::Value)> = match value {
            Some(serde_json::Value::Array(items)) => {
                items.into_iter().enumerate().map(|(n, v)| (None, Some(n as i64), v)).collect()
            }
            Some(serde_json::Value::Object(members)) => members.into_iter().map(|(k, v)| (Some(k), None, v)).collect(),
            _ => Vec::new(),
        };
        let elements = out.values();
        for (key, index, value) in entries {
            let path = match (&key, index) {
                (Some(k), _) if prefix.is_empty() => k.clone(),
                (Some(k), _) => format!("{prefix}.{k}"),
                (None, Some(n)) => format!("{prefix}[{n}]"),
                (None, None) => prefix.clone(),
            };
            if let Some(b) = elements.field_builder::<Int64Builder>(0) {
                b.append_value(seq);
            }
            if let Some(b) = elements.field_builder::<StringBuilder>(1) {
                b.append_option(key);
            }
            if let Some(b) = elements.field_builder::<StringBuilder>(2) {
                b.append_value(path);
            }
            if let Some(b) = elements.field_builder::<Int64Builder>(3) {
                b.append_option(index);
            }
            if let Some(b) = elements.field_builder::<StringBuilder>(4) {
                b.append_value(value.to_string());
            }
            if let Some(b) = elements.field_builder::<StringBuilder>(5) {
                b.append_option(this.as_deref());
            }
            elements.append(true);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// An object's JSON text from its members' JSON texts (keys in order).
fn object_text(members: &std::collections::BTreeMap<String, String>) -> String {
    let mut text = String::from("{");
    for (n, (k, v)) in members.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        push_json_string(&mut text, k);
        text.push(':');
        text.push_str(v);
    }
    text.push('}');
    text
}

/// The elements of row `i` of a list array, with their field.
fn list_values(array: &ArrayRef, i: usize) -> Option<(ArrayRef, Field)> {
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::List(field) => Some((array.as_list::<i32>().value(i), field.as_ref().clone())),
        DataType::LargeList(field) => Some((array.as_list::<i64>().value(i), field.as_ref().clone())),
        _ => None,
    }
}

/// Whether `field` is of a semi-structured type.
pub(crate) fn is_semi_structured(field: &Field) -> bool {
    logical_type(field).is_some()
}
