//! A configuration that is being written is never applied (issue 10, item 6). Before the
//! fix, a file truncated and then refilled was applied as an empty configuration (every
//! request 404 in between), and a writer that wrote one document after another had each
//! partial state applied.

mod common;

use std::time::Duration;

use common::{TempDir, Upstream, client, eventually, get, metric};

fn config(upstream: &Upstream, body_version: &str) -> String {
    format!(
        "{}{}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo, labels: {{v: {body_version}}}}}
spec:
  hosts: [shop.example.com]
  gateways: [edge, mesh]
  http:
  - route: [{{destination: {{host: shop, subset: v1}}}}]
---
{}",
        common::GATEWAY,
        common::service_entry("shop", "shop", &[(upstream, &[("version", "v1")])]),
        common::SHOP_SUBSETS
    )
}

/// A file truncated and left empty is held back (counted as `suspicious`) while traffic
/// keeps flowing on the last good configuration; refilled, the file is applied; an empty
/// file that stays unchanged for the hold time is applied in the end (an operator who
/// really empties the configuration gets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_held_back_until_it_is_stable_for_the_hold_time() {
    let up = Upstream::ok("v1").await;
    let dir = TempDir::new("truncate");
    let file = dir.write("shop.yaml", &config(&up, "a"));
    // A sidecar: an empty configuration is valid for it (a Gateway needs its Gateway).
    let mut settings = mesh_proxy::Settings {
        identity: mesh_route::Identity::sidecar("demo"),
        ..common::settings(vec![file])
    };
    settings.reload.settle = Duration::from_millis(50);
    settings.reload.suspicious_hold = Duration::from_millis(1500);
    let proxy = common::start(settings).await;
    let c = client();
    let metrics = || common::admin(&c, proxy.admin_addr, "/metrics");
    let suspicious = |m: &str| metric(m, "mesh_proxy_config_reloads_total{result=\"suspicious\"}");
    let applied = |m: &str| metric(m, "mesh_proxy_config_reloads_total{result=\"applied\"}");

    // Truncate in place, as `>` or a naive writer does.
    dir.write("shop.yaml", "");
    let held = eventually(common::PATIENCE, || async {
        let m = metrics().await;
        (suspicious(&m.body) >= 1).then_some(m)
    })
    .await
    .expect("the emptied configuration is held back");
    assert_eq!(applied(&held.body), 0, "{}", held.body);
    let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
    assert_eq!(r.status.as_u16(), 200, "the last good configuration serves");

    // Refilled (with a change) within the hold time: applied.
    dir.write("shop.yaml", &config(&up, "b"));
    let refilled = eventually(common::PATIENCE, || async {
        let m = metrics().await;
        (applied(&m.body) == 1).then_some(())
    })
    .await;
    assert!(refilled.is_some(), "the refilled file is applied");
    let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
    assert_eq!(r.status.as_u16(), 200);

    // Emptied for good: applied once it has stayed empty for the hold time.
    dir.write("shop.yaml", "");
    let emptied = eventually(Duration::from_secs(8), || async {
        let m = metrics().await;
        (applied(&m.body) == 2).then_some(())
    })
    .await;
    assert!(
        emptied.is_some(),
        "a stable empty configuration is applied after the hold"
    );
    let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
    assert_eq!(
        r.status.as_u16(),
        502,
        "nothing routes any more (REGISTRY_ONLY)"
    );
    proxy.shutdown().await;
}

/// A writer that appends the configuration in pieces, each within the settle time of the
/// last, gets only the whole applied: the proxy never serves a state in between (here:
/// the VirtualService written before the ServiceEntry its route needs would send traffic
/// to a destination without endpoints).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_written_in_pieces_is_applied_once_whole() {
    let up = Upstream::ok("v1").await;
    let dir = TempDir::new("pieces");
    let whole = config(&up, "a");
    let file = dir.write(
        "shop.yaml",
        &format!("{}{}", common::GATEWAY, common::SHOP_SUBSETS),
    );
    let mut settings = common::settings(vec![file]);
    settings.reload.settle = Duration::from_millis(300);
    let proxy = common::start(settings).await;
    let c = client();
    // Write in three pieces, 50 ms apart.
    let mut written = String::new();
    for piece in whole.split_inclusive("---\n").collect::<Vec<_>>().chunks(2) {
        written.push_str(&piece.concat());
        dir.write("shop.yaml", &written);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = common::admin(&c, proxy.admin_addr, "/metrics").await;
    assert_eq!(
        metric(
            &m.body,
            "mesh_proxy_config_reloads_total{result=\"applied\"}"
        ),
        0,
        "nothing applied while being written"
    );
    let served = eventually(common::PATIENCE, || async {
        let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
        (r.status.as_u16() == 200).then_some(())
    })
    .await;
    assert!(served.is_some(), "the whole configuration is applied");
    let m = common::admin(&c, proxy.admin_addr, "/metrics").await;
    assert_eq!(
        metric(
            &m.body,
            "mesh_proxy_config_reloads_total{result=\"applied\"}"
        ),
        1,
        "{}",
        m.body
    );
    proxy.shutdown().await;
}
