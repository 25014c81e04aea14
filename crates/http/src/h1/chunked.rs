//! Decodes a `Transfer-Encoding: chunked` request body incrementally, as its bytes arrive:
//! chunk sizes (with extensions), chunk data, and the trailer section, which is discarded.
//!
//! The framing is read strictly (RFC 9112 §7.1), since a lenient reading that a proxy in front
//! does not share is what request smuggling is made of: every line ends in CRLF (a bare LF or
//! CR is an error, unlike in the request head), a chunk size has at least one hex digit,
//! chunk extensions and trailer fields must match their grammar. The decoder keeps its place
//! within a line between calls, so each byte is examined once however the body is split into
//! reads.

use bytes::{Buf, BytesMut};

/// The longest chunk-size line accepted, extensions included.
const MAX_SIZE_LINE: usize = 4 * 1024;

/// The most chunk-extension bytes accepted over a whole body (they are ignored, and nobody
/// sends them; hyper has the same bound).
const MAX_EXTENSIONS: usize = 16 * 1024;

/// The longest trailer section accepted.
const MAX_TRAILERS_LEN: usize = 64 * 1024;

/// The most trailer fields accepted.
const MAX_TRAILERS: usize = 32;

/// Why a chunked body was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The chunked framing is malformed.
    #[error("malformed chunked body")]
    Malformed,
    /// The chunk sizes add up to more than the body limit.
    #[error("chunked body over the size limit")]
    TooLarge,
}

/// Where the decoder is within a chunk-size line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizeLine {
    /// Before the first hex digit.
    Start,
    /// Among the size's hex digits.
    Digits,
    /// Whitespace after the size or after an extension.
    Space,
    /// After `;`, before the extension's name.
    NameStart,
    /// In an extension's name.
    Name,
    /// Whitespace after an extension's name.
    NameSpace,
    /// After `=`, before the extension's value.
    ValueStart,
    /// In a token value.
    Token,
    /// In a quoted-string value.
    Quoted,
    /// After a backslash in a quoted-string.
    Escaped,
    /// After the CR that ends the line.
    Cr,
}

/// Where the decoder is within the trailer section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trailer {
    /// At the start of a field line, or of the empty line that ends the section.
    LineStart,
    /// In a field name.
    Name,
    /// In a field value.
    Value,
    /// After the CR that ends a field line.
    ValueCr,
    /// After the CR of the empty line.
    EndCr,
}

/// Where the decoder is within the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a chunk-size line: where, the size so far, and the line's length so far.
    Size(SizeLine, u64, usize),
    /// In chunk data, with this many bytes to go.
    Data(u64),
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// In the trailer section: where, and its length so far.
    Trailers(Trailer, usize),
    Done,
}

/// An incremental chunked-body decoder.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Body bytes still allowed by the limit.
    allowed: u64,
    /// Chunk-extension bytes seen over the whole body.
    extensions: usize,
    /// Trailer fields seen.
    trailers: usize,
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        ChunkedDecoder {
            state: State::Size(SizeLine::Start, 0, 0),
            allowed: limit,
            extensions: 0,
            trailers: 0,
        }
    }

    /// Consumes what it can from `input`, appending chunk data to `output`. Returns whether the
    /// body is complete (bytes after it stay in `input`); `false` means more input is needed.
    pub fn decode(
        &mut self,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> Result<bool, ChunkError> {
        loop {
            if self.state == State::Done {
                return Ok(true);
            }
            if input.is_empty() {
                return Ok(false);
            }
            match self.state {
                State::Data(remaining) => {
                    let take =
                        usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    output.extend_from_slice(&input[..take]);
                    input.advance(take);
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                }
                _ => {
                    let used = self.lines(input)?;
                    input.advance(used);
                }
            }
        }
    }

    /// Steps through line bytes at the front of `input` until the lines end (chunk data is
    /// next, or the body is done) or the input does; returns how many bytes it used.
    fn lines(&mut self, input: &[u8]) -> Result<usize, ChunkError> {
        for (used, &byte) in input.iter().enumerate() {
            self.state = match self.state {
                State::Size(at, size, len) => self.size_line(at, size, len, byte)?,
                State::DataCr if byte == b'\r' => State::DataLf,
                State::DataLf if byte == b'\n' => State::Size(SizeLine::Start, 0, 0),
                State::DataCr | State::DataLf => return Err(ChunkError::Malformed),
                State::Trailers(at, len) => self.trailer(at, len, byte)?,
                State::Data(_) | State::Done => unreachable!("not line states"),
            };
            if matches!(self.state, State::Data(_) | State::Done) {
                return Ok(used + 1);
            }
        }
        Ok(input.len())
    }

    /// The state after `byte` in a chunk-size line (RFC 9112 §7.1, §7.1.1):
    /// `1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ) BWS CRLF`.
    fn size_line(
        &mut self,
        at: SizeLine,
        size: u64,
        len: usize,
        byte: u8,
    ) -> Result<State, ChunkError> {
        use SizeLine::*;
        let len = len + 1;
        if len > MAX_SIZE_LINE {
            return Err(ChunkError::Malformed);
        }
        if matches!(
            at,
            NameStart | Name | NameSpace | ValueStart | Token | Quoted | Escaped
        ) {
            self.extensions += 1;
            if self.extensions > MAX_EXTENSIONS {
                return Err(ChunkError::Malformed);
            }
        }
        let space = byte == b' ' || byte == b'\t';
        let next = match (at, byte) {
            (Start | Digits, _) if byte.is_ascii_hexdigit() => {
                let digit = u64::from(hex_value(byte));
                let size = size
                    .checked_mul(16)
                    .and_then(|size| size.checked_add(digit))
                    .ok_or(ChunkError::Malformed)?;
                return Ok(State::Size(Digits, size, len));
            }
            (Start, _) => return Err(ChunkError::Malformed),
            (Digits | Space | Token | NameSpace | Name, b'\r') => Cr,
            (Digits | Space | Token, _) if space => Space,
            (Digits | Space | Token | Name | NameSpace, b';') => NameStart,
            (NameStart, _) if space => NameStart,
            (NameStart | Name, _) if is_tchar(byte) => Name,
            (Name | NameSpace, _) if space => NameSpace,
            (Name | NameSpace, b'=') => ValueStart,
            (ValueStart, _) if space => ValueStart,
            (ValueStart, b'"') => Quoted,
            (ValueStart | Token, _) if is_tchar(byte) => Token,
            (Quoted, b'"') => Space,
            (Quoted, b'\\') => Escaped,
            (Quoted, _) if is_qdtext(byte) => Quoted,
            (Escaped, _) if space || is_vchar_or_obs(byte) => Quoted,
            (Cr, b'\n') => return self.chunk_start(size),
            _ => return Err(ChunkError::Malformed),
        };
        Ok(State::Size(next, size, len))
    }

    /// The state after a complete chunk-size line for a chunk of `size` bytes.
    fn chunk_start(&mut self, size: u64) -> Result<State, ChunkError> {
        if size == 0 {
            return Ok(State::Trailers(Trailer::LineStart, 0));
        }
        self.allowed = self.allowed.checked_sub(size).ok_or(ChunkError::TooLarge)?;
        Ok(State::Data(size))
    }

    /// The state after `byte` in the trailer section (RFC 9112 §7.1.2):
    /// `*( field-name ":" OWS field-value OWS CRLF ) CRLF`; obs-fold is not allowed.
    fn trailer(&mut self, at: Trailer, len: usize, byte: u8) -> Result<State, ChunkError> {
        use Trailer::*;
        let len = len + 1;
        if len > MAX_TRAILERS_LEN {
            return Err(ChunkError::Malformed);
        }
        let next = match (at, byte) {
            (LineStart, b'\r') => EndCr,
            (LineStart | Name, _) if is_tchar(byte) => Name,
            (Name, b':') => Value,
            (Value, b'\r') => ValueCr,
            (Value, _) if byte == b' ' || byte == b'\t' || is_vchar_or_obs(byte) => Value,
            (ValueCr, b'\n') => {
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err(ChunkError::Malformed);
                }
                LineStart
            }
            (EndCr, b'\n') => return Ok(State::Done),
            _ => return Err(ChunkError::Malformed),
        };
        Ok(State::Trailers(next, len))
    }
}

fn hex_value(byte: u8) -> u8 {
    match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        _ => byte - b'A' + 10,
    }
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A visible ASCII character or obs-text.
fn is_vchar_or_obs(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte) || byte >= 0x80
}

/// A character allowed unescaped in a quoted-string (RFC 9110 §5.6.4).
fn is_qdtext(byte: u8) -> bool {
    byte == b'\t' || byte == b' ' || (is_vchar_or_obs(byte) && byte != b'"' && byte != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `encoded` in pieces of `step` bytes; returns the body and what was left after it.
    fn decode_in_steps(encoded: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), ChunkError> {
        let mut decoder = ChunkedDecoder::new(1 << 20);
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
            b"\r\n\r\n",
            b";x\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"0\r\n\n",
            b"0\r\nX: y\n\r\n",
            b"0\r\n X: y\r\n\r\n",
        ] {
            for step in [1, 3, encoded.len()] {
                assert_eq!(
                    decode_in_steps(encoded, step).unwrap_err(),
                    ChunkError::Malformed,
                    "{encoded:?}"
                );
            }
        }
    }

    #[test]
    fn refuses_chunks_past_the_limit_before_their_data() {
        let mut decoder = ChunkedDecoder::new(10);
        let mut output = BytesMut::new();
        let mut input = BytesMut::from(&b"6\r\nhello!\r\n"[..]);
        assert_eq!(decoder.decode(&mut input, &mut output), Ok(false));
        let mut input = BytesMut::from(&b"5\r\n"[..]);
        assert_eq!(
            decoder.decode(&mut input, &mut output),
            Err(ChunkError::TooLarge)
        );
        let mut huge = BytesMut::from(&b"ffffffffffffffff\r\n"[..]);
        assert_eq!(
            ChunkedDecoder::new(10).decode(&mut huge, &mut output),
            Err(ChunkError::TooLarge)
        );
    }

    #[test]
    fn bounds_extensions_over_the_whole_body() {
        let extension = format!("1;{}\r\nx\r\n", "e".repeat(1000));
        let mut input = BytesMut::from(extension.repeat(17).as_bytes());
        let mut output = BytesMut::new();
        assert_eq!(
            ChunkedDecoder::new(1 << 20).decode(&mut input, &mut output),
            Err(ChunkError::Malformed)
        );
        let long_line = format!("1{}\r\n", " ".repeat(MAX_SIZE_LINE));
        let mut input = BytesMut::from(long_line.as_bytes());
        assert_eq!(
            ChunkedDecoder::new(1 << 20).decode(&mut input, &mut output),
            Err(ChunkError::Malformed)
        );
    }
}
