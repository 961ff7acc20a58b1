//! A bounded queue of encoded records in batches of bytes, shared by the audit trail
//! (binary COPY rows) and the tracer (protobuf spans): a record is encoded into the last
//! batch when it is recorded, a writer takes whole batches from the front, and written
//! batches' buffers are kept for the next ones, so a steady stream allocates nothing.

use std::collections::VecDeque;

/// Buffers of written batches kept for reuse.
const SPARE: usize = 2;

/// Records encoded back to back, `records` of them.
pub(crate) struct Batch {
    pub(crate) bytes: Vec<u8>,
    pub(crate) records: usize,
}

#[derive(Default)]
pub(crate) struct Batches {
    batches: VecDeque<Batch>,
    /// Records queued, batches taken and not yet done with included.
    records: usize,
    spare: Vec<Vec<u8>>,
    /// Bytes each batch starts with, left for its writer (a message head written in
    /// place at export, so that the records are never copied).
    prefix: usize,
}

/// What became of a record handed to [`Batches::push`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The queue holds `capacity` records already: dropped.
    Full,
    /// The encoder refused it: dropped, and nothing of it kept.
    Refused,
    /// Queued; `true` when its batch now holds `per_batch` records (time to write).
    Queued(bool),
}

impl Batches {
    /// Batches whose bytes start with `prefix` zeros, before their first record.
    pub(crate) fn with_prefix(prefix: usize) -> Batches {
        Batches {
            prefix,
            ..Batches::default()
        }
    }

    /// Encodes a record into the last batch with room, or a new one; `encode` appends
    /// it to the buffer and says whether it did.
    pub(crate) fn push(
        &mut self,
        capacity: usize,
        per_batch: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> bool,
    ) -> Pushed {
        if self.records >= capacity {
            return Pushed::Full;
        }
        if self.batches.back().is_none_or(|b| b.records >= per_batch) {
            let mut bytes = self.spare.pop().unwrap_or_default();
            bytes.resize(self.prefix, 0);
            self.batches.push_back(Batch { bytes, records: 0 });
        }
        let Some(batch) = self.batches.back_mut() else {
            return Pushed::Refused;
        };
        if !encode(&mut batch.bytes) {
            return Pushed::Refused;
        }
        batch.records += 1;
        self.records += 1;
        Pushed::Queued(batch.records >= per_batch)
    }

    /// The oldest batch, to be written; it still counts until [`Batches::done`].
    pub(crate) fn take(&mut self) -> Option<Batch> {
        self.batches.pop_front()
    }

    /// The oldest batch if it is closed: it holds `per_batch` records, or a newer batch
    /// follows it. The batch still being filled stays, so that a writer kept busy by a
    /// steady stream writes whole batches, not whatever arrived during its last write.
    pub(crate) fn take_full(&mut self, per_batch: usize) -> Option<Batch> {
        let closed =
            self.batches.len() > 1 || self.batches.front().is_some_and(|b| b.records >= per_batch);
        if closed { self.take() } else { None }
    }

    /// A taken batch that could not be written, back at the front (oldest first).
    pub(crate) fn put_back(&mut self, batch: Batch) {
        self.batches.push_front(batch);
    }

    /// A taken batch is written or given up: its records leave the count and its
    /// buffer is kept for a later batch.
    pub(crate) fn done(&mut self, batch: Batch) {
        self.records -= batch.records;
        if self.spare.len() < SPARE {
            let mut bytes = batch.bytes;
            bytes.clear();
            self.spare.push(bytes);
        }
    }

    /// Records queued (taken batches included until done).
    pub(crate) fn len(&self) -> usize {
        self.records
    }

    /// Buffers kept for the next batches.
    #[cfg(test)]
    pub(crate) fn spare(&self) -> usize {
        self.spare.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queues the one-byte record `b`, in batches of two.
    fn push(q: &mut Batches, capacity: usize, b: u8) -> Pushed {
        q.push(capacity, 2, |out| {
            out.push(b);
            true
        })
    }

    #[test]
    fn records_fill_batches_in_order_within_the_bound_and_buffers_come_back() {
        let mut q = Batches::default();
        let push = |q: &mut Batches, b: u8| push(q, 4, b);
        assert_eq!(push(&mut q, 1), Pushed::Queued(false));
        assert_eq!(push(&mut q, 2), Pushed::Queued(true));
        assert_eq!(push(&mut q, 3), Pushed::Queued(false));
        assert_eq!(q.push(4, 2, |_| false), Pushed::Refused);
        let first = q.take().unwrap();
        assert_eq!((first.bytes.as_slice(), first.records), (&[1u8, 2][..], 2));
        // Taken, not done: it still counts against the bound.
        assert_eq!(push(&mut q, 4), Pushed::Queued(true));
        assert_eq!(push(&mut q, 5), Pushed::Full);
        assert_eq!(q.len(), 4);
        q.put_back(first);
        let again = q.take().unwrap();
        assert_eq!(again.bytes, [1, 2]);
        let capacity = again.bytes.capacity();
        q.done(again);
        assert_eq!(q.len(), 2);
        let second = q.take().unwrap();
        assert_eq!(second.bytes, [3, 4]);
        q.done(second);
        assert_eq!(q.len(), 0);
        // A new batch starts in a kept buffer.
        assert_eq!(push(&mut q, 6), Pushed::Queued(false));
        let third = q.take().unwrap();
        assert_eq!(third.bytes, [6]);
        assert!(third.bytes.capacity() >= capacity.min(2));
        q.done(third);
    }

    #[test]
    fn every_batch_starts_with_its_prefix() {
        let mut q = Batches::with_prefix(3);
        for b in [1, 2, 3] {
            push(&mut q, 10, b);
        }
        let first = q.take().unwrap();
        assert_eq!(
            (first.bytes.as_slice(), first.records),
            (&[0u8, 0, 0, 1, 2][..], 2)
        );
        q.done(first);
        assert_eq!(q.spare(), 1);
        push(&mut q, 10, 4);
        assert_eq!(q.take().unwrap().bytes, [0, 0, 0, 3, 4]);
        push(&mut q, 10, 5);
        // A kept buffer starts with the prefix too.
        assert_eq!(q.take().unwrap().bytes, [0, 0, 0, 5]);
    }

    #[test]
    fn a_busy_writer_takes_only_closed_batches() {
        let mut q = Batches::default();
        let push = |q: &mut Batches, b: u8| push(q, 100, b);
        assert_eq!(push(&mut q, 1), Pushed::Queued(false));
        assert!(q.take_full(2).is_none(), "[1] is still being filled");
        assert_eq!(push(&mut q, 2), Pushed::Queued(true));
        assert_eq!(push(&mut q, 3), Pushed::Queued(false));
        assert_eq!(q.take_full(2).unwrap().bytes, [1, 2]);
        assert!(q.take_full(2).is_none(), "[3] is still being filled");
        // A batch put back after a failed write is closed whatever it holds.
        let partial = q.take().unwrap();
        assert_eq!(partial.bytes, [3]);
        assert_eq!(push(&mut q, 4), Pushed::Queued(false));
        q.put_back(partial);
        assert_eq!(q.take_full(2).unwrap().bytes, [3]);
        assert!(q.take_full(2).is_none(), "[4] is still being filled");
        assert_eq!(q.take().unwrap().bytes, [4]);
    }
}
