//! Counting each API response once, across every file and root.
//!
//! Claude Code writes one API response as several lines (one per content block) that repeat the
//! same `message.id`, `requestId` and usage, the earlier ones possibly with a partial streaming
//! count; resumed sessions copy earlier lines into a new file; sidechain transcripts replay parent
//! responses with a new `requestId` but the same `message.id`. The rules:
//!
//! 1. Two usage lines are copies of one response when they have the same `message.id` and
//!    - the same `requestId`, or
//!    - either of them has no `requestId`, or
//!    - either of them has `isSidechain: true`.
//! 2. Of the copies of one response one is kept: a non-sidechain copy over a sidechain one, then
//!    the larger token total (input + output + cache writes + cache reads), then the earlier
//!    timestamp, then a fixed order of the remaining fields (model, token fields, speed, project,
//!    session). The order is total on everything an event carries, so the kept copy does not
//!    depend on the order in which lines arrive.
//! 3. The match is global: across all files and roots.
//!
//! Rule 1 is not transitive when one `message.id` has several non-sidechain `requestId`s (which
//! real transcripts do not produce): a copy that matches by `message.id` alone then matches all of
//! them, and they are all counted as one response (the connected component of the "is a copy of"
//! relation). Without such a copy, each `requestId` is its own response.
//!
//! A usage line without `message.id` cannot be matched and is counted as its own response.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::event::UsageEvent;
use crate::hash::{Prehashed, fnv1a_128, fnv1a_128_pair};

/// How a usage line is matched against other copies of the same response: stable 128-bit hashes
/// of its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseKey {
    /// Hash of `message.id`.
    pub message_id: u128,
    /// Hash of `requestId`, when the line has one.
    pub request_id: Option<u128>,
}

impl ResponseKey {
    /// The key of a line with these ids (hashed with [`fnv1a_128`]).
    pub fn new(message_id: &str, request_id: Option<&str>) -> Self {
        match request_id {
            Some(request_id) => {
                let (message_id, request_id) =
                    fnv1a_128_pair(message_id.as_bytes(), request_id.as_bytes());
                Self {
                    message_id,
                    request_id: Some(request_id),
                }
            }
            None => Self {
                message_id: fnv1a_128(message_id.as_bytes()),
                request_id: None,
            },
        }
    }
}

/// One usage line, ready for deduplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The response as this line reports it.
    pub event: UsageEvent,
    /// The ids of the line; `None` when it has no `message.id`.
    pub key: Option<ResponseKey>,
    /// `isSidechain: true`.
    pub sidechain: bool,
}

impl Record {
    /// Whether this copy matches every other copy with the same `message.id` (rule 1).
    fn matches_by_message_id_alone(&self) -> bool {
        self.sidechain || self.key.is_some_and(|k| k.request_id.is_none())
    }
}

/// A fixed total order of events: timestamp, model, token fields, speed, project, session.
///
/// Used to sort the output and to break ties between copies.
pub fn compare_events(a: &UsageEvent, b: &UsageEvent) -> Ordering {
    let tokens = |e: &UsageEvent| {
        let t = &e.tokens;
        (
            t.input,
            t.output,
            t.cache_creation,
            t.cache_read,
            t.cache_creation_5m,
            t.cache_creation_1h,
        )
    };
    a.timestamp
        .cmp(&b.timestamp)
        .then_with(|| a.model.cmp(&b.model))
        .then_with(|| tokens(a).cmp(&tokens(b)))
        .then_with(|| (a.speed as u8).cmp(&(b.speed as u8)))
        .then_with(|| a.project.cmp(&b.project))
        .then_with(|| a.session_id.cmp(&b.session_id))
}

/// Sorts `items` by their events, in the order of [`compare_events`] (items with equal events
/// in the order they were in): the order of [`event_order`], each item then moved once into
/// its place (a record is about 180 bytes: a comparison sort would move each many times).
pub fn sort_by_event<T>(items: &mut [T], event: impl Fn(&T) -> &UsageEvent) {
    let mut order = event_order(items, event);
    // The place `i` takes the item first at `order[i]`; items already placed were swapped away
    // from there, along the cycle that `order` has already walked (as `sort_by_cached_key`
    // does).
    for i in 0..order.len() {
        let mut from = order[i] as usize;
        while from < i {
            from = order[from] as usize;
        }
        order[i] = from as u32;
        items.swap(i, from);
    }
}

/// The positions of `items` in the order of [`compare_events`] of their events, items with
/// equal events in the order of their positions: for a caller that reads them in that order
/// without moving them. The timestamps are sorted with the positions, and only the runs of
/// equal instants by the whole comparison.
pub fn event_order<T>(items: &[T], event: impl Fn(&T) -> &UsageEvent) -> Vec<u32> {
    let mut keys: Vec<(chrono::DateTime<chrono::Utc>, u32)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| (event(item).timestamp, i as u32))
        .collect();
    keys.sort_unstable();
    let mut order: Vec<u32> = keys.iter().map(|&(_, i)| i).collect();
    let mut start = 0;
    for run in keys.chunk_by(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            order[start..start + run.len()].sort_unstable_by(|&a, &b| {
                compare_events(event(&items[a as usize]), event(&items[b as usize])).then(a.cmp(&b))
            });
        }
        start += run.len();
    }
    order
}

/// Whether `candidate` is the copy to keep over `current` (rule 2).
fn preferred(candidate: &Record, current: &Record) -> bool {
    let order = current
        .sidechain
        .cmp(&candidate.sidechain)
        .then_with(|| {
            candidate
                .event
                .tokens
                .total()
                .cmp(&current.event.tokens.total())
        })
        .then_with(|| compare_events(&current.event, &candidate.event));
    order == Ordering::Greater
}

/// A record being inserted: owned, or borrowed and copied only when the index keeps it.
trait Incoming {
    fn record(&self) -> &Record;
    fn into_record(self) -> Record;
}

impl Incoming for Record {
    fn record(&self) -> &Record {
        self
    }

    fn into_record(self) -> Record {
        self
    }
}

impl Incoming for &Record {
    fn record(&self) -> &Record {
        self
    }

    fn into_record(self) -> Record {
        self.clone()
    }
}

/// The copies seen of one `message.id`.
#[derive(Debug, Clone)]
enum Group {
    /// Only non-sidechain copies with a `requestId` so far, all with the same one: the best.
    /// The usual case, kept without an allocation of its own.
    One(u128, Record),
    /// Only non-sidechain copies with a `requestId` so far, with several: the best copy per
    /// `requestId`.
    ByRequest(Vec<(u128, Record)>),
    /// A copy that matches by `message.id` alone was seen: everything is one response.
    Merged(Record),
}

impl Group {
    fn new(record: Record) -> Self {
        match record.key.and_then(|k| k.request_id) {
            Some(request) if !record.sidechain => Group::One(request, record),
            _ => Group::Merged(record),
        }
    }

    fn responses(&self) -> usize {
        match self {
            Group::One(..) | Group::Merged(_) => 1,
            Group::ByRequest(copies) => copies.len(),
        }
    }

    fn insert(&mut self, incoming: impl Incoming) {
        let record = incoming.record();
        if let Group::Merged(best) = self {
            if preferred(record, best) {
                *best = incoming.into_record();
            }
            return;
        }
        if record.matches_by_message_id_alone() {
            // Every copy so far is the same response as this one.
            let mine = std::mem::replace(self, Group::ByRequest(Vec::new()));
            *self = Group::Merged(mine.best_with(incoming));
            return;
        }
        let request = record.key.and_then(|k| k.request_id).unwrap_or_default();
        match self {
            Group::One(r, best) if *r == request => {
                if preferred(record, best) {
                    *best = incoming.into_record();
                }
            }
            Group::One(..) => {
                let Group::One(r, best) = std::mem::replace(self, Group::ByRequest(Vec::new()))
                else {
                    unreachable!("matched above")
                };
                *self = Group::ByRequest(vec![(r, best), (request, incoming.into_record())]);
            }
            Group::ByRequest(copies) => match copies.iter_mut().find(|(r, _)| *r == request) {
                Some((_, best)) => {
                    if preferred(record, best) {
                        *best = incoming.into_record();
                    }
                }
                None => copies.push((request, incoming.into_record())),
            },
            Group::Merged(_) => unreachable!("handled above"),
        }
    }

    fn absorb(&mut self, other: Group) {
        match other {
            Group::One(_, record) => self.insert(record),
            Group::ByRequest(copies) => {
                for (_, record) in copies {
                    self.insert(record);
                }
            }
            Group::Merged(record) => {
                // `other` saw a copy that matches by `message.id` alone: the union is one
                // response, whatever this group held.
                let mine = std::mem::replace(self, Group::ByRequest(Vec::new()));
                *self = Group::Merged(mine.best_with(record));
            }
        }
    }

    /// The preferred copy among this group's and `incoming` (which wins a tie), `incoming`
    /// copied only when it is that copy.
    fn best_with(self, incoming: impl Incoming) -> Record {
        // `None`: `incoming` is the best so far.
        let mut best: Option<Record> = None;
        let mut consider = |copy: Record| {
            if preferred(&copy, best.as_ref().unwrap_or(incoming.record())) {
                best = Some(copy);
            }
        };
        match self {
            Group::One(_, copy) | Group::Merged(copy) => consider(copy),
            Group::ByRequest(copies) => copies.into_iter().for_each(|(_, copy)| consider(copy)),
        }
        best.unwrap_or_else(|| incoming.into_record())
    }
}

/// The deduplication index: feed it every usage line ([`Record`]) of every file, in any order,
/// and it holds each response once.
///
/// The result depends only on the set of records inserted, not on their order, so per-file or
/// per-thread indexes can be combined with [`Dedup::merge`]. Keys are stable hashes, so an index
/// can outlive one scan (for an incremental reader that keeps per-file offsets).
#[derive(Debug, Clone, Default)]
pub struct Dedup {
    /// Where each `message.id`'s group is in `groups`.
    index: HashMap<u128, u32, Prehashed>,
    /// The groups, in order of first sight. Kept apart from the index so that the table
    /// stays small (a group holds whole records) and growing it moves no records.
    groups: Vec<Group>,
    unkeyed: Vec<UsageEvent>,
    responses: usize,
    inserted: u64,
}

impl Dedup {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one usage line.
    pub fn insert(&mut self, record: Record) {
        self.add(record);
    }

    /// Adds every record of `records`.
    pub fn extend(&mut self, records: impl IntoIterator<Item = Record>) {
        for record in records {
            self.add(record);
        }
    }

    /// Adds a copy of every record of `records`: as [`extend`](Self::extend) with their
    /// clones, but only the records the index keeps are copied (a copy of a response already
    /// held with a preferred record is not), each straight into its place.
    pub fn extend_cloned(&mut self, records: &[Record]) {
        for record in records {
            self.add(record);
        }
    }

    fn add(&mut self, incoming: impl Incoming) {
        self.inserted += 1;
        let Some(key) = incoming.record().key else {
            self.unkeyed.push(incoming.into_record().event);
            self.responses += 1;
            return;
        };
        match self.index.entry(key.message_id) {
            Entry::Vacant(slot) => {
                slot.insert(self.groups.len() as u32);
                self.groups.push(Group::new(incoming.into_record()));
                self.responses += 1;
            }
            Entry::Occupied(slot) => {
                let group = &mut self.groups[*slot.get() as usize];
                let before = group.responses();
                group.insert(incoming);
                self.responses = self.responses - before + group.responses();
            }
        }
    }

    /// Adds everything `other` holds (as if its records had been inserted here).
    pub fn merge(&mut self, other: Dedup) {
        self.index.reserve(other.index.len());
        self.groups.reserve(other.groups.len());
        self.inserted += other.inserted;
        self.responses += other.unkeyed.len();
        self.unkeyed.extend(other.unkeyed);
        let mut ids: Vec<(u32, u128)> = other.index.into_iter().map(|(m, i)| (i, m)).collect();
        ids.sort_unstable_by_key(|&(i, _)| i);
        for ((_, message), group) in ids.into_iter().zip(other.groups) {
            match self.index.entry(message) {
                Entry::Vacant(slot) => {
                    self.responses += group.responses();
                    slot.insert(self.groups.len() as u32);
                    self.groups.push(group);
                }
                Entry::Occupied(slot) => {
                    let mine = &mut self.groups[*slot.get() as usize];
                    let before = mine.responses();
                    mine.absorb(group);
                    self.responses = self.responses - before + mine.responses();
                }
            }
        }
    }

    /// The number of distinct responses held.
    pub fn len(&self) -> usize {
        self.responses
    }

    /// Whether nothing has been inserted.
    pub fn is_empty(&self) -> bool {
        self.responses == 0
    }

    /// The number of records inserted (including duplicates).
    pub fn inserted(&self) -> u64 {
        self.inserted
    }

    /// The number of inserted records that were dropped as copies of another.
    pub fn duplicates(&self) -> u64 {
        self.inserted - self.responses as u64
    }

    /// The kept records (one per response, with their keys), in no particular order.
    pub fn into_records(self) -> Vec<Record> {
        self.kept(false)
    }

    /// The kept records, one per response, in a form that stands for every record inserted:
    /// inserting them into an index, together with any other records, gives the same
    /// responses and kept events as inserting every original record would (only
    /// [`inserted`](Self::inserted) differs). A record kept for a response that was matched by
    /// `message.id` alone has its request id cleared, so that it still matches every copy with
    /// that `message.id`. In no particular order. An incremental reader stores these instead of
    /// every line.
    pub fn into_compact_records(self) -> Vec<Record> {
        self.kept(true)
    }

    /// The kept records; with `compact`, those matched by `message.id` alone lose their
    /// request id.
    fn kept(self, compact: bool) -> Vec<Record> {
        // One record per group but for the rare ones with several request ids, whose others
        // go to `more`: the map from groups to records is collected into the groups' own
        // allocation (no new one of several megabytes to fault in).
        let mut more: Vec<Record> = Vec::new();
        let mut out: Vec<Record> = self
            .groups
            .into_iter()
            .filter_map(|group| match group {
                Group::One(_, record) => Some(record),
                Group::ByRequest(copies) => {
                    let mut copies = copies.into_iter().map(|(_, r)| r);
                    let first = copies.next();
                    more.extend(copies);
                    first
                }
                Group::Merged(mut record) => {
                    if compact && let Some(key) = &mut record.key {
                        key.request_id = None;
                    }
                    Some(record)
                }
            })
            .collect();
        out.append(&mut more);
        out.extend(self.unkeyed.into_iter().map(|event| Record {
            event,
            key: None,
            sidechain: false,
        }));
        // The groups' allocation is larger than the records need (a group is larger than a
        // record, and the groups grew by doubling): what is left over goes back to the
        // allocator, for the next file's reading, instead of being held with the records.
        out.shrink_to_fit();
        out
    }

    /// One event per response, sorted by timestamp and then by [`compare_events`].
    pub fn into_events(self) -> Vec<UsageEvent> {
        let mut events: Vec<UsageEvent> = self.unkeyed;
        events.reserve(self.responses.saturating_sub(events.len()));
        for group in self.groups {
            match group {
                Group::One(_, record) | Group::Merged(record) => events.push(record.event),
                Group::ByRequest(copies) => events.extend(copies.into_iter().map(|(_, r)| r.event)),
            }
        }
        sort_by_event(&mut events, |e| e);
        events
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::event::{Speed, TokenCounts};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn record(
        message: Option<&str>,
        request: Option<&str>,
        sidechain: bool,
        output: u64,
    ) -> Record {
        Record {
            event: UsageEvent {
                timestamp: at("2025-08-30T07:16:28.537Z"),
                model: Arc::from("claude-sonnet-4-5-20250929"),
                tokens: TokenCounts {
                    input: 3,
                    output,
                    cache_creation: 10,
                    cache_read: 100,
                    cache_creation_5m: 10,
                    cache_creation_1h: 0,
                },
                speed: Speed::Standard,
                project: Some(Arc::from("/home/me/work/app")),
                session_id: Some(Arc::from("958555ae-0000")),
            },
            key: message.map(|m| ResponseKey::new(m, request)),
            sidechain,
        }
    }

    fn outputs(dedup: Dedup) -> Vec<u64> {
        let mut v: Vec<u64> = dedup
            .into_events()
            .iter()
            .map(|e| e.tokens.output)
            .collect();
        v.sort_unstable();
        v
    }

    fn all_orders(records: &[Record]) -> Vec<Vec<Record>> {
        // Every rotation plus the reverse order: enough to catch order dependence.
        let mut orders = Vec::new();
        for shift in 0..records.len() {
            let mut v = records.to_vec();
            v.rotate_left(shift);
            orders.push(v.clone());
            v.reverse();
            orders.push(v);
        }
        orders
    }

    fn assert_order_independent(records: &[Record], expected: &[u64]) {
        for order in all_orders(records) {
            let mut dedup = Dedup::new();
            dedup.extend(order.clone());
            assert_eq!(dedup.len(), expected.len());
            // Copies of borrowed records give the same index, record for record, whether all
            // of them or after some owned ones.
            for cut in 0..=order.len() {
                let mut cloned = Dedup::new();
                cloned.extend(order[..cut].to_vec());
                cloned.extend_cloned(&order[cut..]);
                assert_eq!(cloned.inserted(), dedup.inserted());
                assert_eq!(cloned.len(), dedup.len());
                assert_eq!(cloned.clone().into_records(), dedup.clone().into_records());
            }
            assert_eq!(outputs(dedup), expected);
            // Split in two indexes and merged gives the same.
            for cut in 0..=order.len() {
                let mut a = Dedup::new();
                let mut b = Dedup::new();
                a.extend(order[..cut].to_vec());
                b.extend(order[cut..].to_vec());
                a.merge(b);
                assert_eq!(a.len(), expected.len());
                assert_eq!(a.inserted(), order.len() as u64);
                assert_eq!(outputs(a), expected);
                // Either half replaced by its compact records gives the same.
                for compact_first in [true, false] {
                    let (compacted, rest) = if compact_first {
                        (&order[..cut], &order[cut..])
                    } else {
                        (&order[cut..], &order[..cut])
                    };
                    let mut part = Dedup::new();
                    part.extend(compacted.to_vec());
                    let mut whole = Dedup::new();
                    whole.extend(part.into_compact_records());
                    whole.extend(rest.to_vec());
                    assert_eq!(whole.len(), expected.len());
                    assert_eq!(outputs(whole), expected);
                }
            }
        }
    }

    #[test]
    fn streaming_copies_keep_the_larger_total() {
        let records = [
            record(Some("msg_1"), Some("req_1"), false, 1),
            record(Some("msg_1"), Some("req_1"), false, 250),
            record(Some("msg_1"), Some("req_1"), false, 40),
        ];
        assert_order_independent(&records, &[250]);
    }

    #[test]
    fn distinct_requests_are_distinct_responses() {
        let records = [
            record(Some("msg_1"), Some("req_1"), false, 5),
            record(Some("msg_2"), Some("req_2"), false, 6),
            record(Some("msg_1"), Some("req_9"), false, 7),
        ];
        assert_order_independent(&records, &[5, 6, 7]);
    }

    #[test]
    fn sidechain_copy_loses_even_when_larger() {
        let records = [
            record(Some("msg_1"), Some("req_1"), false, 5),
            record(Some("msg_1"), Some("req_side"), true, 500),
        ];
        assert_order_independent(&records, &[5]);
    }

    #[test]
    fn sidechain_only_copies_collapse() {
        let records = [
            record(Some("msg_1"), Some("req_a"), true, 5),
            record(Some("msg_1"), Some("req_b"), true, 8),
        ];
        assert_order_independent(&records, &[8]);
    }

    #[test]
    fn missing_request_id_matches_by_message_id() {
        let records = [
            record(Some("msg_1"), None, false, 5),
            record(Some("msg_1"), None, false, 9),
            record(Some("msg_1"), Some("req_1"), false, 7),
        ];
        assert_order_independent(&records, &[9]);
    }

    #[test]
    fn each_request_id_keeps_its_best_copy() {
        let records = [
            record(Some("msg_1"), Some("req_1"), false, 5),
            record(Some("msg_1"), Some("req_2"), false, 6),
            record(Some("msg_1"), Some("req_1"), false, 9),
            record(Some("msg_1"), Some("req_2"), false, 2),
        ];
        assert_order_independent(&records, &[6, 9]);
    }

    /// A borrowed record is copied only when the index keeps it: a copy that loses to the
    /// one held leaves no clone behind (its model's count of owners is back where it was),
    /// one that wins is held.
    #[test]
    fn borrowed_records_are_copied_only_when_kept() {
        let held = record(Some("msg_1"), Some("req_1"), false, 9);
        let losers = [
            // Same request, smaller total.
            record(Some("msg_1"), Some("req_1"), false, 5),
            // A sidechain copy: it merges the group, and the held copy stays the best.
            record(Some("msg_1"), Some("req_2"), true, 500),
        ];
        let mut dedup = Dedup::new();
        dedup.insert(held);
        for loser in &losers {
            let owners = Arc::strong_count(&loser.event.model);
            dedup.extend_cloned(std::slice::from_ref(loser));
            assert_eq!(Arc::strong_count(&loser.event.model), owners);
        }
        let winner = record(Some("msg_1"), Some("req_1"), false, 50);
        let owners = Arc::strong_count(&winner.event.model);
        dedup.extend_cloned(std::slice::from_ref(&winner));
        assert_eq!(Arc::strong_count(&winner.event.model), owners + 1);
        assert_eq!(dedup.inserted(), 4);
        assert_eq!(outputs(dedup), [50]);
    }

    #[test]
    fn a_weak_copy_joins_several_request_ids() {
        let records = [
            record(Some("msg_1"), Some("req_1"), false, 5),
            record(Some("msg_1"), Some("req_2"), false, 6),
            record(Some("msg_1"), Some("req_3"), true, 1),
        ];
        assert_order_independent(&records, &[6]);
    }

    #[test]
    fn lines_without_message_id_are_each_counted() {
        let records = [
            record(None, Some("req_1"), false, 5),
            record(None, Some("req_1"), false, 5),
            record(Some("msg_1"), Some("req_1"), false, 5),
        ];
        assert_order_independent(&records, &[5, 5, 5]);
    }

    #[test]
    fn ties_are_broken_by_timestamp_then_fields() {
        let mut early = record(Some("msg_1"), Some("req_1"), false, 5);
        early.event.timestamp = at("2025-08-30T07:16:28.000Z");
        let mut late = record(Some("msg_1"), Some("req_1"), false, 5);
        late.event.model = Arc::from("a-model-that-sorts-first");
        for order in [[early.clone(), late.clone()], [late.clone(), early.clone()]] {
            let mut dedup = Dedup::new();
            dedup.extend(order);
            let events = dedup.into_events();
            assert_eq!(events, vec![early.event.clone()]);
        }
    }

    #[test]
    fn sorting_by_event_is_sorting_by_the_whole_comparison() {
        // Few instants, models and counts: long runs of equal instants that only the other
        // fields order, and events equal in everything.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let models: [Arc<str>; 3] = [Arc::from("opus"), Arc::from("sonnet"), Arc::from("haiku")];
        let events: Vec<UsageEvent> = (0..600)
            .map(|_| {
                let mut r = record(Some("msg"), None, false, next(4));
                let e = &mut r.event;
                e.timestamp += chrono::Duration::milliseconds(next(6) as i64 * 250 - 500);
                e.model = Arc::clone(&models[next(3) as usize]);
                e.tokens.input = next(3);
                if next(2) == 0 {
                    e.session_id = None;
                }
                r.event
            })
            .collect();
        let mut expected = events.clone();
        expected.sort_by(compare_events);
        let mut sorted = events.clone();
        sort_by_event(&mut sorted, |e| e);
        assert_eq!(sorted, expected);
        // Items around the events, as the kept records are sorted.
        let mut wrapped: Vec<(u32, UsageEvent)> = events
            .iter()
            .cloned()
            .zip(0..)
            .map(|(e, i)| (i, e))
            .collect();
        // Items with equal events keep their order: as a stable sort leaves them.
        let mut stable = wrapped.clone();
        stable.sort_by(|a, b| compare_events(&a.1, &b.1));
        sort_by_event(&mut wrapped, |(_, e)| e);
        assert_eq!(wrapped, stable);
        let unwrapped: Vec<UsageEvent> = wrapped.into_iter().map(|(_, e)| e).collect();
        assert_eq!(unwrapped, expected);
        // The same order as positions, each once.
        let order = event_order(&events, |e| e);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..events.len() as u32).collect::<Vec<_>>());
        let in_order: Vec<UsageEvent> = order.iter().map(|&i| events[i as usize].clone()).collect();
        assert_eq!(in_order, expected);
    }

    #[test]
    fn counts_duplicates() {
        let mut dedup = Dedup::new();
        assert!(dedup.is_empty());
        dedup.insert(record(Some("msg_1"), Some("req_1"), false, 1));
        dedup.insert(record(Some("msg_1"), Some("req_1"), false, 2));
        dedup.insert(record(Some("msg_2"), Some("req_2"), false, 2));
        assert_eq!(dedup.len(), 2);
        assert_eq!(dedup.inserted(), 3);
        assert_eq!(dedup.duplicates(), 1);
        assert_eq!(dedup.into_records().len(), 2);
    }
}
