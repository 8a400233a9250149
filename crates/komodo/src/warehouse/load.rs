//! Loading a file into a table of the account: [`Connection::load_file`]
//! and [`Connection::load_bytes`] send it to the gateway's
//! `POST /komodo/v1/load` (Komodo's own endpoint; Snowflake's connectors
//! load through stages instead), streamed from disk, never read whole into
//! memory.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::connection::Connection;
use super::http::protocol_error;
use super::transfer::{file_error, file_stream};
use crate::Error;

/// The format of a file to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadFormat {
    /// An Arrow IPC stream (what `write_pandas` sends), or an Arrow IPC file.
    Arrow,
    /// CSV with a header row naming the columns (types inferred by the
    /// warehouse from the first rows).
    Csv,
    /// Parquet.
    Parquet,
}

impl LoadFormat {
    /// The format's name on the wire: `arrow`, `csv`, `parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadFormat::Arrow => "arrow",
            LoadFormat::Csv => "csv",
            LoadFormat::Parquet => "parquet",
        }
    }

    /// The format a file's extension names (`.csv`, `.parquet`/`.pq`,
    /// `.arrow`/`.arrows`/`.ipc`/`.feather`), any case.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(LoadFormat::Csv),
            "parquet" | "pq" => Some(LoadFormat::Parquet),
            "arrow" | "arrows" | "ipc" | "feather" => Some(LoadFormat::Arrow),
            _ => None,
        }
    }
}

impl fmt::Display for LoadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a load does when the table is missing or has rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Create a missing table, its columns those of the file.
    pub create: bool,
    /// Replace the table's rows with the file's instead of appending.
    pub overwrite: bool,
}

impl LoadOptions {
    /// Appends to an existing table (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// With `create`: a missing table is created from the file's columns.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// With `overwrite`: the file's rows replace the table's.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LoadSummary {
    /// The rows written.
    pub rows_loaded: u64,
    /// Whether the load created the table.
    pub created: bool,
    /// The table's database.
    pub database: String,
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub table: String,
}

/// Called with the bytes of the file sent so far.
pub type LoadProgress = Arc<dyn Fn(u64) + Send + Sync>;

impl Connection {
    /// Loads the file at `path` into `table` (`T`, `S.T` or `D.S.T`,
    /// Snowflake's identifier rules, in the session's current database and
    /// schema), in one commit: the file's columns are matched to the
    /// table's by name and cast to their types, the table's other columns
    /// are NULL. A load that fails leaves the table as it was.
    ///
    /// The file is streamed to the platform, never read whole into memory.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), komodo::Error> {
    /// use komodo::warehouse::{LoadFormat, LoadOptions};
    ///
    /// let conn = komodo::get_snowflake_connection().database("ANALYTICS").schema("PUBLIC").connect().await?;
    /// let summary = conn.load_file("visits", "visits.csv", LoadFormat::Csv, LoadOptions::new().create(true)).await?;
    /// println!("{} rows into {}", summary.rows_loaded, summary.table);
    /// # Ok(()) }
    /// ```
    pub async fn load_file(
        &self,
        table: &str,
        path: impl AsRef<Path>,
        format: LoadFormat,
        options: LoadOptions,
    ) -> Result<LoadSummary, Error> {
        self.load_file_with_progress(table, path, format, options, None).await
    }

    /// [`load_file`](Self::load_file), calling `progress` with the bytes
    /// sent so far as the file is read (for a progress bar).
    pub async fn load_file_with_progress(
        &self,
        table: &str,
        path: impl AsRef<Path>,
        format: LoadFormat,
        options: LoadOptions,
        progress: Option<LoadProgress>,
    ) -> Result<LoadSummary, Error> {
        let path = path.as_ref().to_owned();
        // Fails early, with the path, when the file cannot be opened.
        std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
        let body = move || {
            let file = std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
            Ok(reqwest::Body::wrap_stream(file_stream(tokio::fs::File::from_std(file), path.clone(), progress.clone())))
        };
        self.load(table, format, options, &body).await
    }

    /// Loads `bytes`, a whole file in `format`, into `table`, as
    /// [`load_file`](Self::load_file) does.
    pub async fn load_bytes(
        &self,
        table: &str,
        bytes: impl Into<Bytes>,
        format: LoadFormat,
        options: LoadOptions,
    ) -> Result<LoadSummary, Error> {
        let bytes: Bytes = bytes.into();
        let body = move || Ok(reqwest::Body::from(bytes.clone()));
        self.load(table, format, options, &body).await
    }

    async fn load(
        &self,
        table: &str,
        format: LoadFormat,
        options: LoadOptions,
        body: &(dyn Fn() -> Result<reqwest::Body, Error> + Send + Sync),
    ) -> Result<LoadSummary, Error> {
        let mut url = self.session.endpoint("komodo/v1/load");
        url.query_pairs_mut()
            .append_pair("table", table)
            .append_pair("format", format.as_str())
            .append_pair("create", if options.create { "true" } else { "false" })
            .append_pair("overwrite", if options.overwrite { "true" } else { "false" });
        let envelope = self.session.upload(url, "application/octet-stream", body).await?;
        if !envelope.success {
            return Err(self.session.envelope_error(&envelope, "the gateway refused the load").into());
        }
        let data = envelope.data.unwrap_or_default();
        serde_json::from_value(data).map_err(|e| protocol_error("POST /komodo/v1/load", e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(LoadFormat::from_path(Path::new("a/b.CSV")), Some(LoadFormat::Csv));
        assert_eq!(LoadFormat::from_path(Path::new("x.parquet")), Some(LoadFormat::Parquet));
        assert_eq!(LoadFormat::from_path(Path::new("x.arrow")), Some(LoadFormat::Arrow));
        assert_eq!(LoadFormat::from_path(Path::new("x.xlsx")), None);
        assert_eq!(LoadFormat::from_path(Path::new("noext")), None);
    }
}
