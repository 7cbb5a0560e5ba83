//! App Runner's VPC connectors and VPC ingress connections, refused with what to use instead.
//!
//! They connect a service to the customer's Amazon VPC, which a ferry host does not have. What they are
//! for is covered differently: each service has its own Docker network; `IsPubliclyAccessible=false`
//! makes a service private, reachable from the other services through the router's internal listener
//! only; egress is the host's own network. The operations are answered (not "unknown operation"), so a
//! client learns this rather than that ferry is behind.

use crate::error::AwsError;

/// The VPC operations: each is answered with [`refusal`].
pub(crate) const OPERATIONS: &[&str] = &[
    "CreateVpcConnector",
    "DescribeVpcConnector",
    "ListVpcConnectors",
    "DeleteVpcConnector",
    "CreateVpcIngressConnection",
    "DescribeVpcIngressConnection",
    "ListVpcIngressConnections",
    "UpdateVpcIngressConnection",
    "DeleteVpcIngressConnection",
];

pub(crate) fn refusal(operation: &str) -> AwsError {
    let what = if operation.contains("Ingress") {
        "VPC ingress connections are not supported by ferry: there is no Amazon VPC to reach a service \
         from. To make a service private, set NetworkConfiguration.IngressConfiguration.IsPubliclyAccessible \
         to false: it is then reachable only from other services, through the router's internal listener"
    } else {
        "VPC connectors are not supported by ferry: there is no Amazon VPC to send a service's traffic \
         into. A service's outgoing traffic leaves through the host's own network (EgressType DEFAULT); \
         each service has its own network, and services reach each other through the router"
    };
    AwsError::invalid(format!("{operation}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vpc_operation_is_refused_with_what_to_do_instead() {
        for op in OPERATIONS {
            let e = refusal(op);
            assert_eq!(e.code, "InvalidRequestException");
            assert!(e.message.starts_with(op), "{}", e.message);
            assert!(e.message.contains("not supported"), "{}", e.message);
        }
        assert!(refusal("ListVpcIngressConnections").message.contains("IsPubliclyAccessible"));
        assert!(refusal("ListVpcConnectors").message.contains("EgressType DEFAULT"));
    }
}
