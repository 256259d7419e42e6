use std::sync::Mutex;

use bytes::Bytes;
use http::{Request, Response};
use mesh_route::policy::Fraction;
use tower::{ServiceExt, service_fn};

use super::{Mirror, MirrorLayer};
use crate::BoxError;
use crate::body::{self, BoxBody};
use crate::metrics::{Event, Metrics};
use crate::rng::Samples;

fn mirror_to(host: &str, fraction: Fraction) -> mesh_route::Mirror {
    mesh_route::Mirror {
        destination: mesh_route::RouteDestination {
            host: host.to_owned(),
            subset: String::new(),
            port: None,
            weight: 0,
            headers: Default::default(),
            subset_labels: Some(Default::default()),
            destination_rule: None,
            policy: Default::default(),
            unresolved: None,
        },
        fraction,
    }
}

/// Every request a mirror's percentage selects (all, here; none for the 0 % mirror) is
/// handed to the sender with its buffered body, and the original still reaches the inner
/// service; a request whose body streamed is counted as not mirrored instead.
#[tokio::test]
async fn selected_requests_are_copied_and_streamed_ones_counted() {
    let mirrors = [
        mirror_to("always", Fraction::ALL),
        mirror_to("never", Fraction::NONE),
    ];
    let (rng, metrics) = (Samples::new(3), Metrics::new());
    let sent = Mutex::new(Vec::new());
    let send = |m: &mesh_route::Mirror, req: &Request<BoxBody>, bytes: Bytes| {
        sent.lock()
            .expect("lock")
            .push((m.destination.host.clone(), req.uri().to_string(), bytes));
    };
    let inner = service_fn(|req: Request<BoxBody>| async move {
        Ok::<_, BoxError>(Response::new(req.uri().to_string()))
    });
    let request = || {
        Request::get("http://shop/cart")
            .body(body::empty())
            .expect("request")
    };
    let mirror = tower::ServiceBuilder::new()
        .layer(MirrorLayer::new(
            &mirrors,
            Some(Bytes::from_static(b"hi")),
            (&rng, &metrics),
            send,
        ))
        .service(inner);
    let r = mirror.oneshot(request()).await.expect("answer");
    assert_eq!(r.body(), "http://shop/cart");
    let streamed = Mirror::new(inner, &mirrors, None, (&rng, &metrics), send);
    streamed.oneshot(request()).await.expect("answer");
    let sent = sent.into_inner().expect("lock");
    assert_eq!(
        sent,
        [(
            "always".to_owned(),
            "http://shop/cart".to_owned(),
            Bytes::from_static(b"hi")
        )]
    );
    assert_eq!(metrics.outcome(Event::MirrorNotBuffered), 1);
}
