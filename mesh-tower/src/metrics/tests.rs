use std::sync::Arc;

use http::{Request, Response, StatusCode};
use mesh_route::policy::ReplyTo;
use mesh_route::{CompileOptions, Identity, RouteTable};
use tower::{ServiceExt, service_fn};

use super::{Count, Destination, Outcome, Routed};
use crate::body;
use crate::flags::ResponseFlags;
use crate::service::error::MeshError;
use crate::{Backends, MeshLayer};

fn layer() -> MeshLayer {
    let resources = mesh_model::load_str("").expect("empty configuration");
    let table = RouteTable::compile(
        &resources,
        &Identity::sidecar("demo"),
        &CompileOptions::default(),
    )
    .expect("table");
    MeshLayer::new(table, Backends::new())
}

/// A routed request is counted in `istio_requests_total` with its destination, code and
/// flags; a mesh error with the status of its local reply (404 `NR` for no route).
#[tokio::test]
async fn routed_requests_are_counted_with_their_outcome() {
    let layer = layer();
    let shared = layer.shared().clone();
    let answer = |error: bool| {
        service_fn(move |_req| async move {
            let outcome = Outcome::default();
            let result = if error {
                outcome.flags.insert(ResponseFlags::NO_ROUTE);
                Err(MeshError::NoRoute)
            } else {
                outcome.set_destination(|| Destination {
                    host: Some(Arc::from("shop.demo.svc.cluster.local")),
                    ..Destination::default()
                });
                Ok(Response::new(body::empty()))
            };
            Ok::<_, std::convert::Infallible>(Routed {
                result,
                outcome,
                reply_headers: http::HeaderMap::new(),
                started: std::time::Instant::now(),
                abandoned: ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION,
            })
        })
    };
    let request = || Request::new(body::empty());
    let (r, _) = Count::new(answer(false), shared.clone(), ReplyTo::default())
        .oneshot(request())
        .await
        .expect("infallible");
    assert_eq!(r.expect("response").status(), StatusCode::OK);
    let (r, _) = Count::new(answer(true), shared.clone(), ReplyTo::default())
        .oneshot(request())
        .await
        .expect("infallible");
    assert!(matches!(r, Err(MeshError::NoRoute)));
    let text = shared.metrics.encode();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with("istio_requests_total") && l.contains(needle))
            .unwrap_or_else(|| panic!("no series with {needle} in\n{text}"))
            .to_owned()
    };
    let ok = line("response_code=\"200\"");
    assert!(
        ok.contains("destination_service=\"shop.demo.svc.cluster.local\""),
        "{ok}"
    );
    assert!(ok.ends_with(" 1"), "{ok}");
    let nr = line("response_code=\"404\"");
    assert!(nr.contains("response_flags=\"NR\""), "{nr}");
    assert!(nr.ends_with(" 1"), "{nr}");
}
