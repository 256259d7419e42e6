//! `seed-mirror` over real HTTP.

mod common;

use std::time::Duration;

use common::{seeded, start};

/// v1 answers every request while v2 receives a copy of each; the client only ever sees v1.
#[tokio::test]
async fn v2_receives_a_copy_of_every_request() {
    let app = examples::mirror::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    for i in 0..50 {
        let r = client
            .get("service2", &format!("/orders/{i}"), &[])
            .await
            .expect("answered");
        assert_eq!(r.body.trim(), "service2 v1");
    }
    for _ in 0..200 {
        if app.calls("service2-v2") == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "seed-mirror: v1 served {}, v2 received {} copies",
        app.calls("service2-v1"),
        app.calls("service2-v2")
    );
    assert_eq!(app.calls("service2-v1"), 50);
    assert_eq!(app.calls("service2-v2"), 50);
    assert_eq!(
        app.handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::MirrorSent),
        50
    );
}
