//! The response future of [`MeshService`](super::MeshService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

use crate::body::BoxBody;

type Inner<E> = Pin<Box<dyn Future<Output = Result<Response<BoxBody>, E>> + Send>>;

/// The future of one request through the mesh.
pub struct ResponseFuture<E> {
    inner: Inner<E>,
}

impl<E> std::fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<E: Send + 'static> ResponseFuture<E> {
    pub(crate) fn new(
        f: impl Future<Output = Result<Response<BoxBody>, E>> + Send + 'static,
    ) -> Self {
        ResponseFuture { inner: Box::pin(f) }
    }

    pub(crate) fn ready(r: Result<Response<BoxBody>, E>) -> Self {
        ResponseFuture::new(std::future::ready(r))
    }
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<Response<BoxBody>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}
