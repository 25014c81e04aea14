//! Keeping check output within a check's `OutputMaxSize`, with notes saying how much was cut.

/// Collects a stream of output, keeping only its last `capacity` bytes while counting them all.
pub(crate) struct TailBuffer {
    kept: Vec<u8>,
    capacity: usize,
    total: usize,
}

impl TailBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        TailBuffer {
            kept: Vec::new(),
            capacity,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len();
        self.kept.extend_from_slice(chunk);
        if self.kept.len() > self.capacity {
            let excess = self.kept.len() - self.capacity;
            self.kept.drain(..excess);
        }
    }

    /// The kept bytes as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }

    /// The kept bytes as text, headed by a note when earlier output was dropped.
    pub(crate) fn text_with_note(&self) -> String {
        if self.total <= self.kept.len() {
            return self.text();
        }
        format!(
            "Captured {} of {} bytes\n...\n{}",
            self.kept.len(),
            self.total,
            self.text()
        )
    }
}

/// Cuts `output` to its first `max` bytes (at a character boundary), noting how much was kept.
pub(crate) fn truncate_head(output: &str, max: usize) -> String {
    if output.len() <= max {
        return output.to_string();
    }
    let end = (0..=max)
        .rev()
        .find(|&index| output.is_char_boundary(index))
        .unwrap_or(0);
    format!(
        "{} ... (captured {} of {} bytes)",
        &output[..end],
        end,
        output.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_buffer_keeps_the_end_and_notes_the_cut() {
        let mut buffer = TailBuffer::new(4);
        buffer.push(b"ab");
        assert_eq!(buffer.text_with_note(), "ab");
        buffer.push(b"cdef");
        assert_eq!(buffer.text(), "cdef");
        assert_eq!(buffer.text_with_note(), "Captured 4 of 6 bytes\n...\ncdef");
    }

    #[test]
    fn truncate_head_respects_char_boundaries() {
        assert_eq!(truncate_head("short", 10), "short");
        assert_eq!(truncate_head("héllo", 2), "h ... (captured 1 of 6 bytes)");
    }
}
