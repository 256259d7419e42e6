use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;

use super::*;
use crate::body::full;

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
    let mut body = counted(full("hello"), f);
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
    let mut body = counted(boxed(CutAfterOneFrame(false)), f);
    assert!(body.frame().await.expect("a frame").is_ok());
    assert!(seen.lock().unwrap().is_empty());
    assert!(body.frame().await.expect("the error").is_err());
    assert_eq!(
        *seen.lock().unwrap(),
        [ResponseFlags::UPSTREAM_PROTOCOL_ERROR]
    );
}

/// A body nobody reads is reported when dropped.
#[test]
fn an_unread_body_is_reported_when_dropped() {
    let (seen, f) = recorder();
    drop(counted(full("x"), f));
    assert_eq!(*seen.lock().unwrap(), [ResponseFlags::NONE]);
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
