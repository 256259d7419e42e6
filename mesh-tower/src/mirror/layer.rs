//! [`MirrorLayer`].

use bytes::Bytes;
use tower::Layer;

use super::Mirror;
use crate::metrics::Metrics;
use crate::rng::Samples;

/// Wraps a service in a [`Mirror`] for one request's route.
// Unused outside tests: the route composition builds its services directly (a layer
// clones what it holds into each service it makes).
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone)]
pub(crate) struct MirrorLayer<'a, F> {
    mirrors: &'a [mesh_route::Mirror],
    body: Option<Bytes>,
    env: (&'a Samples, &'a Metrics),
    send: F,
}

impl<F> std::fmt::Debug for MirrorLayer<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorLayer")
            .field("mirrors", &self.mirrors)
            .finish_non_exhaustive()
    }
}

// Unused outside tests: the route composition builds its services directly.
#[cfg_attr(not(test), allow(dead_code))]
impl<'a, F> MirrorLayer<'a, F> {
    /// See [`Mirror::new`].
    pub(crate) fn new(
        mirrors: &'a [mesh_route::Mirror],
        body: Option<Bytes>,
        env: (&'a Samples, &'a Metrics),
        send: F,
    ) -> Self {
        MirrorLayer {
            mirrors,
            body,
            env,
            send,
        }
    }
}

impl<'a, S, F: Clone> Layer<S> for MirrorLayer<'a, F> {
    type Service = Mirror<'a, S, F>;

    fn layer(&self, inner: S) -> Mirror<'a, S, F> {
        Mirror::new(
            inner,
            self.mirrors,
            self.body.clone(),
            self.env,
            self.send.clone(),
        )
    }
}
