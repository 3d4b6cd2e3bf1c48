//! Message bodies: postcard encoding with one error type for every decoder.
//!
//! Bodies arrive inside frames whose length is already bounded, and postcard
//! checks every length against the bytes that are really there, so decoding
//! never allocates more than the frame holds.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A body that is not a valid message of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed message")]
pub struct WireError;

/// Encodes a message body.
#[must_use]
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serializing our own types into a Vec cannot fail.
    postcard::to_stdvec(msg).unwrap_or_default()
}

/// Decodes a message body; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    match postcard::take_from_bytes(bytes) {
        Ok((msg, [])) => Ok(msg),
        _ => Err(WireError),
    }
}

/// Proptest helpers shared by the message modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use std::fmt::Debug;

    /// Asserts a message survives an encode/decode round trip.
    pub fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(msg: &T) {
        assert_eq!(&decode::<T>(&encode(msg)).unwrap(), msg);
    }
}
