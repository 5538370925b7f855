//! The clock's high-water mark: the latest time this program has seen, so that a clock set back
//! to keep an expired license alive is noticed. No I/O here; the program keeps the mark (with
//! `std`, in a file: [`crate::MarkFile`]).

/// The latest trusted time seen so far (Unix seconds): raised by every guarded verification
/// ([`crate::Verifier::verify_guarded`]) and by the signed server times of revocation lists
/// ([`crate::RevocationList::issued_at`]) and status answers
/// ([`crate::StatusAnswer::server_time`]). A clock behind it by more than the leeway is refused
/// with [`crate::Error::ClockBehind`].
///
/// ```
/// use koolicense_verify::{ClockMark, Error, Verifier};
/// let verifier = Verifier::new([]);
/// let mut mark = ClockMark::new(0);
/// mark.observe(1_800_000_000); // e.g. a revocation list's signing time
/// assert!(verifier.check_clock(1_800_000_000 - 300, mark).is_ok());
/// assert!(matches!(
///     verifier.check_clock(1_700_000_000, mark),
///     Err(Error::ClockBehind { .. })
/// ));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockMark(u64);

impl ClockMark {
    /// A mark at `latest_seen` (0 for a program that has seen nothing yet).
    pub const fn new(latest_seen: u64) -> ClockMark {
        ClockMark(latest_seen)
    }

    /// The latest time seen.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Raises the mark to `time` if that is later. Returns whether the mark moved (persist it
    /// then).
    pub fn observe(&mut self, time: u64) -> bool {
        if time > self.0 {
            self.0 = time;
            true
        } else {
            false
        }
    }
}
