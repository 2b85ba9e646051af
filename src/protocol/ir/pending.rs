//! Blocks that started while another was being streamed, held until their turn.
//!
//! Anthropic and Responses clients expect one content block (output item) at a time, but a
//! Chat upstream interleaves parallel tool calls. The client encoders of both protocols stream
//! the live block and park every other one here with what it received, then send each whole
//! when the live one ends; one queue type keeps their buffering rules identical.

use super::BlockKind;
use std::collections::VecDeque;

/// One parked block: its hub index, kind and everything received for it so far.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingBlock {
    /// The hub block index (from the upstream decoder).
    pub hub: usize,
    /// What kind of block it is.
    pub kind: BlockKind,
    /// Text, thinking or tool arguments received so far.
    pub buf: String,
    /// The thinking signature, once received.
    pub signature: Option<String>,
    /// Whether the upstream already ended the block.
    pub stopped: bool,
}

/// Parked blocks in start order.
#[derive(Debug, Default)]
pub struct PendingBlocks(VecDeque<PendingBlock>);

impl PendingBlocks {
    /// An empty queue.
    pub fn new() -> Self {
        PendingBlocks(VecDeque::new())
    }

    /// Parks a block that just started.
    pub fn push(&mut self, hub: usize, kind: &BlockKind) {
        self.0
            .push_back(PendingBlock { hub, kind: kind.clone(), buf: String::new(), signature: None, stopped: false });
    }

    /// The oldest parked block, which is next to be sent.
    pub fn pop_front(&mut self) -> Option<PendingBlock> {
        self.0.pop_front()
    }

    /// Whether nothing is parked.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first parked block for hub index `hub`, stopped or not.
    pub fn find_mut(&mut self, hub: usize) -> Option<&mut PendingBlock> {
        self.0.iter_mut().find(|p| p.hub == hub)
    }

    /// The parked block for `hub` that the upstream has not ended yet.
    pub fn open_mut(&mut self, hub: usize) -> Option<&mut PendingBlock> {
        self.0.iter_mut().find(|p| p.hub == hub && !p.stopped)
    }

    /// Marks every parked block ended (the upstream finished; they are sent and closed).
    pub fn stop_all(&mut self) {
        for p in self.0.iter_mut() {
            p.stopped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_start_order_and_buffers_per_block() {
        let mut q = PendingBlocks::new();
        assert!(q.is_empty());
        q.push(2, &BlockKind::Text);
        q.push(1, &BlockKind::ToolUse { id: "c".into(), name: "f".into() });
        if let Some(p) = q.find_mut(1) {
            p.buf.push_str("{\"a\":");
        }
        if let Some(p) = q.open_mut(1) {
            p.buf.push_str("1}");
            p.stopped = true;
        }
        assert!(q.open_mut(1).is_none(), "a stopped block is no longer open");
        assert!(q.find_mut(1).is_some_and(|p| p.buf == "{\"a\":1}"));
        q.stop_all();
        let first = q.pop_front();
        assert_eq!(first.as_ref().map(|p| (p.hub, p.stopped)), Some((2, true)));
        assert_eq!(q.pop_front().map(|p| p.hub), Some(1));
        assert!(q.pop_front().is_none());
    }
}
