//! Random keys from the system's generator (aws-lc-rs), for what must not be guessable: the
//! session key of a gateway given none, the decoy secret of the SigV4 authorizer.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// 32 random bytes. Without randomness there is no safe key: this fails loudly at start
/// rather than quietly later.
pub fn key() -> [u8; 32] {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the system's random number generator works");
    key
}
