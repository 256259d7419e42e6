//! [`FaultLayer`].

use mesh_route::policy::FaultPolicy;
use tower::Layer;

use super::{Fault, Reply};
use crate::flags::FlagCell;
use crate::rng::Samples;

/// Wraps a service in a [`Fault`] for one request's route.
#[derive(Clone, Debug)]
pub(crate) struct FaultLayer<'a> {
    policy: FaultPolicy,
    reply: Reply<'a>,
    rng: &'a Samples,
    flags: &'a FlagCell,
}

impl<'a> FaultLayer<'a> {
    /// See [`Fault::new`].
    pub(crate) fn new(
        policy: FaultPolicy,
        reply: Reply<'a>,
        rng: &'a Samples,
        flags: &'a FlagCell,
    ) -> Self {
        FaultLayer {
            policy,
            reply,
            rng,
            flags,
        }
    }
}

impl<'a, S> Layer<S> for FaultLayer<'a> {
    type Service = Fault<'a, S>;

    fn layer(&self, inner: S) -> Fault<'a, S> {
        Fault::new(inner, self.policy, self.reply.clone(), self.rng, self.flags)
    }
}
