//! Checkpoint and signed-note verifiers (C2SP signed-note / tlog-checkpoint, as `trustline
//! witness` and `audit verify` receive them): arbitrary bytes must parse or be refused, never
//! panic; a verifier key from attacker text must never accept a note it did not sign; and a
//! note the log signs round-trips, while any change to it is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustline::crypto::note::{Note, VerifierKey};
use trustline::ledger::checkpoint::{self, Checkpoint};

const SEED: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    let signer = checkpoint::log_signer(&SEED, "fuzz.example/log").expect("valid origin");
    // Arbitrary input as a signed checkpoint: never accepted under our key (we did not sign it,
    // unless the input is a note we produced below, which random bytes are not).
    if let Ok(parsed) = checkpoint::parse(data) {
        // What parses re-encodes to something that parses to the same thing.
        let again = Note::parse(parsed.note.encode().as_bytes()).expect("re-encoded note parses");
        assert_eq!(again, parsed.note);
        assert_eq!(
            Checkpoint::from_text(&parsed.checkpoint.text()).expect("body round-trips"),
            parsed.checkpoint
        );
        let _ = checkpoint::verify(data, signer.verifier());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = VerifierKey::parse(text) {
            let _ = key.encode();
        }
    }
    // Differential: a checkpoint we sign verifies; one flipped byte of the note does not.
    if data.len() < 34 {
        return;
    }
    let mut root = [0u8; 32];
    root.copy_from_slice(&data[2..34]);
    let cp = Checkpoint {
        origin: "fuzz.example/log".into(),
        size: u64::from(data[0]) * 1000 + u64::from(data[1]),
        root,
        extensions: vec![],
    };
    let encoded = checkpoint::sign(&signer, &cp).encode().into_bytes();
    let ok = checkpoint::verify(&encoded, signer.verifier()).expect("our own checkpoint verifies");
    assert_eq!(ok.checkpoint, cp);
    let mut bad = encoded.clone();
    let at = usize::from(data[1]) % bad.len();
    bad[at] ^= 1 << (data[0] % 8);
    assert!(checkpoint::verify(&bad, signer.verifier()).is_err());
});
