//! `/v1/services/{name}/metrics`: a service's recent requests, errors, latency, instances, CPU and memory.

use ferry_wire::MetricsView;
use http::Method;

use crate::{Client, Result, segment};

impl Client {
    /// The service's points of the last `minutes` (1 to 60), oldest first.
    pub async fn metrics(&self, name: &str, minutes: u32) -> Result<MetricsView> {
        let path = format!("/v1/services/{}/metrics?minutes={minutes}", segment(name));
        self.call(Method::GET, &path, None).await
    }
}
