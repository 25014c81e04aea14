//! Decodes a `Transfer-Encoding: chunked` request body incrementally, as its bytes arrive:
//! chunk sizes (with extensions), chunk data, and the trailer section, which is discarded.

use bytes::{Buf, BytesMut};

/// The longest chunk-size line or trailer section accepted.
const MAX_LINE: usize = 64 * 1024;

/// The most trailer fields accepted.
const MAX_TRAILERS: usize = 32;

/// The chunked body is malformed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body")]
pub struct ChunkError;

/// Where the decoder is within the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// An incremental chunked-body decoder.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder { state: State::Size }
    }

    /// Consumes what it can from `input`, appending chunk data to `output`. Returns whether the
    /// body is complete (bytes after it stay in `input`); `false` means more input is needed.
    pub fn decode(
        &mut self,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> Result<bool, ChunkError> {
        loop {
            let progressed = match self.state {
                State::Size => self.size(input)?,
                State::Data(remaining) => self.data(remaining, input, output),
                State::DataEnd => self.data_end(input)?,
                State::Trailers => self.trailers(input)?,
                State::Done => return Ok(true),
            };
            if !progressed {
                return Ok(false);
            }
        }
    }

    fn size(&mut self, input: &mut BytesMut) -> Result<bool, ChunkError> {
        match httparse::parse_chunk_size(input) {
            Ok(httparse::Status::Complete((used, size))) => {
                input.advance(used);
                self.state = if size == 0 {
                    State::Trailers
                } else {
                    State::Data(size)
                };
                Ok(true)
            }
            Ok(httparse::Status::Partial) if input.len() < MAX_LINE => Ok(false),
            _ => Err(ChunkError),
        }
    }

    fn data(&mut self, remaining: u64, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        if input.is_empty() {
            return false;
        }
        let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        output.extend_from_slice(&input[..take]);
        input.advance(take);
        let left = remaining - take as u64;
        self.state = if left == 0 {
            State::DataEnd
        } else {
            State::Data(left)
        };
        true
    }

    fn data_end(&mut self, input: &mut BytesMut) -> Result<bool, ChunkError> {
        if input.len() < 2 {
            return match input.first() {
                None | Some(b'\r') => Ok(false),
                Some(_) => Err(ChunkError),
            };
        }
        if &input[..2] != b"\r\n" {
            return Err(ChunkError);
        }
        input.advance(2);
        self.state = State::Size;
        Ok(true)
    }

    fn trailers(&mut self, input: &mut BytesMut) -> Result<bool, ChunkError> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_TRAILERS];
        match httparse::parse_headers(input, &mut slots) {
            Ok(httparse::Status::Complete((used, _))) => {
                input.advance(used);
                self.state = State::Done;
                Ok(true)
            }
            Ok(httparse::Status::Partial) if input.len() < MAX_LINE => Ok(false),
            _ => Err(ChunkError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `encoded` in pieces of `step` bytes; returns the body and what was left after it.
    fn decode_in_steps(encoded: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), ChunkError> {
        let mut decoder = ChunkedDecoder::new();
        let mut input = BytesMut::new();
        let mut output = BytesMut::new();
        let mut pieces = encoded.chunks(step);
        loop {
            if decoder.decode(&mut input, &mut output)? {
                let rest: Vec<u8> = pieces.flatten().copied().collect();
                return Ok((output.to_vec(), [&input[..], &rest].concat()));
            }
            match pieces.next() {
                Some(piece) => input.extend_from_slice(piece),
                None => panic!("ran out of input"),
            }
        }
    }

    #[test]
    fn decodes_chunks_fed_at_any_granularity() {
        let encoded = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT";
        for step in 1..=encoded.len() {
            let (body, rest) = decode_in_steps(encoded, step).unwrap();
            assert_eq!(body, b"hello, world", "step {step}");
            assert_eq!(rest, b"NEXT", "step {step}");
        }
    }

    #[test]
    fn decodes_an_empty_body() {
        let (body, rest) = decode_in_steps(b"0\r\n\r\n", 1).unwrap();
        assert!(body.is_empty());
        assert!(rest.is_empty());
    }

    #[test]
    fn decodes_upper_case_hex_sizes() {
        let encoded = [b"A\r\n".as_slice(), &[b'x'; 10], b"\r\n0\r\n\r\n"].concat();
        assert_eq!(decode_in_steps(&encoded, 3).unwrap().0, vec![b'x'; 10]);
    }

    #[test]
    fn refuses_bad_sizes_and_missing_line_ends() {
        for encoded in [
            b"z\r\nhello\r\n0\r\n\r\n".as_slice(),
            b"5\r\nhelloXX0\r\n\r\n",
            b"fffffffffffffffffffff\r\n",
            b"-1\r\n",
        ] {
            assert_eq!(
                decode_in_steps(encoded, 1).unwrap_err(),
                ChunkError,
                "{encoded:?}"
            );
        }
    }
}
