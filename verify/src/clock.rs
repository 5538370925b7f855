//! The clock's high-water mark: the latest time this program has seen, so that a clock set back
//! to keep an expired license alive is noticed, and the guarded checks of revocation lists and
//! status answers that raise it from the issuer's signed times. No I/O here; the program keeps
//! the mark (with `std`, in a file: [`crate::MarkFile`]).

use crate::claims::Claims;
use crate::error::Error;
use crate::revocation::{ListStamp, RevocationList};
use crate::status::StatusAnswer;
use crate::verifier::Verifier;

/// The latest trusted time seen so far (Unix seconds): raised by every guarded verification
/// ([`Verifier::verify_guarded`]) and by the signed server times of revocation lists
/// ([`Verifier::check_revocation_guarded`], [`Verifier::verify_revocation_list_guarded`],
/// [`ClockMark::observe_list`]) and status answers ([`Verifier::verify_status_guarded`],
/// [`ClockMark::observe_status`]). A clock behind it by more than the leeway is refused with
/// [`Error::ClockBehind`].
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

    /// Raises the mark to the signing time of a verified revocation list
    /// ([`RevocationList::issued_at`]). Returns whether the mark moved.
    pub fn observe_list(&mut self, list: &RevocationList) -> bool {
        self.observe(list.issued_at)
    }

    /// Raises the mark to the issuer's clock in a verified status answer
    /// ([`StatusAnswer::server_time`]). Returns whether the mark moved.
    pub fn observe_status(&mut self, answer: &StatusAnswer) -> bool {
        self.observe(answer.server_time)
    }
}

/// The guarded online and offline checks: each first refuses a clock behind the mark
/// ([`Verifier::check_clock`]), raises the mark to `now`, verifies, and on success raises the
/// mark to the issuer's signed time. Persist the mark when it moved, whatever the verdict.
impl Verifier {
    /// [`Verifier::verify_revocation_list`] guarded against a clock set back; an accepted list
    /// raises `mark` to its `issued_at`.
    pub fn verify_revocation_list_guarded(
        &self,
        text: &str,
        now: u64,
        last: Option<ListStamp>,
        mark: &mut ClockMark,
    ) -> Result<RevocationList, Error> {
        self.check_clock(now, *mark)?;
        mark.observe(now);
        let list = self.verify_revocation_list(text, now, last)?;
        mark.observe_list(&list);
        Ok(list)
    }

    /// [`Verifier::check_revocation`] guarded against a clock set back: an authentic list newer
    /// than `last` raises `mark` to its `issued_at`, also when it revokes this license.
    pub fn check_revocation_guarded(
        &self,
        list_text: &str,
        now: u64,
        last: Option<ListStamp>,
        claims: &Claims,
        mark: &mut ClockMark,
    ) -> Result<ListStamp, Error> {
        let list = self.verify_revocation_list_guarded(list_text, now, last, mark)?;
        list.check(claims)?;
        Ok(list.stamp())
    }

    /// [`Verifier::verify_status`] guarded against a clock set back (at `now`); an accepted
    /// answer raises `mark` to its `server_time`.
    pub fn verify_status_guarded(
        &self,
        text: &str,
        nonce: &str,
        claims: &Claims,
        now: u64,
        mark: &mut ClockMark,
    ) -> Result<StatusAnswer, Error> {
        self.check_clock(now, *mark)?;
        mark.observe(now);
        let answer = self.verify_status(text, nonce, claims)?;
        mark.observe_status(&answer);
        Ok(answer)
    }
}
