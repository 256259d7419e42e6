//! [`FaultLayer`], and the mesh layer's own [`InjectLayer`].

use std::sync::Arc;

use mesh_route::policy::FaultPolicy;
use tower::Layer;

use super::{Fault, Inject, RouteEnv};
use crate::rng::Samples;

/// Wraps a service in [`Fault`]: Istio's fault injection as an application's own tower
/// middleware.
#[derive(Clone, Debug)]
pub struct FaultLayer {
    policy: FaultPolicy,
    rng: Arc<Samples>,
}

impl FaultLayer {
    /// Injects `policy`'s faults, sampled from the clock-seeded [`Samples`].
    pub fn new(policy: FaultPolicy) -> Self {
        FaultLayer {
            policy,
            rng: Arc::new(Samples::from_entropy()),
        }
    }

    /// Samples from `rng` instead (a fixed seed makes the selected requests repeatable);
    /// the services this layer makes share it.
    pub fn with_samples(mut self, rng: Arc<Samples>) -> Self {
        self.rng = rng;
        self
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = Fault<S>;

    fn layer(&self, inner: S) -> Fault<S> {
        Fault::new(inner, self.policy).with_samples(self.rng.clone())
    }
}

/// Wraps a service in an [`Inject`] for one request's route, inside the mesh layer.
#[derive(Clone, Debug)]
pub(crate) struct InjectLayer<'a> {
    policy: FaultPolicy,
    env: RouteEnv<'a>,
}

impl<'a> InjectLayer<'a> {
    /// See [`Inject::new`].
    pub(crate) fn new(policy: FaultPolicy, env: RouteEnv<'a>) -> Self {
        InjectLayer { policy, env }
    }
}

impl<'a, S> Layer<S> for InjectLayer<'a> {
    type Service = Inject<'a, S, &'a Samples, &'a crate::flags::FlagCell>;

    fn layer(&self, inner: S) -> Self::Service {
        Inject::new(inner, self.policy, self.env.clone())
    }
}
