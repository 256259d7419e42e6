use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;

use super::*;
use crate::body::full;

const DC: ResponseFlags = ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION;

fn recorder() -> (
    Arc<Mutex<Vec<ResponseFlags>>>,
    impl FnOnce(ResponseFlags) + Send + Unpin + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (seen, move |f| s.lock().expect("not poisoned").push(f))
}

/// A body read to its end is reported once, with no flag, when its last frame is read.
#[tokio::test]
async fn a_whole_body_is_reported_once_at_its_last_frame() {
    let (seen, f) = recorder();
    let mut body = counted(full("hello"), DC, f);
    let frame = body.frame().await.expect("a frame").expect("data");
    assert_eq!(frame.into_data().expect("data"), "hello");
    assert_eq!(*seen.lock().unwrap(), [ResponseFlags::NONE]);
    drop(body);
    assert_eq!(*seen.lock().unwrap(), [ResponseFlags::NONE]);
}

/// A body that fails after some data (an upstream that cut its response) is reported with
/// `UPE`.
#[tokio::test]
async fn a_cut_body_is_reported_with_upe() {
    let (seen, f) = recorder();
    let mut body = counted(boxed(CutAfterOneFrame(false)), DC, f);
    assert!(body.frame().await.expect("a frame").is_ok());
    assert!(seen.lock().unwrap().is_empty());
    assert!(body.frame().await.expect("the error").is_err());
    assert_eq!(
        *seen.lock().unwrap(),
        [ResponseFlags::UPSTREAM_PROTOCOL_ERROR]
    );
}

/// A body nobody reads (HEAD's) is reported when dropped, with no flag.
#[test]
fn an_unread_body_is_reported_when_dropped() {
    let (seen, f) = recorder();
    drop(counted(full("x"), DC, f));
    assert_eq!(*seen.lock().unwrap(), [ResponseFlags::NONE]);
}

/// A body dropped after its first frame and before its end is a client that went away
/// mid-body: reported with the flag given (`DC` for HTTP/1, as Envoy logs it, `200 DC`).
#[tokio::test]
async fn a_body_dropped_mid_way_is_reported_with_the_abandoned_flag() {
    for abandoned in [DC, ResponseFlags::NONE] {
        let (seen, f) = recorder();
        let stalls = boxed(Stalls(Some(Bytes::from_static(b"0123456789"))));
        let mut body = counted(stalls, abandoned, f);
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().expect("data").len(), 10);
        assert!(seen.lock().unwrap().is_empty(), "counted before its end");
        drop(body);
        assert_eq!(*seen.lock().unwrap(), [abandoned]);
    }
}

/// Ten bytes, then an error, as a hyper client body whose upstream closed mid-body.
struct CutAfterOneFrame(bool);

impl Body for CutAfterOneFrame {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.0 {
            return Poll::Ready(Some(Err(
                "connection closed before message completed".into()
            )));
        }
        self.0 = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"0123456789")))))
    }
}

/// A body cut because it stalled for the stream idle timeout is reported with `SI`, not
/// `UPE` (Envoy 1.40 logs `200 SI`), also when it stalls before its first byte.
#[tokio::test(start_paused = true)]
async fn a_body_cut_for_idleness_is_reported_with_si() {
    for first in [Some("hello"), None] {
        let (seen, f) = recorder();
        let upstream = boxed(Stalls(
            first.map(|d: &'static str| Bytes::from_static(d.as_bytes())),
        ));
        let stalled = crate::idle::ResponseBody::wrap(upstream, std::time::Duration::from_secs(1));
        let mut body = counted(stalled, DC, f);
        if first.is_some() {
            assert!(body.frame().await.expect("a frame").is_ok());
        }
        assert!(body.frame().await.expect("the cut").is_err());
        assert_eq!(*seen.lock().unwrap(), [ResponseFlags::STREAM_IDLE_TIMEOUT]);
    }
}

/// Its frame, if any, then nothing ever, as an upstream that stalls mid-body.
struct Stalls(Option<Bytes>);

impl Body for Stalls {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.0.take() {
            Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
            None => Poll::Pending,
        }
    }
}

/// A tunnel's count handed over is reported with the tunnel's flags when it ends; handed
/// over after the tunnel is gone, it is reported at once with none.
#[tokio::test]
async fn a_deferred_count_is_reported_by_the_tunnel() {
    let (seen, f) = recorder();
    let (handle, end) = deferred();
    handle.clone().hand_over(f);
    assert!(seen.lock().unwrap().is_empty());
    end.report(ResponseFlags::STREAM_IDLE_TIMEOUT).await;
    assert_eq!(*seen.lock().unwrap(), [ResponseFlags::STREAM_IDLE_TIMEOUT]);

    let (seen, f) = recorder();
    let (handle, end) = deferred();
    drop(end);
    handle.hand_over(f);
    assert_eq!(*seen.lock().unwrap(), [ResponseFlags::NONE]);
}
