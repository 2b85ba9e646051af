//! Block numbering for stream decoders: indices 0,1,2… in start order, and each block stopped
//! exactly once, whatever order the upstream closes them in.

use super::{BlockKind, StreamEvent};

/// Hands out hub block indices and remembers which blocks are still open.
#[derive(Debug, Default, Clone)]
pub struct BlockTracker {
    next: usize,
    open: Vec<usize>,
}

impl BlockTracker {
    /// A tracker with no blocks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a block of `kind`, emitting its `BlockStart`; returns its index.
    pub fn start(&mut self, kind: BlockKind, out: &mut Vec<StreamEvent>) -> usize {
        let index = self.next;
        self.next += 1;
        self.open.push(index);
        out.push(StreamEvent::BlockStart { index, kind });
        index
    }

    /// Stops block `index` if it is open (a second stop is ignored).
    pub fn stop(&mut self, index: usize, out: &mut Vec<StreamEvent>) {
        if let Some(pos) = self.open.iter().position(|i| *i == index) {
            self.open.remove(pos);
            out.push(StreamEvent::BlockStop { index });
        }
    }

    /// Stops every open block, in start order.
    pub fn stop_all(&mut self, out: &mut Vec<StreamEvent>) {
        for index in self.open.drain(..) {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    /// True when block `index` was started and not stopped.
    pub fn is_open(&self, index: usize) -> bool {
        self.open.contains(&index)
    }

    /// How many blocks were started.
    pub fn started(&self) -> usize {
        self.next
    }
}
