//! Random keys from the system's generator (aws-lc-rs), for what must not be guessable: the
//! session key of a gateway given none, the decoy secret of the SigV4 authorizer, the request
//! ids a Lambda function sees.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// A random (version 4) UUID in its usual text form, for request ids AWS-style.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system's random number generator works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// 32 random bytes. Without randomness there is no safe key: this fails loudly at start
/// rather than quietly later.
pub fn key() -> [u8; 32] {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the system's random number generator works");
    key
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4_text() {
        let u = super::uuid();
        assert_eq!(u.len(), 36);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(u, super::uuid());
    }
}
