//! One request's outcome, and its count in Istio's metrics once its response has ended.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{HeaderMap, Response};

use super::RequestLabels;
use crate::balance::Cluster;
use crate::body::BoxBody;
use crate::execute::Shared;
use crate::flags::{FlagCell, ResponseFlags};
use crate::service::error::MeshError;

/// What is known of a request once it is answered, for metrics and for its local reply: the
/// request's typed context, filled by reference as it goes.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Envoy's response flags.
    pub(crate) flags: FlagCell,
    /// Where the request went, set by whichever step first knows it (read once, at the end).
    pub(crate) destination: Mutex<Destination>,
    /// The counters of the rollout whose canary the request picked, and when it did.
    pub(crate) rollout: Option<(Arc<crate::rollout::Probe>, tokio::time::Instant)>,
}

/// Where a request went, for its metrics.
#[derive(Debug, Default)]
pub(crate) struct Destination {
    /// The destination host (`unknown` in the metrics when unset).
    pub(crate) host: Option<Arc<str>>,
    /// The destination's `version` label, or its subset's name.
    pub(crate) subset_version: Option<Arc<str>>,
    /// The destination's state, when the request got that far: its metric series are
    /// cached there.
    pub(crate) cluster: Option<Arc<Cluster>>,
}

impl Outcome {
    /// Records where the request went, unless a step already did.
    pub(crate) fn set_destination(&self, set: impl FnOnce() -> Destination) {
        let mut d = self.destination.lock().unwrap_or_else(|e| e.into_inner());
        if d.host.is_none() {
            *d = set();
        }
    }

    /// Whether a step recorded where the request went.
    pub(crate) fn has_destination(&self) -> bool {
        let d = self.destination.lock().unwrap_or_else(|e| e.into_inner());
        d.host.is_some()
    }
}

/// A routed request: its result (a mesh error is answered as a local reply later), what is
/// known of it, and what Envoy puts on the local reply of a mesh error of the request (the
/// matched forwarding rule's response header operations).
#[derive(Debug)]
pub(crate) struct Routed {
    pub(crate) result: Result<Response<BoxBody>, MeshError>,
    pub(crate) outcome: Outcome,
    pub(crate) reply_headers: HeaderMap,
    /// When the request was received (its duration is measured from here).
    pub(crate) started: Instant,
    /// The flag of a response whose client goes away mid-body ([`InFlight::new`]).
    pub(crate) abandoned: ResponseFlags,
}

/// A request being answered: its outcome as the steps fill it in, and when it was received.
/// Dropped before it is answered (its caller dropped the request: a client that went away),
/// it is counted as Envoy counts such a request: response code `0`, with `DC` for an
/// HTTP/1 request (measured with Envoy 1.40: a client that closes its connection while the
/// upstream has not answered is logged `0 DC`, `downstream_remote_disconnect`), and no flag
/// for an HTTP/2 one (Envoy logs a stream the client resets `0 -`; a client that closes its
/// whole HTTP/2 connection is logged `0 DC`, which the layer cannot tell from a reset).
pub(crate) struct InFlight {
    pub(crate) shared: Arc<Shared>,
    pub(crate) outcome: Outcome,
    started: Instant,
    /// The flag of a request abandoned by its client: `DC` for HTTP/1, none for HTTP/2.
    abandoned: ResponseFlags,
    answered: bool,
}

impl InFlight {
    /// A request of HTTP version `version` received now.
    pub(crate) fn new(shared: Arc<Shared>, version: http::Version) -> Self {
        let abandoned = if version < http::Version::HTTP_2 {
            ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION
        } else {
            ResponseFlags::NONE
        };
        InFlight {
            shared,
            outcome: Outcome::default(),
            started: Instant::now(),
            abandoned,
            answered: false,
        }
    }

    /// The request is answered with `result`: counted when its response ends.
    pub(crate) fn answered(
        mut self,
        result: Result<Response<BoxBody>, MeshError>,
        reply_headers: HeaderMap,
    ) -> Routed {
        self.answered = true;
        Routed {
            result,
            outcome: std::mem::take(&mut self.outcome),
            reply_headers,
            started: self.started,
            abandoned: self.abandoned,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        Record {
            shared: self.shared.clone(),
            outcome: std::mem::take(&mut self.outcome),
            code: 0,
            grpc_status: String::new(),
            started: self.started,
        }
        .finish(self.abandoned);
    }
}

/// A request's outcome, counted in Istio's metrics once its response has ended.
pub(crate) struct Record {
    pub(super) shared: Arc<Shared>,
    pub(super) outcome: Outcome,
    pub(super) code: u16,
    pub(super) grpc_status: String,
    pub(super) started: Instant,
}

impl Record {
    /// Counts the request, with `extra` flags (how its response body ended).
    pub(crate) fn finish(mut self, extra: ResponseFlags) {
        self.outcome.flags.insert(extra);
        let flags = self.outcome.flags.get();
        let dest = std::mem::take(
            self.outcome
                .destination
                .get_mut()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let (shared, outcome, code) = (&self.shared, &self.outcome, self.code);
        let grpc_status = self.grpc_status.as_str();
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        // Fast path: the destination's cached series for this code, flags and gRPC status.
        let cached = dest
            .cluster
            .as_ref()
            .and_then(|c| c.series(code, flags, grpc_status));
        let (counter, histogram) = match cached {
            Some(series) => series,
            None => {
                let labels = request_labels(shared, &dest, flags, code, grpc_status);
                let counter = shared.metrics.requests.get_or_create(&labels).clone();
                let histogram = shared.metrics.duration.get_or_create(&labels).clone();
                if let Some(c) = &dest.cluster {
                    c.remember_series(code, flags, grpc_status, &counter, &histogram);
                }
                (counter, histogram)
            }
        };
        counter.inc();
        histogram.observe(elapsed_ms);
        if let Some((probe, picked)) = &outcome.rollout {
            probe.record(code, flags, picked.elapsed());
        }
        tracing::debug!(
            status = code,
            flags = %flags,
            destination = dest.host.as_deref().unwrap_or(""),
            "mesh request done"
        );
    }
}

/// The labels of Istio's request metrics for one outcome.
fn request_labels(
    shared: &Shared,
    dest: &Destination,
    flags: ResponseFlags,
    code: u16,
    grpc_status: &str,
) -> RequestLabels {
    let unknown = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    let host = dest.host.as_deref().unwrap_or("");
    let (name, namespace) = mesh_route::host::split_service_fqdn(host).unwrap_or((host, ""));
    RequestLabels {
        reporter: "source",
        source_workload_namespace: shared.source_namespace.clone(),
        source_app: shared.source_app.clone(),
        source_version: shared.source_version.clone(),
        destination_service: unknown(host),
        destination_service_name: unknown(name),
        destination_service_namespace: unknown(namespace),
        destination_version: unknown(dest.subset_version.as_deref().unwrap_or("")),
        request_protocol: if grpc_status.is_empty() {
            "http"
        } else {
            "grpc"
        },
        response_code: code,
        grpc_response_status: grpc_status.to_owned(),
        response_flags: flags.to_string(),
    }
}
