//! Running a world: the same requests through a real Envoy configured by the translator
//! and through the mesh-tower layer, each in front of one loopback echo upstream per
//! cluster; then every observation is compared with the engine's prediction.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use envoy_harness::{EchoUpstream, Envoy, raw};
use http::{Request as HttpRequest, Response, Uri};
use http_body_util::BodyExt;
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::client::{HttpClient, http_client};
use mesh_tower::{Backends, BoxError, Endpoint, MeshLayer, Options, RouteInfo};
use tower::{ServiceExt, service_fn};

use crate::compare::{Disagreement, compare};
use crate::generate::{ID_HEADER, NAMESPACE, PORT, Request, SERVICES, World};
use crate::observe::{COMPARED_RESPONSE_HEADERS, Observation, compared, copies};
use crate::predict::{Unpredictable, predict};
use crate::translate::{bootstrap, cluster_name, translate};

/// How long mirrored copies may take to arrive after the last response.
const MIRROR_SETTLE: Duration = Duration::from_millis(400);

/// The upstreams of every world: one echo upstream per cluster, named after it.
#[derive(Debug)]
pub struct Lab {
    upstreams: BTreeMap<String, EchoUpstream>,
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
}

impl Lab {
    /// Starts one upstream per cluster of [`SERVICES`], and a runtime for the layer.
    ///
    /// # Panics
    /// When the runtime or a loopback port cannot be had.
    pub fn new() -> Lab {
        let mut upstreams = BTreeMap::new();
        for (name, subsets) in SERVICES {
            let host = format!("{name}.{NAMESPACE}.svc.cluster.local");
            for s in std::iter::once(&"").chain(subsets.iter()) {
                let c = cluster_name(s, &host, PORT);
                upstreams.insert(c.clone(), EchoUpstream::start(&c));
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = {
            let _guard = runtime.enter();
            http_client()
        };
        Lab {
            upstreams,
            runtime,
            client,
        }
    }

    fn ports(&self) -> BTreeMap<String, u16> {
        self.upstreams
            .iter()
            .map(|(k, u)| (k.clone(), u.addr().port()))
            .collect()
    }

    fn clear(&self) {
        for u in self.upstreams.values() {
            u.clear();
        }
    }

    fn received(&self) -> Vec<(String, Vec<envoy_harness::Received>)> {
        self.upstreams
            .iter()
            .map(|(k, u)| (k.clone(), u.received()))
            .collect()
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

/// What happened to a world.
#[derive(Debug, Default)]
pub struct WorldReport {
    /// The world's seed.
    pub seed: u64,
    /// Why it was not run: Istio rejects it, or the translator refuses it.
    pub skipped: Option<String>,
    /// Requests compared (both legs).
    pub compared: usize,
    /// Requests whose outcome cannot be predicted exactly, and why.
    pub unpredictable: Vec<String>,
    /// Requests where Envoy agrees with the engine.
    pub envoy_agree: usize,
    /// Requests where the layer agrees with the engine.
    pub layer_agree: usize,
    /// Every disagreement.
    pub disagreements: Vec<Disagreement>,
    /// How many compared requests exercised what (see [`exercised`]).
    pub exercised: BTreeMap<&'static str, usize>,
}

/// What a predicted outcome exercises: forwarded or answered by the proxy, a weighted
/// split, retries, mirrors, a Location, a gRPC local reply.
pub fn exercised(expected: &[Observation]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let Some(e) = expected.first() else {
        return out;
    };
    match &e.cluster {
        Some(c) => {
            out.push("forwarded");
            if e.copies.get(c).is_some_and(|n| *n > 1) {
                out.push("retried");
            }
            if e.copies.values().sum::<usize>() > e.copies.get(c).copied().unwrap_or(0) {
                out.push("mirrored");
            }
            if !e.upstream_headers.is_empty() {
                out.push("upstream headers compared");
            }
        }
        None => out.push("answered by the proxy"),
    }
    if expected.len() > 1 {
        out.push("weighted split");
    }
    if e.response_headers.contains_key("location") {
        out.push("location");
    }
    if e.response_headers.contains_key("grpc-status") {
        out.push("gRPC local reply");
    }
    if e.status >= 400 {
        out.push("status >= 400");
    }
    out
}

/// One request of a world: what Envoy and the layer did, and what the engine predicts.
#[derive(Clone, Debug)]
pub struct Case {
    /// The request.
    pub request: Request,
    /// What Envoy did.
    pub envoy: Observation,
    /// What the layer did.
    pub layer: Observation,
    /// The outcomes the engine allows (one, or one per destination of a weighted split).
    pub expected: Result<Vec<Observation>, Unpredictable>,
    /// The engine's decision, in a few words.
    pub decision: String,
}

/// What running a world gave.
#[derive(Clone, Debug)]
pub enum Ran {
    /// The world was not run: Istio rejects it, or the translator refuses it.
    Skipped(String),
    /// Every request's case.
    Cases(Vec<Case>),
}

/// Sends every request of `world` through Envoy (at `envoy_bin`, configured by the
/// translator) and through the layer, and predicts each with the engine.
///
/// # Errors
/// When Envoy rejects the translated configuration or cannot start: that is a translator
/// or set-up error, never a result.
pub fn observe(lab: &Lab, envoy_bin: &Path, world: &World) -> Result<Ran, String> {
    let resources = match mesh_model::load_str(&world.yaml) {
        Ok(r) => r,
        Err(e) => return Ok(Ran::Skipped(format!("does not load: {e}"))),
    };
    let identity = Identity::sidecar(NAMESPACE);
    let table = match RouteTable::compile(&resources, &identity, &CompileOptions::default()) {
        Ok(t) => t,
        Err(e) => return Ok(Ran::Skipped(format!("Istio rejects it: {e}"))),
    };
    let translation = match translate(&resources, NAMESPACE) {
        Ok(t) => t,
        Err(e) => return Ok(Ran::Skipped(e.to_string())),
    };
    let envoy = Envoy::start(envoy_bin, &bootstrap(&translation, &lab.ports()))
        .map_err(|e| format!("seed {}: Envoy refuses the translation: {e}", world.seed))?;
    let table = Arc::new(table);
    let layer = layer(lab, table.clone(), world.seed);
    lab.clear();
    let mut observed = Vec::new();
    for (i, req) in world.requests.iter().enumerate() {
        let e = send_envoy(envoy.listener(0), req, &format!("e{i}"));
        let l = lab
            .runtime
            .block_on(send_layer(&layer, req, &format!("l{i}")));
        observed.push((e, l));
    }
    std::thread::sleep(MIRROR_SETTLE);
    drop(envoy);
    let received = lab.received();
    let cases = world
        .requests
        .iter()
        .zip(observed)
        .enumerate()
        .map(|(i, (req, (mut e, mut l)))| {
            e.copies = copies(&received, &format!("e{i}"));
            l.copies = copies(&received, &format!("l{i}"));
            Case {
                request: req.clone(),
                envoy: e,
                layer: l,
                expected: predict(&table, req, &format!("e{i}")),
                decision: crate::predict::describe(&table, req),
            }
        })
        .collect();
    Ok(Ran::Cases(cases))
}

/// Runs `world` with Envoy at `envoy_bin` and compares every case.
///
/// # Errors
/// As [`observe`].
pub fn run_world(lab: &Lab, envoy_bin: &Path, world: &World) -> Result<WorldReport, String> {
    let mut report = WorldReport {
        seed: world.seed,
        ..WorldReport::default()
    };
    let cases = match observe(lab, envoy_bin, world)? {
        Ran::Skipped(why) => {
            report.skipped = Some(why);
            return Ok(report);
        }
        Ran::Cases(c) => c,
    };
    for case in cases {
        let expected = match &case.expected {
            Ok(p) => p,
            Err(why) => {
                report
                    .unpredictable
                    .push(format!("{}: {}", case.request.describe(), why.0));
                continue;
            }
        };
        report.compared += 1;
        for x in exercised(expected) {
            *report.exercised.entry(x).or_default() += 1;
        }
        match compare(expected, &case.envoy) {
            Ok(()) => report.envoy_agree += 1,
            Err(diffs) => report.disagreements.push(Disagreement::new(
                world,
                &case.request,
                "envoy",
                diffs,
                case.decision.clone(),
            )),
        }
        match compare(expected, &case.layer) {
            Ok(()) => report.layer_agree += 1,
            Err(diffs) => report.disagreements.push(Disagreement::new(
                world,
                &case.request,
                "layer",
                diffs,
                case.decision.clone(),
            )),
        }
    }
    Ok(report)
}

fn send_envoy(addr: SocketAddr, req: &Request, id: &str) -> Observation {
    let mut text = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\n",
        req.method, req.target, req.authority
    );
    for (k, v) in &req.headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!("{ID_HEADER}: {id}\r\n"));
    if matches!(req.method.as_str(), "POST" | "PUT") {
        text.push_str("content-length: 0\r\n");
    }
    text.push_str("connection: close\r\n\r\n");
    let reply = raw::exchange(addr, text.as_bytes());
    let mut o = Observation {
        status: reply.status.unwrap_or(0),
        response_headers: compared(
            reply.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            COMPARED_RESPONSE_HEADERS,
        ),
        ..Observation::default()
    };
    o.read_body(&reply.body);
    o
}

type LayerService = mesh_tower::MeshService<
    tower::util::BoxCloneSyncService<
        HttpRequest<BoxBody>,
        Response<BoxBody>,
        std::convert::Infallible,
    >,
>;

/// The layer with one endpoint per service, carrying every subset's labels, that sends
/// each request to the upstream of the cluster the layer chose (from its `RouteInfo`).
fn layer(lab: &Lab, table: Arc<RouteTable>, seed: u64) -> LayerService {
    let ports = Arc::new(lab.ports());
    let mut backends = Backends::new();
    for (name, subsets) in SERVICES {
        let host = format!("{name}.{NAMESPACE}.svc.cluster.local");
        let labels: Vec<(String, String)> = subsets
            .iter()
            .map(|s| ((*s).to_owned(), "on".to_owned()))
            .collect();
        let client = lab.client.clone();
        let ports = ports.clone();
        let svc = service_fn(move |mut req: HttpRequest<BoxBody>| {
            let client = client.clone();
            let ports = ports.clone();
            async move {
                let info = req
                    .extensions()
                    .get::<RouteInfo>()
                    .cloned()
                    .ok_or("no RouteInfo")?;
                let cluster = cluster_name(&info.subset, &info.host, info.port);
                let port = ports
                    .get(&cluster)
                    .copied()
                    .ok_or("no upstream for the cluster")?;
                let path = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                *req.uri_mut() = format!("http://127.0.0.1:{port}{path}").parse::<Uri>()?;
                let resp = client.request(req).await?;
                Ok::<_, BoxError>(resp.map(body::boxed))
            }
        });
        backends = backends.with(&host, Endpoint::new(format!("{name}-0"), labels, svc));
    }
    let options = Options {
        listener_port: Some(PORT),
        seed: Some(seed),
        ..Options::default()
    };
    let inner =
        tower::util::BoxCloneSyncService::new(service_fn(|_req: HttpRequest<BoxBody>| async {
            let mut r = Response::new(body::full("inner"));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            Ok::<_, std::convert::Infallible>(r)
        }));
    let _guard = lab.runtime.enter();
    tower::Layer::layer(&MeshLayer::with_options(table, backends, options), inner)
}

async fn send_layer(svc: &LayerService, req: &Request, id: &str) -> Observation {
    let mut b = HttpRequest::builder()
        .method(req.method.as_str())
        .uri(req.target.as_str())
        .header("host", req.authority.as_str());
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b = b.header(ID_HEADER, id);
    let Ok(request) = b.body(body::empty()) else {
        return Observation::default();
    };
    let Ok(resp) = svc.clone().oneshot(request).await;
    let status = resp.status().as_u16();
    let response_headers = compared(
        resp.headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
        COMPARED_RESPONSE_HEADERS,
    );
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut o = Observation {
        status,
        response_headers,
        ..Observation::default()
    };
    o.read_body(&bytes);
    o
}
