//! A tool's answer held for the result hooks. Answers stream through the gateway
//! unchanged and unparsed; a view with a result hook instead reads the answer whole, up
//! to [`MAX_RESULT`] (an event stream too: its progress notifications then arrive with
//! the result, not before); the one answer reader ([`crate::jsonrpc::answer`]) finds
//! the response in it and gives back the answer with that response replaced. An answer over the bound, or over what is left of [`super::MAX_HELD`] (every
//! result held at once), is given back as it came ([`Held::Over`]: what was read, then the
//! rest streaming), for the failure mode to decide on.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::MAX_RESULT;
use crate::http::Body;

/// An answer read for the result hooks.
pub enum Held {
    /// Whole, within the bounds; the room it takes among every held result is kept
    /// until this is dropped.
    Whole(Bytes, Option<OwnedSemaphorePermit>),
    /// Over a bound (why): what was read, and a body that gives it then the rest.
    Over(Body, String),
}

/// Reads `body` up to [`MAX_RESULT`], and up to what is left of `room` (every result
/// held at once, in KiB); `Err` when it broke off.
pub async fn hold(mut body: Body, room: &Arc<Semaphore>) -> Result<Held, std::io::Error> {
    let mut seen = BytesMut::new();
    let mut taken: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        seen.extend_from_slice(&data);
        let why = if seen.len() > MAX_RESULT {
            Some(format!(
                "the result is over {MAX_RESULT} bytes, the most held for result guardrails"
            ))
        } else {
            let want = seen.len().div_ceil(1024) as u32;
            let have = taken.as_ref().map_or(0, |p| p.num_permits() as u32);
            match want > have {
                false => None,
                true => match room.clone().try_acquire_many_owned(want - have) {
                    Ok(more) => {
                        match &mut taken {
                            Some(p) => p.merge(more),
                            None => taken = Some(more),
                        }
                        None
                    }
                    Err(_) => Some(format!(
                        "the gateway already holds {} MiB of results for result guardrails",
                        super::MAX_HELD >> 20
                    )),
                },
            }
        };
        if let Some(why) = why {
            let body = Body::Stream(Box::pin(Chained {
                head: Some(seen.freeze()),
                rest: body,
            }));
            return Ok(Held::Over(body, why));
        }
    }
    Ok(Held::Whole(seen.freeze(), taken))
}

/// What was read, then the rest of the body.
struct Chained {
    head: Option<Bytes>,
    rest: Body,
}

impl hyper::body::Body for Chained {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(hyper::body::Frame::data(head))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_over_a_bound_is_given_back_whole() {
        let room = Arc::new(Semaphore::new(super::super::MAX_HELD >> 10));
        let big = Bytes::from(vec![b'x'; MAX_RESULT + 10]);
        let Ok(Held::Over(body, why)) = hold(Body::full(big.clone()), &room).await else {
            panic!("over the bound")
        };
        assert!(why.contains("over 4194304 bytes"), "{why}");
        let back = body.collect().await.unwrap().to_bytes();
        assert_eq!(back, big);
        let Ok(Held::Whole(small, taken)) = hold(Body::full("abc"), &room).await else {
            panic!("within the bound")
        };
        assert_eq!(&small[..], b"abc");
        assert_eq!(taken.map(|p| p.num_permits()), Some(1));
        // Every result held at once has its bound too.
        let full = Arc::new(Semaphore::new(2));
        let three = Bytes::from(vec![b'y'; 3000]);
        let Ok(Held::Over(body, why)) = hold(Body::full(three.clone()), &full).await else {
            panic!("over the room left")
        };
        assert!(why.contains("already holds"), "{why}");
        assert_eq!(body.collect().await.unwrap().to_bytes(), three);
        assert_eq!(
            full.available_permits(),
            2,
            "nothing kept from a refused hold"
        );
    }
}
