//! The policies a rule carries, compiled from their Istio fields with Istio's defaults.

pub mod cluster;
pub mod cors;
pub mod direct;
pub mod fault;
pub mod headers;
pub mod local_reply;
pub mod percent;
pub mod redirect;
pub mod retry;
pub mod rewrite;
pub mod traffic;

pub use cluster::{
    ClusterPolicy, ConnectionLimits, HashKey, LoadBalancer, OutlierPolicy, RetryBudget, RetryLimit,
};
pub use cors::CorsPolicy;
pub use direct::DirectResponse;
pub use fault::{AbortFault, AbortKind, DelayFault, FaultPolicy};
pub use headers::{HeaderOp, HeaderOps, HeadersPolicy, OrderedOps, Side, ordered};
pub use local_reply::{LocalReply, ReplyTo, is_grpc_request, local_reply, modified};
pub use percent::{Denominator, Fraction};
pub use redirect::{Redirect, RedirectPath};
pub use retry::{RetryOn, RetryPolicy};
pub use rewrite::Rewrite;
pub use traffic::{PolicySet, PortPolicy, merge_traffic_policy};
