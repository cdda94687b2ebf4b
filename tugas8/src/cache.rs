//! Small static files kept in memory, so that serving one again costs a
//! single `stat` instead of resolving its path, opening and reading it.
//!
//! The first request for a file goes the long way (the name checked and
//! resolved inside the served folder, the file opened and read); if the
//! file is small (at most [`MAX_FILE`]) its answer is kept, under the
//! request's file name. Each later request for that name looks at the
//! file on disk once (`symlink_metadata` of the resolved path): when its
//! size and modification time are unchanged and it is still a plain file,
//! the kept answer is sent; otherwise the entry is dropped and the long
//! way taken again. A file edited while the server runs is therefore
//! served new at once, and a file replaced by a symbolic link goes through
//! the folder check again.
//!
//! The cache holds at most [`MAX_ENTRIES`] files and [`MAX_BYTES`] bytes;
//! past that, new files are simply not kept.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use common::http::Response;

/// Largest file kept in memory.
pub const MAX_FILE: u64 = 256 * 1024;

/// Most files kept.
pub const MAX_ENTRIES: usize = 1024;

/// Most bytes of file contents kept, in all.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// A kept answer and what it was made from.
#[derive(Debug)]
pub struct Entry {
    /// The file's resolved path inside the served folder.
    pub path: PathBuf,
    /// Its size and modification time when it was read.
    pub len: u64,
    /// Its modification time when it was read.
    pub modified: SystemTime,
    /// The answer: 200 with Content-Type, Last-Modified and the contents.
    pub response: Response,
}

impl Entry {
    /// Whether the file on disk is still the one read.
    fn is_fresh(&self) -> bool {
        match fs::symlink_metadata(&self.path) {
            Ok(m) => {
                m.is_file() && m.len() == self.len && m.modified().is_ok_and(|t| t == self.modified)
            }
            Err(_) => false,
        }
    }
}

/// The files kept, by request file name (`sending.html`, `images/a.png`).
#[derive(Debug, Default)]
pub struct FileCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

impl FileCache {
    /// An empty cache.
    pub fn new() -> FileCache {
        FileCache::default()
    }

    /// The kept answer for `name`, if the file has not changed since.
    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        let entry = self.lock().entries.get(name).cloned()?;
        if entry.is_fresh() {
            return Some(entry);
        }
        let mut inner = self.lock();
        if inner
            .entries
            .get(name)
            .is_some_and(|e| Arc::ptr_eq(e, &entry))
        {
            inner.entries.remove(name);
            inner.bytes -= entry.response.body.len();
        }
        None
    }

    /// Keeps `entry` under `name`, if it is small and there is room.
    pub fn insert(&self, name: &str, entry: Entry) {
        let size = entry.response.body.len();
        if size as u64 > MAX_FILE {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.len() >= MAX_ENTRIES || inner.bytes + size > MAX_BYTES {
            return;
        }
        if let Some(old) = inner.entries.insert(name.to_string(), Arc::new(entry)) {
            inner.bytes -= old.response.body.len();
        }
        inner.bytes += size;
    }

    /// Files kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no file is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_for(path: &std::path::Path, body: &[u8]) -> Entry {
        let m = fs::metadata(path).unwrap();
        Entry {
            path: path.to_path_buf(),
            len: m.len(),
            modified: m.modified().unwrap(),
            response: Response::new(200).with_body(body.to_vec()),
        }
    }

    #[test]
    fn a_changed_or_removed_file_is_not_served_from_memory() {
        let dir = std::env::temp_dir().join(format!("tugas8-cache-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.txt");
        fs::write(&file, b"one").unwrap();
        let cache = FileCache::new();
        cache.insert("a.txt", entry_for(&file, b"one"));
        assert_eq!(cache.get("a.txt").unwrap().response.body, b"one");
        assert!(cache.get("b.txt").is_none());

        fs::write(&file, b"three").unwrap();
        assert!(cache.get("a.txt").is_none(), "size changed");
        assert!(cache.is_empty(), "the stale entry is dropped");

        cache.insert("a.txt", entry_for(&file, b"three"));
        fs::remove_file(&file).unwrap();
        assert!(cache.get("a.txt").is_none(), "removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn big_files_are_not_kept() {
        let cache = FileCache::new();
        let big = Entry {
            path: PathBuf::from("/nonexistent"),
            len: MAX_FILE + 1,
            modified: SystemTime::UNIX_EPOCH,
            response: Response::new(200).with_body(vec![0; MAX_FILE as usize + 1]),
        };
        cache.insert("big", big);
        assert!(cache.is_empty());
    }
}
