//! Keeping the clock's high-water mark in a file (std only), replaced atomically so that a crash
//! never leaves a half-written mark.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::string::ToString;

use crate::clock::ClockMark;

/// A file holding a [`ClockMark`] as decimal Unix seconds and a newline.
///
/// The mark is a speed bump, not a proof: a customer who deletes the file resets it, which is why
/// signed server times from revocation lists and status answers raise it too.
///
/// ```no_run
/// use koolicense_verify::{Host, MarkFile, Verifier};
/// # fn run(verifier: &Verifier, license: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let file = MarkFile::new("/var/lib/myapp/clock-mark");
/// let mut mark = file.load()?;
/// let before = mark;
/// let claims = verifier.verify_guarded(license, koolicense_verify::unix_now(), &Host::default(), &mut mark);
/// if mark != before {
///     file.store(mark)?;
/// }
/// claims?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkFile {
    path: PathBuf,
}

impl MarkFile {
    /// The mark file at `path` (it need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> MarkFile {
        MarkFile { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the mark; a missing file is a mark of 0. A file that does not hold a number is an
    /// [`io::ErrorKind::InvalidData`] error (do not silently reset the mark).
    pub fn load(&self) -> io::Result<ClockMark> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ClockMark::default()),
            Err(e) => return Err(e),
        };
        text.trim().parse::<u64>().map(ClockMark::new).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "clock mark file is not a number",
            )
        })
    }

    /// Writes the mark atomically: a temporary file next to it is written and synced, then
    /// renamed over the mark, then the directory is synced (where the platform allows).
    pub fn store(&self, mark: ClockMark) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let temporary = dir.join(name);
        let mut file = File::create(&temporary)?;
        file.write_all((mark.get().to_string() + "\n").as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &self.path)?;
        #[cfg(unix)]
        File::open(&dir)?.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(std::format!(
            "koolicense-mark-{}-{name}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir.join("mark")
    }

    #[test]
    fn a_missing_file_is_a_zero_mark_and_a_stored_mark_reads_back() {
        let file = MarkFile::new(temp_path("roundtrip"));
        let _ = fs::remove_file(file.path());
        assert_eq!(file.load().unwrap(), ClockMark::new(0));
        file.store(ClockMark::new(1_800_000_000)).unwrap();
        assert_eq!(file.load().unwrap(), ClockMark::new(1_800_000_000));
        file.store(ClockMark::new(1_800_000_001)).unwrap();
        assert_eq!(file.load().unwrap(), ClockMark::new(1_800_000_001));
        let leftovers: std::vec::Vec<_> = fs::read_dir(file.path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["mark"], "no temporary file left behind");
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_reset() {
        let file = MarkFile::new(temp_path("corrupt"));
        fs::write(file.path(), "yesterday").unwrap();
        assert_eq!(file.load().unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
