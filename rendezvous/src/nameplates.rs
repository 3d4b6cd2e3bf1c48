//! Nameplate allocation, sans-IO: live codes, expiry and single use.
//!
//! A nameplate has three digits while few codes are live and grows a digit
//! whenever the live codes would fill half of the current range, so random
//! picks stay cheap and guessing a live one stays unlikely.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng;
use tether_protocol::code::{MAX_NAMEPLATE_DIGITS, MIN_NAMEPLATE_DIGITS, Nameplate};
use tether_protocol::signal::SignalError;

/// Most live codes at once.
pub const MAX_LIVE: usize = 100_000;
/// Remember used and expired nameplates this long, to say why they fail.
const TOMBSTONE_FOR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Live { expires: Duration },
    Used { until: Duration },
    Expired { until: Duration },
}

/// All nameplates the server knows.
#[derive(Debug)]
pub struct Nameplates<T> {
    ttl: Duration,
    entries: HashMap<Nameplate, (State, Option<T>)>,
}

impl<T> Nameplates<T> {
    /// Codes live for `ttl`.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: HashMap::new() }
    }

    /// How long a new code lives.
    #[must_use]
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    fn live_count(&self) -> usize {
        self.entries.values().filter(|(s, _)| matches!(s, State::Live { .. })).count()
    }

    /// Drops what is past its time, marking live codes expired.
    pub fn sweep(&mut self, now: Duration) {
        self.entries.retain(|_, (state, _)| match *state {
            State::Live { expires } if expires <= now => {
                *state = State::Expired { until: now + TOMBSTONE_FOR };
                true
            }
            State::Used { until } | State::Expired { until } => until > now,
            State::Live { .. } => true,
        });
        for (state, data) in self.entries.values_mut() {
            if !matches!(state, State::Live { .. }) {
                *data = None;
            }
        }
    }

    /// Live codes whose owner matches `pred`.
    pub fn live_where(&mut self, now: Duration, pred: impl Fn(&T) -> bool) -> usize {
        self.sweep(now);
        self.entries
            .values()
            .filter(|(s, d)| matches!(s, State::Live { .. }) && d.as_ref().is_some_and(&pred))
            .count()
    }

    /// Allocates a fresh nameplate owned by `data`.
    pub fn allocate(&mut self, now: Duration, data: T, rng: &mut impl Rng) -> Result<Nameplate, SignalError> {
        self.sweep(now);
        let live = self.live_count();
        if live >= MAX_LIVE {
            return Err(SignalError::Busy);
        }
        let mut digits = MIN_NAMEPLATE_DIGITS as u32;
        while digits < MAX_NAMEPLATE_DIGITS as u32 && live * 2 >= 9 * 10usize.pow(digits - 1) {
            digits += 1;
        }
        let range = 10u32.pow(digits - 1)..10u32.pow(digits);
        for _ in 0..1000 {
            let Some(plate) = Nameplate::new(rng.gen_range(range.clone())) else {
                continue;
            };
            if !self.entries.contains_key(&plate) {
                self.entries.insert(plate, (State::Live { expires: now + self.ttl }, Some(data)));
                return Ok(plate);
            }
        }
        Err(SignalError::Busy)
    }

    /// Uses up a live nameplate and returns its owner's data.
    pub fn claim(&mut self, plate: Nameplate, now: Duration) -> Result<T, SignalError> {
        self.sweep(now);
        match self.entries.get_mut(&plate) {
            None => Err(SignalError::UnknownCode),
            Some((State::Expired { .. }, _)) => Err(SignalError::ExpiredCode),
            Some((State::Used { .. }, _)) => Err(SignalError::CodeUsed),
            Some((state @ State::Live { .. }, data)) => {
                *state = State::Used { until: now + TOMBSTONE_FOR };
                data.take().ok_or(SignalError::CodeUsed)
            }
        }
    }

    /// Ends every live code owned by data matching `pred` (its console
    /// left); to the customer they look expired.
    pub fn revoke_where(&mut self, now: Duration, pred: impl Fn(&T) -> bool) {
        self.sweep(now);
        for (state, data) in self.entries.values_mut() {
            if data.as_ref().is_some_and(&pred) {
                *state = State::Expired { until: now + TOMBSTONE_FOR };

                *data = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn single_use_and_expiry() {
        let mut rng = rand::thread_rng();
        let mut n = Nameplates::new(secs(600));
        let a = n.allocate(secs(0), 'a', &mut rng).unwrap();
        assert!((100..1000).contains(&a.get()));
        assert_eq!(n.claim(a, secs(10)), Ok('a'));
        assert_eq!(n.claim(a, secs(11)), Err(SignalError::CodeUsed));
        let b = n.allocate(secs(20), 'b', &mut rng).unwrap();
        assert_eq!(n.claim(b, secs(621)), Err(SignalError::ExpiredCode));
        assert_eq!(n.claim(Nameplate::new(99_999).unwrap(), secs(622)), Err(SignalError::UnknownCode));
    }

    #[test]
    fn grows_when_many_are_live() {
        let mut rng = rand::thread_rng();
        let mut n = Nameplates::new(secs(600));
        let plates: Vec<_> = (0..2000).map(|i| n.allocate(secs(0), i, &mut rng).unwrap()).collect();
        assert!(plates[..450].iter().all(|p| p.get() < 1000));
        assert!(plates.last().unwrap().get() >= 1000);
        let mut uniq = plates.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), plates.len());
    }

    #[test]
    fn live_codes_are_counted_per_owner() {
        let mut rng = rand::thread_rng();
        let mut n = Nameplates::new(secs(60));
        for owner in [1, 1, 2] {
            n.allocate(secs(0), owner, &mut rng).unwrap();
        }
        assert_eq!(n.live_where(secs(1), |o| *o == 1), 2);
        assert_eq!(n.live_where(secs(61), |o| *o == 1), 0, "expired codes do not count");
    }

    #[test]
    fn revoked_codes_cannot_be_claimed() {
        let mut rng = rand::thread_rng();
        let mut n = Nameplates::new(secs(600));
        let a = n.allocate(secs(0), 1, &mut rng).unwrap();
        n.revoke_where(secs(1), |d| *d == 1);
        assert_eq!(n.claim(a, secs(2)), Err(SignalError::ExpiredCode));
    }
}
