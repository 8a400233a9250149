//! SECURITY.md I01 for streamed results (`komodo_protocol::result_stream`),
//! the body a client reads from the gateway: any bytes, fed in pieces of
//! any size, are frames or an error, never a panic or a range outside the
//! input. The first byte picks the piece size. The property test
//! `i01_any_bytes_decode_or_fail_cleanly` runs the same check in CI.
#![no_main]

use komodo_protocol::result_stream::{FrameDecoder, Piece};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else { return };
    let mut decoder = FrameDecoder::default();
    for piece in body.chunks(usize::from(step).max(1)) {
        let mut pos = 0;
        loop {
            match decoder.next(piece, &mut pos) {
                Ok(Some(Piece::Arrow(range))) => assert!(range.end <= piece.len()),
                Ok(Some(Piece::Control(..))) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert_eq!(pos, piece.len());
    }
});
