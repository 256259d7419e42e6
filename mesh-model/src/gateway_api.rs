//! The Kubernetes Gateway API (`gateway.networking.k8s.io`): `Gateway`, `GatewayClass`,
//! `HTTPRoute`, `GRPCRoute` and `ReferenceGrant`, field for field as the CRDs of
//! kubernetes-sigs/gateway-api v1.6.1 (experimental channel, a superset of standard) define
//! them, for every served version (`v1`, and `v1beta1` where the CRD still serves it: all
//! versions of a kind share one schema).
//!
//! Fields that the CRDs default are defaulted when read (as the API server stores them), so
//! that what is validated and compiled is what a cluster would hold. Enumerations are kept as
//! strings: the CRD validation ([`schema`]) reports values outside them with the API
//! server's message.
//!
//! - [`schema`]: the CRDs' OpenAPI constraints and `x-kubernetes-validations` CEL rules,
//!   evaluated on the resources with the API server's messages.
//! - [`binding`]: what a controller decides from the whole input: which listeners a route
//!   attaches to (parentRefs, `allowedRoutes`, hostnames), which backendRefs resolve
//!   (Services, ReferenceGrants), and the `Accepted`/`ResolvedRefs` conditions it would write
//!   into status.

mod common;
mod gateway;
mod gateway_class;
mod grpc_route;
mod http_route;
mod reference_grant;

pub mod binding;
mod cel;
pub mod schema;

pub use common::{
    BackendObjectReference, HeaderFilter, HttpHeader, LabelSelector, LabelSelectorRequirement,
    ParentReference, SelectorError, parse_duration,
};
pub use gateway::{
    AllowedListeners, AllowedRoutes, FrontendTlsValidation, Gateway, GatewayAddress,
    GatewayBackendTls, GatewayFrontendTls, GatewayTlsConfig, Infrastructure, Listener,
    ListenerNamespaces, ListenerTls, LocalParametersReference, PerPortTls, RouteGroupKind,
    RouteNamespaces, SecretObjectReference,
};
pub use gateway_class::{GatewayClass, ParametersReference};
pub use grpc_route::{
    GrpcBackendRef, GrpcHeaderMatch, GrpcMethodMatch, GrpcRoute, GrpcRouteFilter, GrpcRouteMatch,
    GrpcRouteRule,
};
pub use http_route::{
    Cors, ExternalAuth, ForwardBody, GrpcAuthConfig, HttpAuthConfig, HttpBackendRef,
    HttpHeaderMatch, HttpPathMatch, HttpPathModifier, HttpQueryParamMatch, HttpRequestMirror,
    HttpRequestRedirect, HttpRoute, HttpRouteFilter, HttpRouteMatch, HttpRouteRetry, HttpRouteRule,
    HttpRouteTimeouts, HttpUrlRewrite, LocalObjectReference, MirrorFraction, SessionPersistence,
    SessionPersistenceCookie,
};
pub use reference_grant::{ReferenceGrant, ReferenceGrantFrom, ReferenceGrantTo};

/// The API group of the Gateway API.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// The commit of kubernetes-sigs/gateway-api (tag v1.6.1) whose CRDs these types and
/// [`schema`] follow.
pub const CRD_SOURCE: &str = "kubernetes-sigs/gateway-api v1.6.1 (8bb74df00e56ec8f944d48c25e6c1c9c2f6848e3), config/crd/experimental";

/// The Gateway API resources of an input, one list per kind, each in input order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatewayApi {
    /// Gateways.
    pub gateways: Vec<crate::Resource<Gateway>>,
    /// GatewayClasses.
    pub gateway_classes: Vec<crate::Resource<GatewayClass>>,
    /// HTTPRoutes.
    pub http_routes: Vec<crate::Resource<HttpRoute>>,
    /// GRPCRoutes.
    pub grpc_routes: Vec<crate::Resource<GrpcRoute>>,
    /// ReferenceGrants.
    pub reference_grants: Vec<crate::Resource<ReferenceGrant>>,
}

impl GatewayApi {
    /// The number of resources.
    pub fn len(&self) -> usize {
        self.gateways.len()
            + self.gateway_classes.len()
            + self.http_routes.len()
            + self.grpc_routes.len()
            + self.reference_grants.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds every resource of `other`.
    pub fn extend(&mut self, other: GatewayApi) {
        self.gateways.extend(other.gateways);
        self.gateway_classes.extend(other.gateway_classes);
        self.http_routes.extend(other.http_routes);
        self.grpc_routes.extend(other.grpc_routes);
        self.reference_grants.extend(other.reference_grants);
    }

    /// The Gateway `namespace/name`.
    pub fn gateway(&self, namespace: &str, name: &str) -> Option<&crate::Resource<Gateway>> {
        self.gateways
            .iter()
            .find(|g| g.namespace() == namespace && g.name() == name)
    }
}
