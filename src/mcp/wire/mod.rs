//! The eras' dialects as bytes, below the hop: what a message of one era or the other
//! says and how it is written, with no state and no call of anything above.
//! - [`versions`]: the protocol versions of both eras.

pub mod versions;
