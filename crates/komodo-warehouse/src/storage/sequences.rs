//! Sequences on a local directory: each sequence's definition, and the
//! values handed out, shared by every replica of the directory.
//!
//! ```text
//! _databases/<DATABASE>/<SCHEMA>/_sequences/<SEQUENCE>.json   a named sequence
//! _databases/_sequence_claims/<id>/<first>                    a claimed block of values
//! ```
//!
//! A sequence's values are the ordinals 0, 1, 2, ... mapped to
//! `start + ordinal * increment`. A replica takes ordinals in blocks: a
//! claim is a file named by its first ordinal holding its length, created
//! only if absent (written aside, then hard-linked into place, so it
//! appears whole or not at all), at the end of the last claim. Two
//! replicas claiming at once race for one name and one wins; the other
//! reads the claims again and tries after the winner's block. Claims
//! therefore tile the ordinals from 0 without overlap: no value is handed
//! out twice, by any number of replicas, and a replica that stops with
//! part of a block unused leaves a gap (as Snowflake's sequences may).
//! Claims are kept by the sequence's id (not its name), so an identity
//! column's sequence follows its table through renames, and `CREATE OR
//! REPLACE SEQUENCE` (a new id) starts again.

use std::path::{Path, PathBuf};

use super::{LocalStorage, io, put_if_absent, segment};
use crate::WarehouseError;

/// A named sequence's stored definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SequenceDefinition {
    /// Names its claims (a UUID): a replaced sequence starts again.
    pub(crate) id: String,
    /// The first value.
    pub(crate) start: i64,
    /// The step between values (not 0; negative counts down).
    pub(crate) increment: i64,
    /// Milliseconds since the epoch when it was created.
    pub(crate) created_ms: i64,
    /// `COMMENT = '...'`.
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

pub(super) const SEQUENCES_DIR: &str = "_sequences";
const CLAIMS_DIR: &str = "_sequence_claims";

/// How many times a claim is tried again after losing a race.
const CLAIM_ATTEMPTS: usize = 1000;

/// Whether `id` names a sequence's claims (what [`LocalStorage`] makes:
/// a UUID's letters, digits and dashes).
fn is_sequence_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl LocalStorage {
    fn sequence_file(&self, db: &str, schema: &str, name: &str) -> PathBuf {
        self.schema_dir(db, schema).join(SEQUENCES_DIR).join(format!("{}.json", segment(name)))
    }

    fn claims_dir(&self, id: &str) -> Result<PathBuf, WarehouseError> {
        if !is_sequence_id(id) {
            return Err(WarehouseError::Internal(format!("invalid sequence id {id:?}")));
        }
        Ok(self.root.join(CLAIMS_DIR).join(id))
    }

    pub(super) fn list_sequences(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError> {
        super::names_of_files(&self.schema_dir(db, schema).join(SEQUENCES_DIR), ".json")
    }

    pub(super) fn read_sequence(
        &self,
        db: &str,
        schema: &str,
        name: &str,
    ) -> Result<Option<SequenceDefinition>, WarehouseError> {
        let file = self.sequence_file(db, schema, name);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&file)(e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            WarehouseError::Internal(format!("sequence definition {} cannot be read: {e}", file.display()))
        })
    }

    pub(super) fn write_sequence(
        &self,
        db: &str,
        schema: &str,
        name: &str,
        definition: &SequenceDefinition,
        replace: bool,
    ) -> Result<bool, WarehouseError> {
        if !self.schema_dir(db, schema).is_dir() {
            return Err(WarehouseError::ObjectNotFound(format!("{db}.{schema}")));
        }
        if !is_sequence_id(&definition.id) {
            return Err(WarehouseError::Internal(format!("invalid sequence id {:?}", definition.id)));
        }
        let file = self.sequence_file(db, schema, name);
        let dir = file.parent().map(Path::to_owned).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let text = serde_json::to_vec(definition).map_err(|e| WarehouseError::Internal(e.to_string()))?;
        let previous = if replace { self.read_sequence(db, schema, name)? } else { None };
        if replace {
            super::replace_file(&file, &text)?;
        } else if !put_if_absent(&file, &text)? {
            return Ok(false);
        }
        if let Some(previous) = previous.filter(|p| p.id != definition.id) {
            self.forget_claims(&previous.id)?;
        }
        Ok(true)
    }

    pub(super) fn remove_sequence(&self, db: &str, schema: &str, name: &str) -> Result<bool, WarehouseError> {
        let Some(definition) = self.read_sequence(db, schema, name)? else { return Ok(false) };
        let file = self.sequence_file(db, schema, name);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&file)(e)),
        }
        self.forget_claims(&definition.id)?;
        Ok(true)
    }

    fn forget_claims(&self, id: &str) -> Result<(), WarehouseError> {
        let dir = self.claims_dir(id)?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    /// Claims `count` ordinals of sequence `id`, trying at `hint` first
    /// (where this replica's last claim ended); returns the first.
    pub(super) fn claim_ordinals(&self, id: &str, count: u64, hint: u64) -> Result<u64, WarehouseError> {
        let dir = self.claims_dir(id)?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut first = hint;
        for _ in 0..CLAIM_ATTEMPTS {
            if first.checked_add(count).is_none() {
                return Err(WarehouseError::Compilation("the sequence has no values left".into()));
            }
            if put_if_absent(&dir.join(format!("{first:020}")), count.to_string().as_bytes())? {
                return Ok(first);
            }
            first = end_of_claims(&dir)?;
        }
        Err(WarehouseError::Conflict(
            "the sequence is being claimed by many writers at once; nothing was written, run it again".into(),
        ))
    }
}

impl LocalStorage {
    pub(super) fn claims_end(&self, id: &str) -> Result<u64, WarehouseError> {
        let dir = self.claims_dir(id)?;
        if !dir.is_dir() {
            return Ok(0);
        }
        end_of_claims(&dir)
    }
}

/// Where the claims in `dir` end (0 when there is none).
fn end_of_claims(dir: &Path) -> Result<u64, WarehouseError> {
    let entries = std::fs::read_dir(dir).map_err(io(dir))?;
    let last = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()).map(|first| (first, e.path())))
        .max_by_key(|(first, _)| *first);
    let Some((first, path)) = last else { return Ok(0) };
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let count: u64 = text
        .trim()
        .parse()
        .map_err(|_| WarehouseError::Internal(format!("sequence claim {} cannot be read", path.display())))?;
    first
        .checked_add(count)
        .ok_or_else(|| WarehouseError::Internal(format!("sequence claim {} is out of range", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{DATABASES_DIR, Storage};

    fn definition(start: i64) -> SequenceDefinition {
        let id = uuid::Uuid::new_v4().to_string();
        SequenceDefinition { id, start, increment: 1, created_ms: 1, comment: None }
    }

    #[test]
    fn named_sequences_are_created_once_replaced_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path());
        assert!(s.create_database("D").unwrap());
        let first = definition(1);
        assert!(s.put_sequence("D", "PUBLIC", "S", &first, false).unwrap());
        assert!(!s.put_sequence("D", "PUBLIC", "S", &definition(5), false).unwrap());
        assert_eq!(s.sequence("D", "PUBLIC", "S").unwrap(), Some(first.clone()));
        assert_eq!(s.sequences("D", "PUBLIC").unwrap(), ["S"]);
        assert_eq!(s.claim(&first.id, 3, 0).unwrap(), 0);
        let second = definition(10);
        assert!(s.put_sequence("D", "PUBLIC", "S", &second, true).unwrap());
        // The replaced sequence's claims are gone.
        assert!(!dir.path().join(DATABASES_DIR).join(CLAIMS_DIR).join(&first.id).exists());
        assert!(s.drop_sequence("D", "PUBLIC", "S").unwrap());
        assert!(!s.drop_sequence("D", "PUBLIC", "S").unwrap());
        assert!(s.sequences("D", "PUBLIC").unwrap().is_empty());
        assert!(matches!(
            s.put_sequence("NOPE", "PUBLIC", "S", &second, false),
            Err(WarehouseError::ObjectNotFound(_))
        ));
    }

    #[test]
    fn claims_tile_the_ordinals_whatever_the_hint() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path());
        let id = uuid::Uuid::new_v4().to_string();
        assert_eq!(s.claim(&id, 10, 0).unwrap(), 0);
        // A stale hint (another replica claimed since) moves to the end.
        assert_eq!(s.claim(&id, 5, 0).unwrap(), 10);
        assert_eq!(s.claim(&id, 5, 10).unwrap(), 15);
        assert_eq!(s.claim(&id, 1, 20).unwrap(), 20);
        assert!(s.claim("../x", 1, 0).is_err());
    }

    #[test]
    fn racing_claimers_never_share_an_ordinal() {
        let dir = tempfile::tempdir().unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let claimed: Vec<(u64, u64)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8u64)
                .map(|w| {
                    let s = LocalStorage::new(dir.path());
                    let id = id.clone();
                    scope.spawn(move || {
                        let mut hint = 0;
                        let mut mine = Vec::new();
                        for i in 0..25 {
                            let count = 1 + (w + i) % 7;
                            let first = s.claim(&id, count, hint).unwrap();
                            hint = first + count;
                            mine.push((first, count));
                        }
                        mine
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let mut claimed = claimed;
        claimed.sort();
        let mut end = 0;
        for (first, count) in claimed {
            assert_eq!(first, end, "claims overlap or leave a hole");
            end = first + count;
        }
    }
}
