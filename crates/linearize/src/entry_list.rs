//! A doubly linked list over numbered nodes whose removals can be undone in reverse order
//! ("dancing links"), so the search can lift operations out and put them back cheaply.

/// The head sentinel; real nodes are numbered from 1.
const HEAD: usize = 0;
/// "No node" marker for the end of the list.
const END: usize = usize::MAX;

/// Nodes `1..=len`, initially linked in increasing order.
#[derive(Debug, Clone)]
pub(crate) struct EntryList {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl EntryList {
    pub(crate) fn new(len: usize) -> Self {
        let next = (0..=len)
            .map(|node| if node == len { END } else { node + 1 })
            .collect();
        let prev = (0..=len)
            .map(|node| node.checked_sub(1).unwrap_or(END))
            .collect();
        Self { next, prev }
    }

    /// The first node still linked, if any.
    pub(crate) fn first(&self) -> Option<usize> {
        self.after(HEAD)
    }

    /// The node linked after `node`. Also valid for an unlinked node, where it names the
    /// node that followed it when it was unlinked.
    pub(crate) fn after(&self, node: usize) -> Option<usize> {
        let next = self.next[node];
        (next != END).then_some(next)
    }

    /// Takes `node` out; its own links are kept so `relink` can restore it.
    pub(crate) fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        if next != END {
            self.prev[next] = prev;
        }
    }

    /// Puts back the most recently unlinked node that is still out.
    pub(crate) fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        if next != END {
            self.prev[next] = node;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(list: &EntryList) -> Vec<usize> {
        std::iter::successors(list.first(), |&node| list.after(node)).collect()
    }

    #[test]
    fn unlink_and_relink_in_reverse_order_restores_the_list() {
        let mut list = EntryList::new(5);
        assert_eq!(contents(&list), vec![1, 2, 3, 4, 5]);
        list.unlink(2);
        list.unlink(3);
        list.unlink(5);
        assert_eq!(contents(&list), vec![1, 4]);
        assert_eq!(
            list.after(3),
            Some(4),
            "an unlinked node remembers its successor"
        );
        list.relink(5);
        list.relink(3);
        list.relink(2);
        assert_eq!(contents(&list), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn empty_list_has_no_first() {
        assert_eq!(EntryList::new(0).first(), None);
    }
}
