//! FF1 (NIST SP 800-38G) over decimal digits with machine integers, for the lengths derived
//! surrogates use.
//!
//! The `fpe` crate implements FF1 for any radix and length with big integers; that costs
//! a few microseconds per call, most of a pseudonymized card's time. For 6 to 38 decimal
//! digits every quantity of the algorithm fits a machine word: each half holds at most 19
//! digits (below 2^64), `b` is at most 8 bytes, `d` at most 12, so `y` is below 2^96 and
//! `NUM(A) + y` below 2^97 (a `u128`). The CBC-MAC over `P || T || 0^pad` is the same in
//! all ten rounds, so it is computed once per call; each round then costs one AES block.
//! The output is FF1's: the NIST samples and `fpe` on random inputs check it
//! (`tests` below). Every format with a derived surrogate has 6 to 38 digits to encipher
//! (a card's middle, an SSN, a phone's last seven, an IBAN's BBAN digits); other lengths
//! are refused, and the value gets a token.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::Aes256;

/// The shortest numeral string FF1 allows in radix 10 (a domain of at least a million).
const MIN_DIGITS: usize = 6;
/// The longest numeral string this implementation takes (halves of at most 19 digits).
const MAX_DIGITS: usize = 38;

/// FF1 with AES-256 over radix 10, for [`MIN_DIGITS`] to [`MAX_DIGITS`] digits.
pub(crate) struct DecimalFf1 {
    aes: Aes256,
}

impl DecimalFf1 {
    /// The cipher under `key`.
    pub(crate) fn new(key: &[u8; 32]) -> DecimalFf1 {
        DecimalFf1 {
            aes: Aes256::new(&(*key).into()),
        }
    }

    /// FF1.Encrypt of `digits` (values 0..=9) under `tweak`; `None` for a length outside
    /// [`MIN_DIGITS`]..=[`MAX_DIGITS`] or a value above 9.
    pub(crate) fn encrypt(&self, tweak: &[u8], digits: &[u8]) -> Option<Vec<u8>> {
        self.crypt(tweak, digits, true)
    }

    /// FF1.Decrypt, as [`DecimalFf1::encrypt`].
    pub(crate) fn decrypt(&self, tweak: &[u8], digits: &[u8]) -> Option<Vec<u8>> {
        self.crypt(tweak, digits, false)
    }

    fn block(&self, mut block: [u8; 16]) -> [u8; 16] {
        let mut b = block.into();
        self.aes.encrypt_block(&mut b);
        block.copy_from_slice(&b);
        block
    }

    #[allow(clippy::many_single_char_names)] // reason: the standard's names
    fn crypt(&self, tweak: &[u8], x: &[u8], forward: bool) -> Option<Vec<u8>> {
        let n = x.len();
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&n) || x.iter().any(|&d| d > 9) {
            return None;
        }
        let t = tweak.len();
        // 1-4. u, v; b = ceil(ceil(v log2 10) / 8); d = 4 ceil(b / 4) + 4.
        let u = n / 2;
        let v = n - u;
        let b = (v as f64 * std::f64::consts::LOG2_10 / 8.0).ceil() as usize;
        let d = 4 * b.div_ceil(4) + 4;
        // 5. P = [1, 2, 1] || [radix]^3 || [10] || [u mod 256] || [n]^4 || [t]^4.
        let mut p = [0u8; 16];
        p[..8].copy_from_slice(&[1, 2, 1, 0, 0, 10, 10, (u % 256) as u8]);
        p[8..12].copy_from_slice(&u32::try_from(n).ok()?.to_be_bytes());
        p[12..16].copy_from_slice(&u32::try_from(t).ok()?.to_be_bytes());
        // Q = T || 0^pad || [i] || [NUM(B)]^b, a whole number of blocks. The CBC-MAC state
        // after P and Q's blocks before the last is the same in every round; the last block
        // is the rest of T || 0^pad, then [i] and NUM(B).
        let pad = (16 - (t + b + 1) % 16) % 16;
        let mut fixed = Vec::with_capacity(t + pad);
        fixed.extend_from_slice(tweak);
        fixed.resize(t + pad, 0);
        let head = fixed.len() + 1 + b - 16;
        let mut state = self.block(p);
        for chunk in fixed[..head].chunks_exact(16) {
            let mut block = state;
            block.iter_mut().zip(chunk).for_each(|(s, c)| *s ^= c);
            state = self.block(block);
        }
        let tail = &fixed[head..];
        let round = |i: u8, num_b: u64| -> u128 {
            let mut block = [0u8; 16];
            block[..tail.len()].copy_from_slice(tail);
            block[tail.len()] = i;
            block[16 - b..].copy_from_slice(&num_b.to_be_bytes()[8 - b..]);
            block.iter_mut().zip(&state).for_each(|(q, s)| *q ^= s);
            // S is R's first d bytes (d <= 12 < 16: no further blocks); y = NUM(S).
            let r = self.block(block);
            r[..d]
                .iter()
                .fold(0u128, |y, &byte| y << 8 | u128::from(byte))
        };
        let pow = |m: usize| 10u64.pow(u32::try_from(m).unwrap_or(0));
        let (mut a, mut bb) = (num(&x[..u]), num(&x[u..]));
        if forward {
            for i in 0..10u8 {
                let m = if i % 2 == 0 { u } else { v };
                let y = round(i, bb);
                let c = ((u128::from(a) + y) % u128::from(pow(m))) as u64;
                a = bb;
                bb = c;
            }
        } else {
            for i in (0..10u8).rev() {
                let m = if i % 2 == 0 { u } else { v };
                let y = round(i, a);
                let modulus = u128::from(pow(m));
                let c = ((u128::from(bb) + modulus - y % modulus) % modulus) as u64;
                bb = a;
                a = c;
            }
        }
        let mut out = Vec::with_capacity(n);
        push_digits(a, u, &mut out);
        push_digits(bb, v, &mut out);
        Some(out)
    }
}

/// NUM_10(X): the number whose decimal digits are `x`, most significant first.
fn num(x: &[u8]) -> u64 {
    x.iter().fold(0, |acc, &d| acc * 10 + u64::from(d))
}

/// STR_10^m(value): its last `m` decimal digits, most significant first.
fn push_digits(mut value: u64, m: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + m, 0);
    for slot in out[start..].iter_mut().rev() {
        *slot = (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fpe::ff1::{FlexibleNumeralString, FF1};

    const KEY: [u8; 32] = [
        0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F,
        0x3C, 0xEF, 0x43, 0x59, 0xD8, 0xD5, 0x80, 0xAA, 0x4F, 0x7F, 0x03, 0x6D, 0x6F, 0x04, 0xFC,
        0x6A, 0x94,
    ];

    #[test]
    fn the_nist_aes_256_radix_10_samples_encrypt_and_decrypt() {
        // NIST SP 800-38G FF1 samples 7 and 8.
        let f = DecimalFf1::new(&KEY);
        let pt = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let samples: [(&[u8], [u8; 10]); 2] = [
            (b"", [6, 6, 5, 7, 6, 6, 7, 0, 0, 9]),
            (b"9876543210", [1, 0, 0, 1, 6, 2, 3, 4, 6, 3]),
        ];
        for (tweak, ct) in samples {
            assert_eq!(f.encrypt(tweak, &pt).as_deref(), Some(&ct[..]));
            assert_eq!(f.decrypt(tweak, &ct).as_deref(), Some(&pt[..]));
        }
    }

    #[test]
    fn it_agrees_with_the_fpe_crate_on_random_inputs() {
        let reference = |key: &[u8; 32], tweak: &[u8], x: &[u8], forward: bool| {
            let ff1 = FF1::<Aes256>::new(key, 10).expect("radix 10");
            let ns =
                FlexibleNumeralString::from(x.iter().map(|&d| u16::from(d)).collect::<Vec<_>>());
            let out = if forward {
                ff1.encrypt(tweak, &ns)
            } else {
                ff1.decrypt(tweak, &ns)
            }
            .expect("valid");
            Vec::<u16>::from(out)
                .into_iter()
                .map(|d| u8::try_from(d).expect("a digit"))
                .collect::<Vec<u8>>()
        };
        // A fixed xorshift stream: the same cases every run.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..400 {
            let key: [u8; 32] = std::array::from_fn(|_| next() as u8);
            let f = DecimalFf1::new(&key);
            // Every supported length, tweaks from empty to past two blocks.
            let n = MIN_DIGITS + case % (MAX_DIGITS - MIN_DIGITS + 1);
            let tweak: Vec<u8> = (0..next() % 40).map(|_| next() as u8).collect();
            let x: Vec<u8> = (0..n).map(|_| (next() % 10) as u8).collect();
            let ct = f.encrypt(&tweak, &x).expect("supported");
            assert_eq!(
                ct,
                reference(&key, &tweak, &x, true),
                "n {n} tweak {}",
                tweak.len()
            );
            assert_eq!(f.decrypt(&tweak, &ct).as_deref(), Some(&x[..]));
            assert_eq!(
                f.decrypt(&tweak, &x).expect("supported"),
                reference(&key, &tweak, &x, false)
            );
        }
        // All nines and all zeros, the edges of each half's range.
        for n in MIN_DIGITS..=MAX_DIGITS {
            for digit in [0u8, 9] {
                let x = vec![digit; n];
                let f = DecimalFf1::new(&KEY);
                assert_eq!(
                    f.encrypt(b"t", &x).expect("ok"),
                    reference(&KEY, b"t", &x, true)
                );
            }
        }
    }

    #[test]
    fn lengths_and_values_outside_its_range_are_refused() {
        let f = DecimalFf1::new(&KEY);
        assert_eq!(f.encrypt(b"", &[1, 2, 3, 4, 5]), None);
        assert_eq!(f.encrypt(b"", &[1; MAX_DIGITS + 1]), None);
        assert_eq!(f.encrypt(b"", &[1, 2, 3, 4, 5, 10]), None);
    }
}
