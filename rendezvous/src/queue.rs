//! The help-request queue as a pure state machine: requests wait per desk
//! in the order they came, a claim takes one out exactly once, and a
//! request older than its desk's timeout leaves on the next `expire`.
//! Every call that depends on time takes `now`. Bounded: at most
//! [`MAX_WAITING`] requests in all and [`MAX_PER_DESK`] per desk.

use std::collections::BTreeMap;
use std::time::Duration;

use tether_protocol::queue::{HelpRequest, QueueItem};

/// Most requests waiting in all.
pub const MAX_WAITING: usize = 20_000;
/// Most requests waiting at one desk.
pub const MAX_PER_DESK: usize = 5_000;

/// One waiting request; `A` names the customer's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<A> {
    /// Its number, rising in the order requests came.
    pub id: u64,
    /// What the customer asked.
    pub ask: HelpRequest,
    /// The customer's connection.
    pub agent: A,
    /// When it came (Unix seconds), for people.
    pub since: u64,
    /// When it came, on the queue's clock.
    pub at: Duration,
    /// When it times out, on the queue's clock.
    pub deadline: Duration,
}

impl<A> Request<A> {
    /// As technicians see it.
    #[must_use]
    pub fn item(&self) -> QueueItem {
        QueueItem { request: self.id, ask: self.ask.clone(), since: self.since }
    }
}

/// Why a request could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// Too many waiting.
    Full,
}

/// Why a claim failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// Taken, withdrawn, timed out, or never there.
    Gone,
    /// Not one of the claimer's desks.
    NotYourDesk,
}

/// The waiting requests of every desk.
#[derive(Debug)]
pub struct Queue<A> {
    requests: BTreeMap<u64, Request<A>>,
    last: u64,
}

impl<A> Default for Queue<A> {
    fn default() -> Self {
        Self { requests: BTreeMap::new(), last: 0 }
    }
}

impl<A: Clone + PartialEq> Queue<A> {
    /// Queues a request; its number and place (1 is next).
    pub fn submit(
        &mut self,
        ask: HelpRequest,
        agent: A,
        now: Duration,
        timeout: Duration,
        since: u64,
    ) -> Result<(u64, u32), QueueError> {
        if self.requests.len() >= MAX_WAITING || self.at_desk(&ask.desk).count() >= MAX_PER_DESK {
            return Err(QueueError::Full);
        }
        self.last += 1;
        let id = self.last;
        self.requests.insert(id, Request { id, ask, agent, since, at: now, deadline: now + timeout });
        Ok((id, self.position(id).unwrap_or(1)))
    }

    fn at_desk<'a>(&'a self, desk: &'a str) -> impl Iterator<Item = &'a Request<A>> + 'a {
        self.requests.values().filter(move |r| r.ask.desk == desk)
    }

    /// Request `id`, if it is waiting.
    #[must_use]
    pub fn get(&self, id: u64) -> Option<&Request<A>> {
        self.requests.get(&id)
    }

    /// The request's place in its desk's queue (1 is next).
    #[must_use]
    pub fn position(&self, id: u64) -> Option<u32> {
        let desk = &self.requests.get(&id)?.ask.desk;
        let ahead = self.requests.range(..id).filter(|(_, r)| r.ask.desk == *desk).count();
        u32::try_from(ahead + 1).ok()
    }

    /// The customers behind a request that left `desk`, with their new
    /// places (call after it left).
    #[must_use]
    pub fn moved_up(&self, desk: &str, left: u64) -> Vec<(A, u32)> {
        let ahead = self.requests.range(..left).filter(|(_, r)| r.ask.desk == desk).count();
        self.requests
            .range(left..)
            .filter(|(_, r)| r.ask.desk == desk)
            .enumerate()
            .map(|(i, (_, r))| (r.agent.clone(), u32::try_from(ahead + i + 1).unwrap_or(u32::MAX)))
            .collect()
    }

    /// Takes the request of `agent` out, if it has one waiting.
    pub fn withdraw(&mut self, agent: &A) -> Option<Request<A>> {
        let id = self.requests.values().find(|r| r.agent == *agent)?.id;
        self.requests.remove(&id)
    }

    /// Gives request `id` to a technician serving `desks`: exactly once.
    pub fn claim(&mut self, id: u64, desks: &[String]) -> Result<Request<A>, ClaimError> {
        let r = self.requests.get(&id).ok_or(ClaimError::Gone)?;
        if !desks.contains(&r.ask.desk) {
            return Err(ClaimError::NotYourDesk);
        }
        self.requests.remove(&id).ok_or(ClaimError::Gone)
    }

    /// Takes out every request past its deadline.
    pub fn expire(&mut self, now: Duration) -> Vec<Request<A>> {
        let late: Vec<u64> = self.requests.values().filter(|r| now >= r.deadline).map(|r| r.id).collect();
        late.iter().filter_map(|id| self.requests.remove(id)).collect()
    }

    /// The waiting requests of `desks` after number `after`, oldest first.
    pub fn waiting<'a>(
        &'a self,
        desks: &'a [String],
        after: u64,
    ) -> impl Iterator<Item = &'a Request<A>> + 'a {
        self.requests.range(after + 1..).map(|(_, r)| r).filter(move |r| desks.contains(&r.ask.desk))
    }

    /// Requests waiting in all.
    #[must_use]
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether none is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ask(desk: &str, name: &str) -> HelpRequest {
        HelpRequest { desk: desk.into(), name: name.into(), problem: "help".into(), fields: vec![] }
    }

    fn desks(names: &[&str]) -> Vec<String> {
        names.iter().map(|d| (*d).to_owned()).collect()
    }

    #[test]
    fn requests_wait_in_order_per_desk_and_are_claimed_once() {
        let mut q = Queue::default();
        assert_eq!(q.submit(ask("billing", "a"), 1, S, S * 60, 0), Ok((1, 1)));
        assert_eq!(q.submit(ask("tech", "b"), 2, S, S * 60, 0), Ok((2, 1)));
        assert_eq!(q.submit(ask("billing", "c"), 3, S, S * 60, 0), Ok((3, 2)));
        assert_eq!(q.submit(ask("billing", "d"), 4, S, S * 60, 0), Ok((4, 3)));
        let billing = desks(&["billing"]);
        let seen: Vec<u64> = q.waiting(&billing, 0).map(|r| r.id).collect();
        assert_eq!(seen, [1, 3, 4]);
        assert_eq!(q.waiting(&billing, 3).map(|r| r.id).collect::<Vec<_>>(), [4]);
        assert_eq!(q.claim(2, &billing), Err(ClaimError::NotYourDesk));
        assert_eq!(q.claim(1, &billing).map(|r| r.agent), Ok(1));
        assert_eq!(q.claim(1, &billing), Err(ClaimError::Gone), "claimed twice");
        assert_eq!(q.moved_up("billing", 1), [(3, 1), (4, 2)]);
        assert_eq!(q.withdraw(&3).map(|r| r.id), Some(3));
        assert_eq!(q.withdraw(&3), None);
        assert_eq!(q.moved_up("billing", 3), [(4, 1)]);
        assert_eq!(q.position(4), Some(1));
        assert_eq!(q.position(2), Some(1));
    }

    #[test]
    fn requests_time_out_at_their_deadline() {
        let mut q = Queue::default();
        q.submit(ask("billing", "a"), 1, S, S * 10, 0).unwrap();
        q.submit(ask("billing", "b"), 2, S * 5, S * 10, 0).unwrap();
        assert!(q.expire(S * 10).is_empty());
        assert_eq!(q.expire(S * 11).iter().map(|r| r.agent).collect::<Vec<_>>(), [1]);
        assert_eq!(q.expire(S * 15).iter().map(|r| r.agent).collect::<Vec<_>>(), [2]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_desk_holds_a_bounded_number() {
        let mut q = Queue::default();
        for i in 0..MAX_PER_DESK {
            q.submit(ask("billing", "a"), i, S, S, 0).unwrap();
        }
        assert_eq!(q.submit(ask("billing", "a"), 0, S, S, 0), Err(QueueError::Full));
        assert!(q.submit(ask("tech", "a"), 0, S, S, 0).is_ok(), "another desk still has room");
        assert_eq!(q.len(), MAX_PER_DESK + 1);
    }
}
