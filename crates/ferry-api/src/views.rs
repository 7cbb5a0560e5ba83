//! From model values to response shapes.

use ferry_model::{
    CodeConfiguration, Instance, Operation, Revision, Service, ServiceSpec, Source, SourceWatch, Timestamp,
    Trigger,
};
use ferry_wire::{
    CodeSourceView, HealthCheckView, ImageSourceView, InstanceSizeView, InstanceView, OperationView,
    RevisionView, ScalingView, ServiceSummary, ServiceView, SourceView, TriggerView, WatchView,
};

use ferry_store::ScalingDecision;

use crate::AppState;

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T12:00:00.123Z`.
pub fn rfc3339(t: Timestamp) -> String {
    let nanos = i128::from(t.millis()) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(dt) => {
            let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
            let (h, mi, s, ms) = (dt.hour(), dt.minute(), dt.second(), dt.millisecond());
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
        }
        Err(_) => t.millis().to_string(),
    }
}

impl AppState {
    pub(crate) fn summary(&self, s: &Service) -> ServiceSummary {
        ServiceSummary {
            id: s.id.to_string(),
            name: s.name.to_string(),
            arn: self.config.arn.service(&s.name, &s.id),
            status: s.status.to_string(),
            url: self.config.public.service_url(&s.name),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }

    pub(crate) fn service_view(
        &self,
        s: &Service,
        active: Option<&Revision>,
        instances: &[Instance],
        latest: Option<&Operation>,
        watch: Option<&SourceWatch>,
        scaling: Option<&ScalingDecision>,
    ) -> ServiceView {
        ServiceView {
            id: s.id.to_string(),
            name: s.name.to_string(),
            arn: self.config.arn.service(&s.name, &s.id),
            status: s.status.to_string(),
            url: self.config.public.service_url(&s.name),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
            deleted_at: s.deleted_at.map(rfc3339),
            source: source_view(&s.spec),
            instance: InstanceSizeView {
                cpu: s.spec.instance.cpu().to_string(),
                memory: s.spec.instance.memory().to_string(),
            },
            health_check: HealthCheckView {
                protocol: s.spec.health_check.protocol.as_str().to_owned(),
                path: s.spec.health_check.path.clone(),
                interval: s.spec.health_check.interval,
                timeout: s.spec.health_check.timeout,
                healthy_threshold: s.spec.health_check.healthy_threshold,
                unhealthy_threshold: s.spec.health_check.unhealthy_threshold,
                grace_period: s.spec.health_check.grace_period,
            },
            protocol: s.spec.protocol.as_str().to_owned(),
            request_timeout: s.spec.request_timeout.secs(),
            is_publicly_accessible: !s.spec.private,
            serving_port: active.and_then(|r| r.run_config()).map(|c| c.port),
            read_only_root: s.spec.read_only_root,
            https_redirect: s.spec.https_redirect,
            hsts_max_age: s.spec.hsts_max_age,
            request_logs: s.spec.request_logs.to_string(),
            observability: s.spec.observability.as_ref().map(|o| format!("{}/{}", o.name, o.revision)),
            instances_desired: match (&s.spec.autoscaling, scaling) {
                (Some(_), Some(d)) => d.desired,
                _ => ferry_plan::scale::desired_instances(&s.spec),
            },
            autoscaling: s.spec.autoscaling.as_ref().map(|a| ScalingView {
                configuration: a.configuration.as_ref().map(|c| c.to_string()),
                max_concurrency: a.max_concurrency,
                min_size: a.min_size,
                max_size: a.max_size,
                ready: scaling.map(|d| d.ready),
                concurrency: scaling.map(|d| (d.concurrency * 10.0).round() / 10.0),
                reason: scaling.map(|d| d.reason.clone()),
                decided_at: scaling.map(|d| rfc3339(d.at)),
            }),
            active_revision: s.active_revision,
            image_digest: active.and_then(|r| r.image_digest.clone().or_else(|| r.image_id.clone())),
            instances: instances.iter().map(instance_view).collect(),
            latest_operation: latest.map(|o| self.operation_view(o, s)),
            auto_deploy: s.spec.source.auto_deploy(),
            watch: watch.map(|w| watch_view(&s.spec, w)),
        }
    }

    pub(crate) fn operation_view(&self, o: &Operation, s: &Service) -> OperationView {
        OperationView {
            id: o.id.to_string(),
            kind: o.kind.to_string(),
            status: o.status.to_string(),
            target_arn: self.config.arn.service(&s.name, &s.id),
            service_name: s.name.to_string(),
            revision: o.revision,
            created_at: rfc3339(o.created_at),
            started_at: o.started_at.map(rfc3339),
            ended_at: o.ended_at.map(rfc3339),
            updated_at: rfc3339(o.updated_at),
            error: o.error.clone(),
            trigger: Some(o.trigger.event(o.kind).to_owned()),
            triggered_by: Some(trigger_view(&o.trigger)),
        }
    }
}

pub(crate) fn revision_view(r: &Revision, serving: bool) -> RevisionView {
    let config = r.run_config().unwrap_or_else(|| r.spec.source.config());
    let image = match (&r.spec.source, &r.build) {
        (Source::Image(i), _) => i.image.to_string(),
        (Source::Code(_), Some(b)) => b.image.clone(),
        (Source::Code(c), None) => format!("{} ({})", c.repository, c.branch),
    };
    RevisionView {
        number: r.number,
        image,
        image_digest: r.image_digest.clone().or_else(|| r.image_id.clone()),
        created_at: rfc3339(r.created_at),
        activated_at: r.activated_at.map(rfc3339),
        serving,
        image_pruned: r.image_pruned,
        port: config.port,
        cpu: r.spec.instance.cpu().to_string(),
        memory: r.spec.instance.memory().to_string(),
        instances: r.spec.instances,
        protocol: r.spec.protocol.as_str().to_owned(),
        request_timeout: r.spec.request_timeout.secs(),
        env: env_map(&config.env),
        secrets: secret_map(&config.secrets),
        start_command: config.start_command.clone(),
        commit: r.build.as_ref().map(|b| b.commit.clone()),
        builder: r.build.as_ref().map(|b| b.builder.clone()),
    }
}

fn env_map(env: &ferry_model::EnvVars) -> std::collections::BTreeMap<String, String> {
    env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Secret references only: variable → secret name. Values never leave the store but for an instance.
fn secret_map(secrets: &ferry_model::SecretRefs) -> std::collections::BTreeMap<String, String> {
    secrets.iter().map(|(k, v)| (k.to_owned(), v.to_string())).collect()
}

fn source_view(spec: &ServiceSpec) -> SourceView {
    match &spec.source {
        Source::Image(src) => SourceView {
            image: Some(ImageSourceView {
                identifier: src.image.to_string(),
                port: src.config.port,
                env: env_map(&src.config.env),
                secrets: secret_map(&src.config.secrets),
                start_command: src.config.start_command.clone(),
                registry_username: src.credentials.as_ref().map(|c| c.username.clone()),
            }),
            code_repository: None,
        },
        Source::Code(code) => {
            let (configuration_source, builder, runtime, build_command) = match &code.configuration {
                CodeConfiguration::Repository { builder } => {
                    ("REPOSITORY", Some(builder.to_string()), None, None)
                }
                CodeConfiguration::Api { runtime, build_command } => {
                    ("API", None, Some(runtime.name().to_owned()), build_command.clone())
                }
            };
            SourceView {
                image: None,
                code_repository: Some(CodeSourceView {
                    repository_url: code.repository.clone(),
                    branch: code.branch.clone(),
                    source_directory: code.source_directory.clone(),
                    configuration_source: configuration_source.to_owned(),
                    builder,
                    runtime,
                    build_command,
                    start_command: code.config.start_command.clone(),
                    port: code.config.port,
                    env: env_map(&code.config.env),
                    secrets: secret_map(&code.config.secrets),
                    credentials: code.credentials.as_ref().map(|c| c.kind().to_owned()),
                    connection: code.connection.clone(),
                }),
            }
        }
    }
}

fn trigger_view(t: &Trigger) -> TriggerView {
    let encoded = t.encode();
    let kind = encoded.split(' ').next().unwrap_or_default().to_owned();
    let mut view =
        TriggerView { kind, commit: None, image_digest: None, via: None, author: None, subject: None };
    match t {
        Trigger::GitPush { commit, author, subject, via } => {
            view.commit = Some(commit.clone());
            view.author = author.clone();
            view.subject = subject.clone();
            view.via = Some(via.to_string());
        }
        Trigger::ImagePush { digest, via } => {
            view.image_digest = Some(digest.clone());
            view.via = Some(via.to_string());
        }
        _ => {}
    }
    view
}

/// What is known of the service's watched branch or tag.
pub(crate) fn watch_view(spec: &ServiceSpec, w: &SourceWatch) -> WatchView {
    let watching = match &spec.source {
        Source::Code(c) => format!("branch {}", c.branch),
        Source::Image(i) => match i.image.digest() {
            Some(_) => "nothing: the image is pinned by digest".to_owned(),
            None => format!("tag {}", i.image.pull_tag()),
        },
    };
    let seen = w.seen.as_ref();
    WatchView {
        watching,
        seen: seen.map(|s| s.version.to_string()),
        seen_at: seen.map(|s| rfc3339(s.at)),
        seen_via: seen.map(|s| s.via.to_string()),
        seen_author: seen.and_then(|s| s.author.clone()),
        seen_subject: seen.and_then(|s| s.subject.clone()),
        checked_at: w.checked_at.map(rfc3339),
        check_error: w.check_error.clone(),
        ignored_at: w.ignored.as_ref().map(|i| rfc3339(i.at)),
        ignored_reason: w.ignored.as_ref().map(|i| i.reason.clone()),
    }
}

fn instance_view(i: &Instance) -> InstanceView {
    InstanceView {
        id: i.id.to_string(),
        revision: i.revision,
        state: i.state.to_string(),
        address: i.address.as_ref().map(|a| a.endpoint.to_string()),
        node: i.address.as_ref().map(|a| a.node.clone()).filter(|n| !n.is_empty()),
        container_id: i.container_id.clone(),
        since: rfc3339(i.state_since),
        detail: i.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339(Timestamp(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(Timestamp(1_795_000_000_123)), "2026-11-18T11:06:40.123Z");
    }
}
