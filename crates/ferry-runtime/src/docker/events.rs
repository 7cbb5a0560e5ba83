//! The engine's event stream, narrowed to ferry's containers dying.

use std::collections::HashMap;
use std::future::ready;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::engine::Engine;
use super::error;
use crate::{Result, RuntimeEvent, labels};

pub(super) fn subscribe(engine: &Engine) -> BoxStream<'static, Result<RuntimeEvent>> {
    // "From now on" means from this call, not from when the stream is first polled (the request is
    // only sent then): the engine replays what happened since the given time, to the nanosecond.
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
    let filters = HashMap::from([
        ("type", vec!["container".to_owned()]),
        ("event", vec!["die".to_owned()]),
        ("label", labels::owner_filters(&engine.options.owner)),
    ]);
    let options = EventsOptionsBuilder::default().since(&since).filters(&filters).build();
    let mut failed = false;
    engine
        .docker
        .events(Some(options))
        .filter_map(|message| ready(message.map(died).map_err(error::engine).transpose()))
        // The first error ends the stream: the connection to the engine is gone.
        .take_while(move |item| {
            let go_on = !failed;
            failed |= item.is_err();
            ready(go_on)
        })
        .boxed()
}

/// A `die` event as a [`RuntimeEvent::Died`]; `None` for anything else.
fn died(message: EventMessage) -> Option<RuntimeEvent> {
    if message.action.as_deref() != Some("die") {
        return None;
    }
    let actor = message.actor?;
    let container_id = actor.id?;
    let attributes = actor.attributes.unwrap_or_default();
    let exit_code = attributes.get("exitCode").and_then(|code| code.parse().ok());
    // The actor's attributes hold the container's labels, next to `exitCode`, `image` and `name`.
    let identity = labels::identity(&attributes);
    Some(RuntimeEvent::Died { container_id, identity, exit_code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessageTypeEnum};

    fn die_event(attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some("die".to_owned()),
            actor: Some(EventActor {
                id: Some("c0ffee".to_owned()),
                attributes: Some(attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn die_events_carry_the_exit_code_and_identity() {
        let event = die_event(&[
            ("exitCode", "3"),
            ("image", "sha256:abc"),
            ("ferry.managed", "true"),
            ("ferry.service", "web-app"),
            ("ferry.service-id", "8fe1e10304f84fd2b0df550fe98a71fa"),
            ("ferry.revision", "2"),
            ("ferry.instance", "0123456789abcdef"),
        ]);
        let Some(RuntimeEvent::Died { container_id, identity, exit_code }) = died(event) else {
            panic!("a die event is a death");
        };
        assert_eq!(container_id, "c0ffee");
        assert_eq!(exit_code, Some(3));
        let identity = identity.expect("labels give the identity");
        assert_eq!(identity.service_name.as_str(), "web-app");
        assert_eq!(identity.revision, 2);
    }

    #[test]
    fn other_events_and_odd_attributes_are_tolerated() {
        let mut start = die_event(&[]);
        start.action = Some("start".to_owned());
        assert_eq!(died(start), None);
        let Some(RuntimeEvent::Died { identity, exit_code, .. }) = died(die_event(&[("exitCode", "x")]))
        else {
            panic!("a die event is a death");
        };
        assert_eq!((identity, exit_code), (None, None));
    }
}
