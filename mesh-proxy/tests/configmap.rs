//! Configuration as Kubernetes delivers it to a pod: a ConfigMap volume, laid out and updated
//! as the kubelet's atomic writer does (`pkg/volume/util/atomic_writer.go`): the payload in a
//! `..<timestamp>` folder, the `..data` symlink to it, each key a symlink `key ->
//! ..data/key`; an update writes a new folder, points `..data_tmp` at it, renames
//! `..data_tmp` over `..data` (the atomic step), adds the new keys' symlinks, removes the
//! symlinks of keys that are gone and then the old folder.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::*;

/// A ConfigMap volume written as the kubelet writes it.
struct ConfigMapVolume {
    dir: TempDir,
    /// The current `..<timestamp>` folder.
    current: String,
    /// The current keys.
    keys: Vec<String>,
    updates: usize,
}

impl ConfigMapVolume {
    /// The volume as mounted, with `keys` (name, text).
    fn new(tag: &str, keys: &[(&str, &str)]) -> ConfigMapVolume {
        let mut v = ConfigMapVolume {
            dir: TempDir::new(tag),
            current: String::new(),
            keys: Vec::new(),
            updates: 0,
        };
        v.update(keys);
        v
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the payload with `keys`, step by step as the kubelet does.
    fn update(&mut self, keys: &[(&str, &str)]) {
        let root = self.dir.path().to_path_buf();
        self.updates += 1;
        // A new timestamped folder (the kubelet's `os.MkdirTemp(dir, "..2006_01_02_15_04_05.")`).
        let folder = format!(
            "..2024_05_01_10_00_{:02}.{}{}",
            self.updates,
            std::process::id(),
            self.updates
        );
        std::fs::create_dir(root.join(&folder)).expect("timestamped folder");
        for (name, text) in keys {
            std::fs::write(root.join(&folder).join(name), text).expect("payload");
        }
        // `..data_tmp` points at it, then is renamed over `..data`.
        symlink(&folder, root.join("..data_tmp")).expect("..data_tmp");
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swap ..data");
        // The user-visible symlinks of new keys; those of keys gone are removed.
        for (name, _) in keys {
            let link = root.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(format!("..data/{name}"), &link).expect("key symlink");
            }
        }
        for old in &self.keys {
            if !keys.iter().any(|(name, _)| name == old) {
                std::fs::remove_file(root.join(old)).expect("remove a key");
            }
        }
        if !self.current.is_empty() {
            std::fs::remove_dir_all(root.join(&self.current)).expect("old folder");
        }
        self.current = folder;
        self.keys = keys.iter().map(|(name, _)| (*name).to_owned()).collect();
    }
}

/// The shop's VirtualService, all traffic to `subset`.
fn route_to(subset: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {{host: shop, subset: {subset}, port: {{number: 8080}}}}
---
"
    )
}

/// `/config`'s list of resources, as `Kind namespace/name`.
async fn resources(client: &HttpClient, proxy: &mesh_proxy::Running) -> Vec<String> {
    let body = admin(client, proxy.admin_addr, "/config").await.body;
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["resources"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r.as_str().expect("a string").to_owned())
        .collect()
}

/// The version the shop's route answers with now.
async fn version(client: &HttpClient, proxy: &mesh_proxy::Running) -> String {
    get(client, proxy.addr, "shop.example.com", "/", &[])
        .await
        .body
}

/// A ConfigMap volume is read once per key, through the key's symlink: each resource is
/// served once (before, `..data` and the timestamped folder were read too, every resource
/// came three times and the proxy served the tripled configuration). When the kubelet swaps
/// `..data` to a new payload, the proxy reloads it, again once per key.
#[tokio::test]
async fn a_configmap_volume_is_served_once_per_key_and_through_an_update() {
    let v1 = Upstream::ok("v1").await;
    let v2 = Upstream::ok("v2").await;
    let endpoints = service_entry(
        "shop",
        "shop.demo.svc.cluster.local",
        &[(&v1, &[("version", "v1")]), (&v2, &[("version", "v2")])],
    );
    let mut volume = ConfigMapVolume::new(
        "configmap",
        &[
            ("gateway.yaml", GATEWAY),
            (
                "shop.yaml",
                &[route_to("v1").as_str(), SHOP_SUBSETS].concat(),
            ),
            ("endpoints.yaml", &endpoints),
        ],
    );
    let proxy = start(settings(vec![volume.path().to_path_buf()])).await;
    let client = client();
    let expected = [
        "VirtualService demo/shop",
        "DestinationRule demo/shop",
        "Gateway demo/edge",
        "ServiceEntry demo/shop",
    ];
    assert_eq!(resources(&client, &proxy).await, expected);
    assert_eq!(version(&client, &proxy).await, "v1");

    // The kubelet swaps `..data`: the route now goes to v2.
    volume.update(&[
        ("gateway.yaml", GATEWAY),
        (
            "shop.yaml",
            &[route_to("v2").as_str(), SHOP_SUBSETS].concat(),
        ),
        ("endpoints.yaml", &endpoints),
    ]);
    let swapped = eventually(PATIENCE, || async {
        (version(&client, &proxy).await == "v2").then_some(())
    })
    .await;
    assert!(swapped.is_some(), "the update is applied");
    assert_eq!(resources(&client, &proxy).await, expected);
    proxy.shutdown().await;
}

/// An update that gives a resource twice (a new key holding a copy of the shop's
/// VirtualService, routing elsewhere) is refused, naming both places, and the configuration
/// serving keeps serving: two `kubectl apply`s of it would leave only one.
#[tokio::test]
async fn an_update_that_gives_a_resource_twice_is_refused() {
    let v1 = Upstream::ok("v1").await;
    let v2 = Upstream::ok("v2").await;
    let endpoints = service_entry(
        "shop",
        "shop.demo.svc.cluster.local",
        &[(&v1, &[("version", "v1")]), (&v2, &[("version", "v2")])],
    );
    let shop = [route_to("v1").as_str(), SHOP_SUBSETS].concat();
    let mut keys = vec![
        ("endpoints.yaml", endpoints.as_str()),
        ("gateway.yaml", GATEWAY),
        ("shop.yaml", shop.as_str()),
    ];
    let mut volume = ConfigMapVolume::new("configmap-duplicate", &keys);
    let proxy = start(settings(vec![volume.path().to_path_buf()])).await;
    let client = client();
    assert_eq!(version(&client, &proxy).await, "v1");

    let copy = route_to("v2");
    keys.push(("shop-copy.yaml", copy.as_str()));
    volume.update(&keys);
    let findings = proxy
        .reload()
        .expect_err("a resource given twice is refused")
        .findings();
    let root = volume.path().display().to_string();
    assert_eq!(
        findings,
        [format!(
            "{root}/shop.yaml:1: VirtualService demo/shop: given twice, first at {root}/shop-copy.yaml:1 (kubectl apply would keep only the last)"
        )],
    );
    // The watcher's reload of the update is refused too, and the route still goes to v1.
    let rejected = eventually(PATIENCE, || async {
        let m = admin(&client, proxy.admin_addr, "/metrics").await.body;
        (metric(&m, "mesh_proxy_config_reloads_total{result=\"rejected\"}") >= 2).then_some(())
    })
    .await;
    assert!(
        rejected.is_some(),
        "the watcher reloads and refuses the update"
    );
    assert_eq!(version(&client, &proxy).await, "v1");
    proxy.shutdown().await;
}
