//! Failed logins, per account: after [`MAX_FAILURES`] wrong passwords within
//! [`WINDOW`] the account is locked for [`LOCK`], whichever connection the
//! next try comes from. Pure: every call takes `now`. Bounded: at most
//! [`MAX_TRACKED`] accounts are tracked (the oldest failures go first).

use std::collections::HashMap;
use std::time::Duration;

/// Wrong passwords that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// The window they must fall in.
pub const WINDOW: Duration = Duration::from_secs(600);
/// How long the lock lasts.
pub const LOCK: Duration = Duration::from_secs(300);
/// Most accounts tracked at once.
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Duration,
    locked_until: Option<Duration>,
}

/// Failed logins by account name; `now` is time since any fixed start.
#[derive(Debug, Default)]
pub struct Lockout {
    accounts: HashMap<String, Failures>,
}

impl Lockout {
    /// How long `user` stays locked, if it is.
    #[must_use]
    pub fn locked(&self, user: &str, now: Duration) -> Option<Duration> {
        let until = self.accounts.get(user)?.locked_until?;
        until.checked_sub(now).filter(|left| !left.is_zero())
    }

    /// Counts a wrong password; returns the lock's length if this one locked
    /// the account.
    pub fn failed(&mut self, user: &str, now: Duration) -> Option<Duration> {
        if !self.accounts.contains_key(user) && self.accounts.len() >= MAX_TRACKED {
            self.forget_oldest();
        }
        let f = self.accounts.entry(user.to_owned()).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        // An old run of failures, or an expired lock, starts afresh.
        if now.saturating_sub(f.first) > WINDOW || f.locked_until.is_some_and(|u| now >= u) {
            *f = Failures { count: 0, first: now, locked_until: None };
        }
        f.count += 1;
        if f.count >= MAX_FAILURES && f.locked_until.is_none() {
            f.locked_until = Some(now + LOCK);
            return Some(LOCK);
        }
        None
    }

    /// A right password clears the account's failures.
    pub fn succeeded(&mut self, user: &str) {
        self.accounts.remove(user);
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.accounts.iter().min_by_key(|(_, f)| f.first).map(|(k, _)| k.clone()) {
            self.accounts.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn five_failures_lock_for_a_while_then_it_opens_again() {
        let mut l = Lockout::default();
        for i in 0..MAX_FAILURES - 1 {
            assert_eq!(l.failed("alice", S * i), None);
            assert_eq!(l.locked("alice", S * i), None);
        }
        assert_eq!(l.failed("alice", S * 10), Some(LOCK));
        assert_eq!(l.locked("alice", S * 10), Some(LOCK));
        assert_eq!(l.locked("bob", S * 10), None, "only that account");
        // Still locked near the end, open after it.
        assert_eq!(l.locked("alice", S * 10 + LOCK - S), Some(S));
        assert_eq!(l.locked("alice", S * 10 + LOCK), None);
        assert_eq!(l.failed("alice", S * 10 + LOCK), None, "a fresh count after the lock");
    }

    #[test]
    fn failures_spread_out_or_a_success_do_not_lock() {
        let mut l = Lockout::default();
        for i in 0..10 {
            assert_eq!(l.failed("alice", WINDOW / 3 * i), None, "failure {i} locked");
            if i % 3 == 2 {
                l.succeeded("alice");
            }
        }
        let mut l = Lockout::default();
        for i in 0..u64::from(MAX_FAILURES) * 2 {
            assert_eq!(l.failed("bob", (WINDOW + S) * u32::try_from(i).unwrap()), None);
        }
    }

    #[test]
    fn tracking_is_bounded() {
        let mut l = Lockout::default();
        for i in 0..MAX_TRACKED + 10 {
            l.failed(&format!("user{i}"), S * u32::try_from(i).unwrap());
        }
        assert_eq!(l.accounts.len(), MAX_TRACKED);
        assert!(!l.accounts.contains_key("user0"), "the oldest was not forgotten");
    }
}
