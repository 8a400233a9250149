//! An upstream's answers made the gateway's own: query ids replaced by the
//! gateway's, result URLs pointed at the gateway, and chunk locations,
//! chunk headers and keys (`qrmk`) replaced by the gateway's chunk URLs and
//! per-result secret, so that nothing the upstream hands out (presigned
//! URLs, encryption keys, stage credentials) reaches a client.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use serde_json::value::RawValue;

/// The `data` of an upstream answer: its fields, each as the upstream
/// wrote it. A result's rows (`rowset`, `rowsetBase64`) are copied through
/// as they are, never parsed into values.
pub type RawData = BTreeMap<String, Box<RawValue>>;

/// A value as raw JSON.
pub fn raw(value: &impl serde::Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null"))
}

/// A text field of `data`.
pub fn text(data: &RawData, key: &str) -> Option<String> {
    data.get(key).and_then(|v| serde_json::from_str::<String>(v.get()).ok())
}

/// A field of `data`, parsed (for the small ones the gateway reads).
pub fn parsed(data: &RawData, key: &str) -> Option<Value> {
    data.get(key).and_then(|v| serde_json::from_str(v.get()).ok())
}

/// `data` of `value`'s fields (an object; anything else is no fields).
pub fn raw_data(value: &Value) -> RawData {
    value.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), raw(v))).collect()
}

/// Fields of a query response that may carry the upstream's secrets or
/// locations and that the gateway never relays.
const WITHHELD: &[&str] =
    &["qrmk", "chunkHeaders", "stageInfo", "encryptionMaterial", "presignedUrls", "src_locations"];

/// Where a relayed result's chunks are, upstream, and how to fetch them.
#[derive(Clone)]
pub struct ChunkSources {
    /// The chunks' upstream URLs, in order.
    pub urls: Vec<url::Url>,
    /// The headers the upstream said to fetch them with.
    pub headers: HeaderMap,
}

impl std::fmt::Debug for ChunkSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSources").field("chunks", &self.urls.len()).finish_non_exhaustive()
    }
}

/// The gateway's own names for a relayed response.
#[derive(Debug, Clone, Copy)]
pub struct Rewrite<'a> {
    /// The gateway's query id.
    pub query_id: &'a str,
    /// The gateway's base URL (chunk URLs are absolute).
    pub base_url: &'a str,
    /// The header the gateway's chunk downloads carry their secret in.
    pub chunk_header: &'a str,
    /// The secret.
    pub chunk_token: &'a str,
}

/// Rewrites the `data` of an upstream query response in place; returns the
/// upstream's chunk sources when the result has chunks.
pub fn rewrite_query_data(data: &mut RawData, names: Rewrite<'_>) -> Option<ChunkSources> {
    if data.contains_key("queryId") {
        data.insert("queryId".into(), raw(&names.query_id));
    }
    if data.contains_key("getResultUrl") {
        data.insert("getResultUrl".into(), raw(&format!("/queries/{}/result", names.query_id)));
    }
    let headers = chunk_headers(parsed(data, "chunkHeaders").as_ref(), parsed(data, "qrmk").as_ref());
    for field in WITHHELD {
        data.remove(*field);
    }
    let mut chunks = parsed(data, "chunks")?;
    let listed = chunks.as_array_mut().filter(|c| !c.is_empty())?;
    let mut urls = Vec::with_capacity(listed.len());
    for (n, chunk) in listed.iter_mut().enumerate() {
        let Value::Object(chunk) = chunk else { continue };
        let upstream = chunk.get("url").and_then(Value::as_str).and_then(|u| url::Url::parse(u).ok());
        let Some(upstream) = upstream else { continue };
        urls.push(upstream);
        let ours = format!("{}/gateway/chunks/{}/{n}", names.base_url.trim_end_matches('/'), names.query_id);
        chunk.insert("url".into(), Value::String(ours));
    }
    data.insert("chunks".into(), raw(&chunks));
    let mut ours = serde_json::Map::new();
    ours.insert(names.chunk_header.to_owned(), Value::String(names.chunk_token.to_owned()));
    data.insert("chunkHeaders".into(), raw(&ours));
    Some(ChunkSources { urls, headers })
}

/// The headers a chunk is fetched with: those the upstream listed, else
/// the server-side encryption headers its `qrmk` stands for (as the
/// connectors build them).
fn chunk_headers(listed: Option<&Value>, qrmk: Option<&Value>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut add = |name: &str, value: &str| {
        if let (Ok(name), Ok(mut value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
    };
    match (listed.and_then(Value::as_object), qrmk.and_then(Value::as_str)) {
        (Some(listed), _) if !listed.is_empty() => {
            for (name, value) in listed {
                if let Some(value) = value.as_str() {
                    add(name, value);
                }
            }
        }
        (_, Some(key)) if !key.is_empty() => {
            add("x-amz-server-side-encryption-customer-algorithm", "AES256");
            add("x-amz-server-side-encryption-customer-key", key);
        }
        _ => {}
    }
    headers
}

/// The upstream ids of a multi-statement request's statements
/// (`resultIds`, comma-separated), in order.
pub fn child_ids(data: &RawData) -> Vec<String> {
    let listed = text(data, "resultIds").unwrap_or_default();
    listed.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect()
}

/// Lists the gateway's ids of a multi-statement request's statements in
/// place of the upstream's.
pub fn set_child_ids(data: &mut RawData, ours: &[String]) {
    data.insert("resultIds".into(), raw(&ours.join(",")));
}

/// Rewrites the `data` of an upstream monitoring response: each query's
/// id is the gateway's.
pub fn rewrite_monitoring_data(data: &mut RawData, query_id: &str) {
    let Some(mut queries) = parsed(data, "queries") else { return };
    for query in queries.as_array_mut().into_iter().flatten() {
        if let Some(q) = query.as_object_mut() {
            q.insert("id".into(), Value::String(query_id.to_owned()));
        }
    }
    data.insert("queries".into(), raw(&queries));
}

/// The UUID-shaped words of a statement (query ids in `RESULT_SCAN('...')`,
/// `SYSTEM$CANCEL_QUERY('...')`), with their byte ranges.
pub fn query_id_mentions(sql: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 36 <= bytes.len() {
        let candidate = &sql[i..];
        let word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$');
        let boundary_before = i == 0 || !word(&bytes[i - 1]);
        // The hyphens where a UUID has them, before anything is parsed.
        let hyphens = [8, 13, 18, 23].iter().all(|&at| bytes[i + at] == b'-');
        if boundary_before
            && hyphens
            && candidate.len() >= 36
            && candidate.is_char_boundary(36)
            && uuid::Uuid::try_parse(&candidate[..36]).is_ok()
            && candidate.as_bytes()[8] == b'-'
            && candidate.as_bytes().get(36).is_none_or(|b| !word(b))
        {
            out.push((i..i + 36, &sql[i..i + 36]));
            i += 36;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunk_locations_and_keys_are_replaced_by_the_gateways() {
        let mut data = raw_data(&json!({
            "queryId": "01b2-upstream",
            "getResultUrl": "/queries/01b2-upstream/result",
            "rowset": [["1"]],
            "qrmk": "secret-key",
            "chunks": [
                {"url": "https://bucket.s3.amazonaws.com/a?X-Amz-Signature=abc", "rowCount": 10},
                {"url": "https://bucket.s3.amazonaws.com/b?X-Amz-Signature=def", "rowCount": 5}
            ],
        }));
        let names = Rewrite {
            query_id: "6f0c2a1e-0000-4000-8000-000000000001",
            base_url: "http://127.0.0.1:8080/",
            chunk_header: "x-komodo-chunk-token",
            chunk_token: "tok",
        };
        let sources = rewrite_query_data(&mut data, names).unwrap();
        assert_eq!(sources.urls.len(), 2);
        assert_eq!(sources.headers["x-amz-server-side-encryption-customer-key"], "secret-key");
        let written = serde_json::to_string(&data).unwrap();
        assert!(
            !written.contains("amazonaws") && !written.contains("secret-key") && !written.contains("01b2"),
            "{written}"
        );
        let data: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(data["queryId"], names.query_id);
        assert_eq!(data["rowset"], json!([["1"]]), "the rows as they were");
        assert_eq!(data["chunks"][1]["url"], format!("http://127.0.0.1:8080/gateway/chunks/{}/1", names.query_id));
        assert_eq!(data["chunks"][1]["rowCount"], 5);
        assert_eq!(data["chunkHeaders"]["x-komodo-chunk-token"], "tok");
        assert!(!format!("{sources:?}").contains("amazonaws"));

        let mut listed = raw_data(&json!({"chunks": [{"url": "https://x/1"}], "chunkHeaders": {"x-amz-a": "b"}}));
        let sources = rewrite_query_data(&mut listed, names).unwrap();
        assert_eq!(sources.headers["x-amz-a"], "b");
        assert_eq!(parsed(&listed, "chunkHeaders").unwrap().as_object().unwrap().len(), 1);
    }

    #[test]
    fn query_ids_in_statements_are_found() {
        let id = "6f0c2a1e-0000-4000-8000-000000000001";
        let sql = format!("select * from table(result_scan('{id}')); select system$cancel_query('{id}')");
        let found = query_id_mentions(&sql);
        assert_eq!(found.len(), 2);
        assert_eq!(&sql[found[0].0.clone()], id);
        assert!(query_id_mentions("select 'x6f0c2a1e-0000-4000-8000-000000000001'").is_empty());
        assert!(query_id_mentions("select 1").is_empty());
    }
}
