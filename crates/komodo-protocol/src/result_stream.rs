//! Streamed results: the gateway's one extension to Snowflake's protocol,
//! for this project's own clients.
//!
//! Snowflake's query response lists every chunk of a result with its row
//! count, so it can only be sent once the statement has finished. A client
//! that sets the statement parameter [`RESULT_STREAM`] to `true` (with
//! `QUERY_RESULT_FORMAT: "ARROW"`, a synchronous statement and at most one
//! set of bindings) is answered as soon as the statement is planned, with
//! the content type [`CONTENT_TYPE`] and a body of frames that carries the
//! rows while the warehouse still produces them:
//!
//! ```text
//! frame = kind (1 byte) · payload length (u32, little endian) · payload
//! ```
//!
//! | kind | payload |
//! |---|---|
//! | [`Kind::Head`] | JSON: the query response without rows (`queryId`, `rowtype`, `statementTypeId`, ...) |
//! | [`Kind::Arrow`] | the next bytes of one Arrow IPC stream (schema message first), split anywhere |
//! | [`Kind::End`] | JSON [`StreamEnd`]: the row count and the session's context afterwards |
//! | [`Kind::Error`] | JSON [`StreamError`]: the statement failed after its first rows |
//!
//! One `Head` comes first, then `Arrow` frames, then exactly one `End` or
//! `Error`; a body that stops before either is truncated, never a short
//! result. Errors found before the statement starts (a compilation error,
//! say) are ordinary error envelopes, as is any answer from a gateway
//! that does not stream: a client falls back to the ordinary response.
//! A streamed result is not kept on the platform (no `result_scan`).
//!
//! ```
//! use komodo_protocol::result_stream::{FrameDecoder, Kind, Piece, frame_header};
//!
//! let mut body = frame_header(Kind::Head, 2).to_vec();
//! body.extend_from_slice(b"{}");
//! body.extend_from_slice(&frame_header(Kind::Arrow, 3));
//! body.extend_from_slice(b"abc");
//!
//! let mut decoder = FrameDecoder::default();
//! let mut pos = 0;
//! let mut pieces = Vec::new();
//! while let Some(piece) = decoder.next(&body, &mut pos).unwrap() {
//!     pieces.push(piece);
//! }
//! assert_eq!(pieces, [Piece::Control(Kind::Head, b"{}".to_vec()), Piece::Arrow(12..15)]);
//! ```

use serde::{Deserialize, Serialize};

/// The statement parameter that asks for a streamed result.
pub const RESULT_STREAM: &str = "KOMODO_RESULT_STREAM";

/// The content type of a streamed result.
pub const CONTENT_TYPE: &str = "application/vnd.komodo.result-stream";

/// Bytes before each frame's payload.
pub const FRAME_HEADER_LEN: usize = 5;

/// The largest `Head`, `End` or `Error` payload a decoder accepts (a
/// response without rows is small; this bounds what a bad peer can make a
/// client hold).
pub const MAX_CONTROL_FRAME: usize = 16 << 20;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The query response without rows.
    Head = 1,
    /// Bytes of the Arrow IPC stream.
    Arrow = 2,
    /// The result is complete.
    End = 3,
    /// The statement failed.
    Error = 4,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Head),
            2 => Some(Kind::Arrow),
            3 => Some(Kind::End),
            4 => Some(Kind::Error),
            _ => None,
        }
    }
}

/// The header of a frame of `kind` with `len` payload bytes.
pub fn frame_header(kind: Kind, len: u32) -> [u8; FRAME_HEADER_LEN] {
    let [a, b, c, d] = len.to_le_bytes();
    [kind as u8, a, b, c, d]
}

/// The payload of the `End` frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamEnd {
    /// Rows sent in the Arrow frames.
    pub total: u64,
    /// The session's database after the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_database_name: Option<String>,
    /// The session's schema after the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_schema_name: Option<String>,
}

/// The payload of the `Error` frame: what an error envelope would carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamError {
    /// Snowflake's error code.
    pub code: String,
    /// The message.
    pub message: String,
    /// SQLSTATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
    /// The statement's query id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
}

/// One thing a [`FrameDecoder`] found in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes `range` of the input given to [`FrameDecoder::next`] belong to
    /// the Arrow IPC stream (handed out as they arrive, never gathered).
    Arrow(std::ops::Range<usize>),
    /// A whole `Head`, `End` or `Error` payload.
    Control(Kind, Vec<u8>),
}

/// A body that is not a result stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a result stream: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// Splits a result stream into [`Piece`]s, fed with the body as it
/// arrives, in pieces of any size.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    header: [u8; FRAME_HEADER_LEN],
    header_len: usize,
    /// The frame being read, and its payload bytes still to come.
    current: Option<(Kind, usize)>,
    control: Vec<u8>,
    frames: u64,
    ended: bool,
}

impl FrameDecoder {
    /// Whether the last frame (`End` or `Error`) has been read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Bytes of the current `Arrow` frame still to come after the last
    /// [`Piece::Arrow`] handed out (0 when that piece ended its frame): a
    /// reader can gather a frame whole with one allocation of its size.
    pub fn arrow_remaining(&self) -> usize {
        match self.current {
            Some((Kind::Arrow, remaining)) => remaining,
            _ => 0,
        }
    }

    /// Whether the body so far ends between frames.
    pub fn at_frame_boundary(&self) -> bool {
        self.current.is_none() && self.header_len == 0
    }

    /// The next piece of `input` from `*pos` on (advancing `*pos`), or
    /// `None` when `input` holds nothing more to hand out.
    pub fn next(&mut self, input: &[u8], pos: &mut usize) -> Result<Option<Piece>, FrameError> {
        loop {
            if let Some((kind, remaining)) = self.current {
                if remaining == 0 {
                    self.current = None;
                    if kind != Kind::Arrow {
                        return Ok(Some(Piece::Control(kind, std::mem::take(&mut self.control))));
                    }
                    continue;
                }
                let available = input.len() - *pos;
                if available == 0 {
                    return Ok(None);
                }
                let take = remaining.min(available);
                let range = *pos..*pos + take;
                *pos += take;
                self.current = Some((kind, remaining - take));
                if kind == Kind::Arrow {
                    return Ok(Some(Piece::Arrow(range)));
                }
                self.control.extend_from_slice(&input[range]);
                continue;
            }
            if *pos >= input.len() {
                return Ok(None);
            }
            if self.ended {
                return Err(FrameError("bytes follow the last frame".into()));
            }
            let take = (FRAME_HEADER_LEN - self.header_len).min(input.len() - *pos);
            self.header[self.header_len..self.header_len + take].copy_from_slice(&input[*pos..*pos + take]);
            self.header_len += take;
            *pos += take;
            if self.header_len < FRAME_HEADER_LEN {
                return Ok(None);
            }
            self.header_len = 0;
            let kind = Kind::from_byte(self.header[0])
                .ok_or_else(|| FrameError(format!("unknown frame kind {}", self.header[0])))?;
            let len = u32::from_le_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]) as usize;
            match (self.frames, kind) {
                (0, Kind::Head) | (1.., Kind::Arrow | Kind::End | Kind::Error) => {}
                (0, _) => return Err(FrameError("the first frame is not the head".into())),
                (_, Kind::Head) => return Err(FrameError("a second head frame".into())),
            }
            if kind != Kind::Arrow && len > MAX_CONTROL_FRAME {
                return Err(FrameError(format!("a {len}-byte control frame")));
            }
            self.frames += 1;
            self.ended = matches!(kind, Kind::End | Kind::Error);
            self.control.clear();
            self.current = Some((kind, len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
        let mut out = frame_header(kind, payload.len() as u32).to_vec();
        out.extend_from_slice(payload);
        out
    }

    fn body() -> Vec<u8> {
        let mut body = frame(Kind::Head, br#"{"queryId":"q"}"#);
        body.extend(frame(Kind::Arrow, b"0123456789"));
        body.extend(frame(Kind::Arrow, b""));
        body.extend(frame(Kind::Arrow, b"abcdef"));
        body.extend(frame(Kind::End, br#"{"total":3}"#));
        body
    }

    /// The control payloads, the Arrow bytes in order, and whether the
    /// body was complete.
    type Decoded = (Vec<(Kind, Vec<u8>)>, Vec<u8>, bool);

    /// Decodes `body` fed in pieces of `step` bytes.
    fn decode(body: &[u8], step: usize) -> Result<Decoded, FrameError> {
        let mut decoder = FrameDecoder::default();
        let (mut controls, mut arrow) = (Vec::new(), Vec::new());
        for piece in body.chunks(step) {
            let mut pos = 0;
            while let Some(p) = decoder.next(piece, &mut pos)? {
                match p {
                    Piece::Arrow(range) => {
                        arrow.extend_from_slice(&piece[range]);
                        if arrow.len() == 10 || arrow.len() == 16 {
                            assert_eq!(decoder.arrow_remaining(), 0, "a frame ends with its last piece");
                        } else {
                            assert!(decoder.arrow_remaining() > 0, "more of the frame is to come");
                        }
                    }
                    Piece::Control(kind, payload) => controls.push((kind, payload)),
                }
            }
            assert_eq!(pos, piece.len(), "every byte given is consumed");
        }
        Ok((controls, arrow, decoder.ended() && decoder.at_frame_boundary()))
    }

    #[test]
    fn any_split_of_the_body_decodes_to_the_same_pieces() {
        let body = body();
        let whole = decode(&body, body.len()).unwrap();
        assert_eq!(whole.1, b"0123456789abcdef");
        assert_eq!(whole.0[0], (Kind::Head, br#"{"queryId":"q"}"#.to_vec()));
        assert_eq!(whole.0[1], (Kind::End, br#"{"total":3}"#.to_vec()));
        assert!(whole.2, "the body ends after its last frame");
        for step in 1..body.len() {
            assert_eq!(decode(&body, step).unwrap(), whole, "fed {step} bytes at a time");
        }
    }

    #[test]
    fn a_truncated_body_is_not_complete() {
        let body = body();
        for cut in 0..body.len() {
            let (_, _, complete) = decode(&body[..cut], 7).unwrap();
            assert!(!complete, "cut at {cut}");
        }
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(decode(&frame(Kind::Arrow, b"x"), 64).is_err(), "no head first");
        let mut two_heads = frame(Kind::Head, b"{}");
        two_heads.extend(frame(Kind::Head, b"{}"));
        assert!(decode(&two_heads, 64).is_err());
        let mut unknown = frame(Kind::Head, b"{}");
        unknown.extend([9, 0, 0, 0, 0]);
        assert!(decode(&unknown, 64).is_err());
        let mut after_end = frame(Kind::Head, b"{}");
        after_end.extend(frame(Kind::End, b"{}"));
        after_end.push(2);
        assert!(decode(&after_end, 64).is_err());
        let huge = frame_header(Kind::Head, (MAX_CONTROL_FRAME + 1) as u32);
        assert!(decode(&huge, 64).is_err(), "an oversized control frame is refused before it is read");
    }

    proptest::proptest! {
        /// SECURITY.md I01: whatever a peer sends, the decoder answers with
        /// pieces or an error, consumes what it is given, and never hands
        /// out a range outside its input.
        #[test]
        fn i01_any_bytes_decode_or_fail_cleanly(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            step in 1usize..64,
        ) {
            let mut decoder = FrameDecoder::default();
            'feed: for piece in body.chunks(step) {
                let mut pos = 0;
                loop {
                    match decoder.next(piece, &mut pos) {
                        Ok(Some(Piece::Arrow(range))) => proptest::prop_assert!(range.end <= piece.len()),
                        Ok(Some(Piece::Control(_, payload))) => proptest::prop_assert!(payload.len() <= MAX_CONTROL_FRAME),
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
                proptest::prop_assert_eq!(pos, piece.len());
            }
        }
    }
}
