//! Audio decoders: WAV (lying headers, odd rates, stereo), G.711 µ-law / A-law, s16le at 8 and
//! 16 kHz, then resampling and the level checks. Any input must end in `Ok` or an `AudioError`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustline::biometrics::audio::{self, AudioEncoding};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let encoding = match selector % 5 {
        0 => AudioEncoding::Wav,
        1 => AudioEncoding::Mulaw,
        2 => AudioEncoding::Alaw,
        3 => AudioEncoding::S16le8k,
        _ => AudioEncoding::S16le16k,
    };
    if let Ok(utterance) = audio::decode_with(bytes, encoding, selector & 0x80 == 0) {
        assert!(utterance.samples.iter().all(|s| s.is_finite()));
    }
});
