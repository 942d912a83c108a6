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
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
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
