//! ITU-T G.711 µ-law and A-law companding (decode for telephony input, encode for the
//! `--telephone` channel simulation in `trustline eval voice`).

/// Decodes one µ-law byte to a 16-bit linear sample (ITU-T G.711, bias 0x84).
pub fn mulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes a 16-bit linear sample as µ-law (ITU-T G.711, clip at 32635).
pub fn linear_to_mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let sign: u8 = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    let exponent = (31 - (magnitude as u32).leading_zeros()) as i32 - 7;
    let exponent = exponent.clamp(0, 7);
    let mantissa = ((magnitude >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// Decodes one A-law byte to a 16-bit linear sample (ITU-T G.711, even bits inverted).
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0F);
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        e => ((mantissa << 4) + 0x108) << (e - 1),
    };
    // A-law sign bit set means positive.
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Encodes a 16-bit linear sample as A-law (ITU-T G.711).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 {
        (0x80u8, s)
    } else {
        (0u8, (-s).min(32767))
    };
    let magnitude = magnitude >> 3; // 13-bit
    let byte = if magnitude < 32 {
        sign | (magnitude >> 1) as u8
    } else {
        let exponent = (31 - (magnitude as u32).leading_zeros()) as i32 - 4; // 1..=7
        let exponent = exponent.clamp(1, 7);
        let mantissa = ((magnitude >> exponent) & 0x0F) as u8;
        sign | ((exponent as u8) << 4) | mantissa
    };
    byte ^ 0x55
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_known_values() {
        assert_eq!(mulaw_to_linear(0xFF), 0);
        assert_eq!(mulaw_to_linear(0x7F), 0);
        assert_eq!(mulaw_to_linear(0x00), -32124);
        assert_eq!(mulaw_to_linear(0x80), 32124);
        for b in 0..=255u8 {
            let x = mulaw_to_linear(b);
            // encode(decode(b)) is b, except the two zeros (0x7F and 0xFF)
            let back = linear_to_mulaw(x);
            assert_eq!(mulaw_to_linear(back), x, "byte {b:#x}");
        }
    }

    #[test]
    fn alaw_roundtrip_all_codes() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        for b in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "byte {b:#x}");
        }
    }
}
