//! The cost per request of automated canaries and configuration candidates
//! (`mesh_tower::rollout`), in one run: the layer benchmark's 90/10 split without either,
//! with a rollout stepping that rule (an hour's interval, so the weights hold still: each
//! request is matched against the rollout and the canary's are counted), and with a
//! candidate table (every request decided twice and compared).
#![forbid(unsafe_code)]

use std::hint::black_box;

use benches::layer::{app, request};
use mesh_tower::{Backends, Endpoint, MeshHandle, MeshLayer, Options};
use tower::{Layer, ServiceExt, service_fn};

const ROLLOUT: &str = "metadata:
  name: shop
  namespace: demo
  annotations:
    mesh-route.dev/rollout: |
      stable: {host: shop, subset: v1}
      canary: {host: shop, subset: v2}
      stepWeight: 10
      interval: 1h
";

fn layer(yaml: &str) -> (MeshLayer, MeshHandle) {
    let backends = Backends::new()
        .with(
            "shop.demo.svc.cluster.local",
            Endpoint::new("v1", [("version", "v1")], service_fn(app)),
        )
        .with(
            "shop.demo.svc.cluster.local",
            Endpoint::new("v2", [("version", "v2")], service_fn(app)),
        );
    let table = benches::compile(&benches::load(yaml), &mesh_route::Identity::sidecar("demo"));
    let layer = MeshLayer::with_options(
        table,
        backends,
        Options {
            seed: Some(1),
            ..Options::default()
        },
    );
    let handle = layer.handle();
    (layer, handle)
}

fn bench(c: &mut criterion::Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let (plain, _) = layer(benches::LAYER_YAML);
    let with_rollout = benches::LAYER_YAML.replace(
        "metadata: {name: shop, namespace: demo}\nspec:\n  hosts: [shop]",
        &format!("{ROLLOUT}spec:\n  hosts: [shop]"),
    );
    let (rollout, handle) = layer(&with_rollout);
    assert_eq!(handle.rollouts().len(), 1, "the rollout runs");
    let (candidate, handle) = layer(benches::LAYER_YAML);
    handle.set_candidate(benches::layer_table());

    let mut g = c.benchmark_group("rollout");
    for (name, l) in [
        ("split_plain", plain),
        ("split_with_rollout", rollout),
        ("split_with_candidate", candidate),
    ] {
        let svc = l.layer(service_fn(app));
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(svc.clone().oneshot(request(false)))
                    .map(black_box)
            })
        });
    }
    g.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
